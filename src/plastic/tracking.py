"""Logging runs to tracking stores: the `logger` config group (none, mlflow, tensorboard, many).

- mlflow: one MLflow run per plastic run (a sweep: a parent run, a child per job, named from
  its overrides); params the resolved config, flattened; metrics every record at its step and
  the final ones (`final/NAME`); tags the git commit, the recipe, plastic's version, the rule's
  distribution and version, and the verdict; artifacts the run folder's config.yaml, run.log,
  pictures, GIFs, weights, metrics and summary. `logger.mlflow.tracking_uri` takes any MLflow
  URI; the default is an embedded SQLite store under outputs/ (no server).
- tensorboard: event files in the run folder (`tensorboard/`): the scalars at every record,
  the receptive-field mosaic as an image at the GIF's pace (at most about viz.gif_max_frames
  images a run), the config as text, and the final figures (`final/NAME`) at the last step.

The loggers run off the training loop, in a process of their own (`TrackingProcess`): a record
costs the loop a copy of its row kept in a list, sent every `SEND_SECONDS`. The tracking
process imports MLflow and TensorBoard while the run starts, writes the records in batches as
they come, and everything left at the run's end, on Ctrl-C or SIGTERM alike (it ignores those
signals and ends when the run tells it to). If the run's process dies (kill -9), it ends the
tracked run as KILLED with what it received.

A logger that fails (an unreachable server, a full disk) costs one warning line and is dropped;
the run goes on and its folder is complete. Both need the `tracking` extra.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import json
import logging
import math
import os
import queue
import signal
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from plastic.errors import UserError

log = logging.getLogger("plastic")
EXTRA = "pip install 'plastic[tracking]'"
PARENT_FILE = "mlflow_parent_run.json"  # in a sweep's folder: the parent run and its store
SEND_SECONDS = 0.25  # a run sends its records to the tracking process this often
END_TIMEOUT = 300.0  # the longest a run waits for its records to be written at its end
ARTIFACTS = (".png", ".gif", ".svg", ".csv", ".json", ".npz", ".log")


def check_available(cfg: Any) -> None:
    """One line, before any work, when a chosen logger's library is not installed (looked up,
    not imported: the run's process never imports them)."""
    for name, module in (("mlflow", "mlflow"), ("tensorboard", "tensorboard")):
        if cfg.get(name) is not None and not _installed(module):
            raise UserError(f"logger={name} needs {module}, which is not installed: {EXTRA}")


def _installed(module: str) -> bool:
    import sys

    if module in sys.modules:
        return sys.modules[module] is not None  # None: hidden on purpose (tests do that)
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def default_store(outputs: Path) -> tuple[str, str]:
    """The embedded MLflow store: a SQLite file and an artifact folder under outputs/."""
    outputs = Path(outputs).resolve()
    outputs.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{outputs / 'mlflow.db'}", (outputs / "mlartifacts").as_uri()


# ----------------------------------------------------------------------------- what a run sends
@dataclass(frozen=True)
class RunSpec:
    """Everything the tracking process needs to know of a run, as plain data."""

    mlflow: dict | None  # the logger.mlflow section, or None
    tensorboard: dict | None
    run_dir: str
    sweep_dir: str | None
    run_name: str
    params: dict[str, str]  # the resolved config, flattened
    config_yaml: str
    tags: dict[str, str]
    outputs: str  # where the default MLflow store lives (outputs/ of the working folder)


def run_spec(
    cfg, run_dir: Path, sweep_dir: Path | None, task_overrides: list[str], tags: dict[str, str]
) -> RunSpec:
    """The spec of a run: named by its overrides within a sweep, by its folder alone."""
    shown = [o for o in task_overrides if not o.split("=")[0].lstrip("+~").startswith("hydra.")]
    name = " ".join(shown) if sweep_dir is not None and shown else Path(run_dir).name
    sections = {k: cfg.logger.get(k) for k in ("mlflow", "tensorboard")}
    plain = {
        k: OmegaConf.to_container(v, resolve=True) if v is not None else None
        for k, v in sections.items()
    }
    text = OmegaConf.to_yaml(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]))
    return RunSpec(
        plain["mlflow"],
        plain["tensorboard"],
        str(run_dir),
        str(sweep_dir) if sweep_dir is not None else None,
        name,
        flat_params(cfg),
        text,
        tags,
        str(Path("outputs").resolve()),
    )


def flat_params(cfg) -> dict[str, str]:
    """The resolved config without Hydra's node, flattened to dotted keys."""
    container = OmegaConf.to_container(cfg, resolve=True)
    container.pop("hydra", None)
    flat: dict[str, str] = {}

    def walk(node, prefix):
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            flat[prefix[:-1]] = str(node)[:5000]

    walk(container, "")
    return flat


@dataclass(frozen=True)
class FrameSpec:
    """How a record's fields become TensorBoard's image, as the GIF draws them: every
    `every`-th record (so that a run has at most about viz.gif_max_frames images)."""

    layout: Any  # plastic.rule.Layout
    max_tiles: int
    tile_pixels: int
    every: int = 1

    @classmethod
    def for_run(cls, layout, viz_cfg, total_steps: int, record_every: int) -> FrameSpec:
        records = -(-total_steps // max(1, record_every))
        every = max(1, -(-records // max(1, viz_cfg.gif_max_frames)))
        return cls(layout, viz_cfg.max_tiles, viz_cfg.tile_pixels, every)


# ----------------------------------------------------------------------------- the run's side
class TrackingProcess:
    """The loggers of one run, in a process of their own; `begin`, `record` and `end` are what
    the run calls. The process may be started before the run's config is known (`prewarm`):
    it imports its libraries while the run starts up. A feeder thread sends the queued
    messages, so a record never waits for the pipe, however busy the tracking process is."""

    def __init__(self, kinds: tuple[str, ...], existing_store: str | None = None):
        import multiprocessing

        self.kinds = tuple(kinds)
        context = multiprocessing.get_context("spawn")  # no fork of a process with threads
        receiving, self._sending = context.Pipe(duplex=False)
        self._replies, replying = context.Pipe(duplex=False)
        self.process = context.Process(
            target=serve,
            args=(self.kinds, receiving, replying, existing_store),
            name="plastic-tracking",
        )
        self.process.start()
        receiving.close()  # the tracking process holds the only reader: EOF when we are gone
        replying.close()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._feeder = threading.Thread(
            target=self._feed, name="plastic-tracking-feeder", daemon=True
        )
        self._feeder.start()
        self.frames: FrameSpec | None = None
        self._records = 0  # records so far (every frames.every-th carries its fields)
        self._batch: list[tuple] = []  # records not yet sent
        self._send_at = time.monotonic() + SEND_SECONDS
        self.begun = self.ended = False

    def begin(self, spec: RunSpec) -> None:
        """The run it tracks (a process tracks one run)."""
        self.begun = True
        self._queue.put(("spec", spec))

    def close(self) -> None:
        """End a process that tracked no run (the run was refused, or chose other loggers)."""
        if not self.begun and not self.ended:
            self.ended = True
            self._queue.put(("end", None))
            self._feeder.join(10.0)
            self.process.join(10.0)
            if self.process.is_alive():
                self.process.terminate()

    def _feed(self) -> None:
        while True:
            message = self._queue.get()
            try:
                self._sending.send(message)
            except (OSError, EOFError):  # the tracking process is gone: drop what is left
                return
            if message[0] in ("end", "abort"):
                return

    def draw_frames(self, frames: FrameSpec) -> None:
        """Send each record's fields, drawn there as TensorBoard's image."""
        self.frames = frames
        self._queue.put(("frames", frames))

    def record(self, step: int, row: dict[str, float], fields: np.ndarray) -> None:
        """Keep a record; every SEND_SECONDS the kept ones go to the tracking process as one
        message (one pickle, one wake-up of the feeder, whatever the pace of the records)."""
        shown = None
        if self.frames is not None and self._records % self.frames.every == 0:
            shown = np.array(fields[: self.frames.max_tiles], dtype=np.float32)  # a copy
        self._records += 1
        self._batch.append((int(step), dict(row), shown))
        if time.monotonic() >= self._send_at:
            self._send_batch()

    def flush(self) -> None:
        """Send the records kept so far now (training has ended: they are written while the
        run evaluates and draws)."""
        self._send_batch()

    def _send_batch(self) -> None:
        if self._batch:
            self._queue.put(("records", self._batch))
            self._batch = []
        self._send_at = time.monotonic() + SEND_SECONDS

    def end(self, summary: dict, timeout: float = END_TIMEOUT) -> None:
        """Write what is left and end the tracked runs with the run's status; the warnings of
        a logger that failed on the way are logged here, a line each."""
        if self.ended:
            return
        self.ended = True
        self._send_batch()
        self._queue.put(("end", _plain_summary(summary)))
        self._finish(timeout)

    def abort(self, status: str, timeout: float = 30.0) -> None:
        """The run ended by an exception: its tracked runs end as `status` (FAILED, KILLED)."""
        if self.ended:
            return
        self.ended = True
        self._send_batch()
        self._queue.put(("abort", status))
        self._finish(timeout)

    def _finish(self, timeout: float) -> None:
        self._feeder.join(timeout)
        deadline, done = time.monotonic() + timeout, False
        while not done:
            try:
                if not self._replies.poll(max(0.0, deadline - time.monotonic())):
                    break  # the deadline passed
                kind, text = self._replies.recv()
            except (OSError, EOFError):  # the tracking process is gone
                done = True
                break
            if kind == "warning":
                log.warning("%s", text)
            done = kind == "done"
        if not done:
            log.warning(
                "the tracking stores took over %.0f s; their last records may be "
                "missing (the run folder is complete)",
                timeout,
            )
            self.process.terminate()
        self.process.join(10.0)  # done: it exits at once
        self._replies.close()
        self._sending.close()


def _plain_summary(summary: dict) -> dict:
    return json.loads(json.dumps(summary, default=str))


def chosen(cfg) -> tuple[str, ...]:
    """The loggers a config chooses."""
    return tuple(k for k in ("mlflow", "tensorboard") if cfg.logger.get(k) is not None)


def prewarm(arguments: list[str]) -> TrackingProcess | None:
    """A tracking process for the loggers that a single run's command line names
    (`logger=mlflow|tensorboard|many`), started before Hydra composes the config, so that
    MLflow's and TensorBoard's imports overlap the run's start-up; None for any other line."""
    named = [a.split("=", 1)[1] for a in arguments if a.startswith("logger=")]
    kinds = {
        "mlflow": ("mlflow",),
        "tensorboard": ("tensorboard",),
        "many": ("mlflow", "tensorboard"),
    }.get(named[-1] if named else "", ())
    if not kinds or any(not _installed(k) for k in kinds):
        return None  # the run itself says which library is missing, in one line
    # the default store, when it exists already and the line names no other, is opened too
    # (read only: a refused run must change nothing)
    store = Path("outputs", "mlflow.db").resolve()
    named_store = any(a.startswith("logger.mlflow.tracking_uri=") for a in arguments)
    usable = store.is_file() and store.stat().st_size > 0  # an empty file would be set up
    existing = str(store) if "mlflow" in kinds and not named_store and usable else None
    return TrackingProcess(kinds, existing)


def start(
    cfg,
    run_dir: Path,
    sweep_dir: Path | None,
    task_overrides: list[str],
    tags: dict[str, str],
    warm: TrackingProcess | None = None,
) -> TrackingProcess | None:
    """The run's tracking process (`warm` when it was started for these loggers), begun on
    this run; None when no logger is chosen."""
    kinds = chosen(cfg)
    if not kinds:
        return None
    usable = warm is not None and not warm.begun and set(kinds) <= set(warm.kinds)
    process = warm if usable else TrackingProcess(kinds)
    process.begin(run_spec(cfg, run_dir, sweep_dir, task_overrides, tags))
    return process


# ----------------------------------------------------------------------------- the other side
def serve(kinds: tuple[str, ...], receiving, replying, existing_store: str | None = None):
    """The tracking process: import the loggers' libraries (and open `existing_store`, an
    MLflow SQLite file, for reading), learn which run it tracks, take records as they come,
    write them in batches, end the tracked runs when the run ends (or when its process is
    gone)."""
    # Ctrl-C reaches every process of the terminal, SIGTERM every process of a SLURM step:
    # the run decides when tracking ends, so that its last records are written
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # the libraries' own chatter (retries, deprecations) stays here: a failure is one line,
    # sent to the run, which logs it
    # learning first where cores are few: the imports and writes take what the run leaves
    with contextlib.suppress(OSError, AttributeError):
        os.nice(19)
    logging.basicConfig(handlers=[logging.NullHandler()], force=True)
    warnings.simplefilter("ignore")
    _without_telemetry()
    inbox: queue.Queue = queue.Queue()

    def read():  # the pipe is emptied as fast as it fills, whatever the loggers are doing
        while True:
            try:
                inbox.put(receiving.recv())
            except (EOFError, OSError):
                inbox.put(("gone",))
                return

    threading.Thread(target=read, daemon=True).start()
    _import_libraries(kinds)
    opened = _open_store(existing_store) if existing_store else {}
    first = inbox.get()
    if first[0] != "spec":  # no run to track: refused before it began, or other loggers
        return
    spec = first[1]
    loggers = Loggers(spec, replying, opened)
    loggers.start()
    while True:
        # what has come meanwhile is written in one batch, messages kept in their order
        messages = [inbox.get()]
        with contextlib.suppress(queue.Empty):
            while True:
                messages.append(inbox.get_nowait())
        pending: list[tuple] = []
        for message in messages:
            kind = message[0]
            if kind == "records":
                pending.extend(message[1])
                continue
            loggers.records(pending)
            pending = []
            if kind == "frames":
                loggers.frames = message[1]
            elif kind in ("end", "abort", "gone"):
                if kind == "end":
                    loggers.end(message[1])
                else:
                    loggers.abort("KILLED" if kind == "gone" else message[1])
                with contextlib.suppress(OSError):
                    replying.send(("done", ""))
                    replying.close()
                # everything is written and closed: skip the interpreter's teardown of MLflow,
                # SQLAlchemy and TensorBoard (most of a second), which the run would wait for
                os._exit(0)
        loggers.records(pending)


def _without_telemetry() -> None:
    """MLflow's usage telemetry would call out to the network: plastic sends nothing anywhere
    but to the stores its config names (set before MLflow is imported)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")


def _import_libraries(kinds: tuple[str, ...]) -> None:
    """What the loggers will need, imported before the run's records come (a library that
    fails to import fails again, with its reason, when its logger starts)."""
    modules = {
        "mlflow": ("mlflow.tracking", "mlflow.entities", "mlflow.store.tracking.sqlalchemy_store"),
        "tensorboard": (
            "tensorboard.summary.writer.event_file_writer",
            "tensorboard.compat.proto.summary_pb2",
            "plastic.pictures.primitives",
            "PIL.Image",
        ),
    }
    for kind in kinds:
        for module in modules.get(kind, ()):
            with contextlib.suppress(Exception):
                importlib.import_module(module)


def _open_store(path: str) -> dict:
    """{uri: client} of an MLflow SQLite store that exists, opened (schema checked) for
    reading before the run needs it; {} when it cannot be."""
    uri = f"sqlite:///{path}"
    try:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=uri)
        client.search_experiments(max_results=1)  # builds the store: engine, schema check
    except Exception:  # the run's own connection says what is wrong, if anything
        return {}
    return {uri: client}


class Loggers:
    """The chosen loggers behind one face; each call guarded, so a failure costs a line."""

    def __init__(self, spec: RunSpec, replying, opened: dict | None = None):
        self.spec, self.replying, self.frames = spec, replying, None
        self.loggers: list[Any] = []
        if spec.mlflow is not None:
            self.loggers.append(MLflowLogger(spec, opened or {}))
        if spec.tensorboard is not None:
            self.loggers.append(TensorBoardLogger(spec, self))

    def _each(self, method: str, *args) -> None:
        for logger in list(self.loggers):
            try:
                getattr(logger, method)(*args)
            except Exception as error:  # never the run's end: say so once, and go on without
                self.loggers.remove(logger)
                reason = " ".join(str(error).split())[:300] or type(error).__name__
                with contextlib.suppress(OSError):
                    self.replying.send(
                        (
                            "warning",
                            f"logger={logger.name} failed ({reason}); the run goes on without it",
                        )
                    )

    def start(self) -> None:
        self._each("start")

    def records(self, records: list[tuple]) -> None:
        if records:
            self._each("records", records)

    def end(self, summary: dict) -> None:
        self._each("end", summary)

    def abort(self, status: str) -> None:
        self._each("abort", status)

    def image(self, fields: np.ndarray) -> np.ndarray:
        """The fields' mosaic, as the GIF draws it."""
        from plastic.pictures import primitives as viz
        from plastic.pictures.fields import grid_for, tile_shape_for

        frames = self.frames
        shape = tile_shape_for(frames.layout, fields.shape[1])
        grid = grid_for(frames.layout, len(fields), len(fields))
        return viz.fields_frame(fields, shape, frames.tile_pixels, "", grid)


# ----------------------------------------------------------------------------- MLflow
class MLflowLogger:
    name = "mlflow"

    def __init__(self, spec: RunSpec, opened: dict):
        self.spec, self.cfg, self.opened = spec, spec.mlflow, opened
        self.client = self.run_id = None

    def start(self) -> None:
        spec = self.spec
        sweep_dir = Path(spec.sweep_dir) if spec.sweep_dir else None
        # a sweep's jobs start side by side: one at a time creates the store and the parent
        with _one_at_a_time(sweep_dir):
            self.client, experiment, uri = connect(self.cfg, Path(spec.outputs), self.opened)
            parent = sweep_dir and parent_run(self.client, experiment, sweep_dir, uri)
        tags = {"mlflow.runName": spec.run_name, "plastic.run_dir": spec.run_dir, **spec.tags}
        if spec.tags.get("plastic.git_commit"):
            tags["mlflow.source.git.commit"] = spec.tags["plastic.git_commit"]
        if parent:
            tags["mlflow.parentRunId"] = parent
        self.run_id = self.client.create_run(experiment, tags=tags).info.run_id
        params = sorted(spec.params.items())
        from mlflow.entities import Param

        for start in range(0, len(params), 100):  # MLflow takes at most 100 params a call
            batch = [Param(k, v) for k, v in params[start : start + 100]]
            self.client.log_batch(self.run_id, params=batch)

    def records(self, records: list[tuple]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [
            Metric(k, float(v), now, step)
            for step, row, _ in records
            for k, v in row.items()
            if k not in ("step", "epoch") and _finite(v)
        ]
        for start in range(0, len(metrics), 1000):  # MLflow takes at most 1,000 a call
            self.client.log_batch(self.run_id, metrics=metrics[start : start + 1000])

    def end(self, summary: dict) -> None:
        final = summary.get("metrics") or {}
        step = int(summary.get("steps") or 0)
        self.records([(step, {f"final/{k}": v for k, v in final.items()}, None)])
        if summary.get("verdict"):
            self.client.set_tag(self.run_id, "plastic.verdict", summary["verdict"])
        if self.cfg["artifacts"]:
            run_dir = Path(self.spec.run_dir)
            config = run_dir / ".hydra" / "config.yaml"
            if config.exists():
                self.client.log_artifact(self.run_id, str(config))
            for path in sorted(run_dir.iterdir()):
                if path.is_file() and path.suffix in ARTIFACTS and path.name != "checkpoint.npz":
                    self.client.log_artifact(self.run_id, str(path))
        self.client.set_terminated(self.run_id, run_status(summary.get("status")))

    def abort(self, status: str) -> None:
        if self.run_id is not None:
            self.client.set_terminated(self.run_id, status)


def run_status(status: str | None) -> str:
    """A plastic status as MLflow's: completed FINISHED, interrupted KILLED, else FAILED."""
    return {"completed": "FINISHED", "interrupted": "KILLED"}.get(status or "", "FAILED")


def connect(cfg: dict, outputs: Path, opened: dict | None = None):
    """The MLflow client (`opened[uri]` when the store is open already), the experiment id
    (created with its artifact folder when new) and the store's URI."""
    # a server that does not answer is a warning line within seconds, not minutes of retries
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    from mlflow.tracking import MlflowClient

    for name in ("mlflow", "alembic"):  # their set-up chatter (creating tables ...)
        logging.getLogger(name).setLevel(logging.WARNING)

    uri, artifacts = cfg["tracking_uri"], None
    if uri is None:
        uri, artifacts = default_store(outputs)
    _check_sqlite(uri)
    client = (opened or {}).get(uri) or MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(cfg["experiment_name"])
    if found is not None:
        return client, found.experiment_id, uri
    created = client.create_experiment(cfg["experiment_name"], artifact_location=artifacts)
    return client, created, uri


def _check_sqlite(uri: str, key: str = "logger.mlflow.tracking_uri") -> None:
    """A SQLite store whose file cannot be made is refused at once (MLflow would retry for
    minutes)."""
    if not uri.startswith("sqlite:///"):
        return
    path = Path(uri.removeprefix("sqlite:///"))
    if path.is_dir() or not path.parent.is_dir() or not os.access(path.parent, os.W_OK):
        raise ValueError(
            f"{key}={uri} cannot be written: it needs a file in a folder that exists and can "
            "be written"
        )
    if path.exists() and not os.access(path, os.W_OK):
        raise ValueError(f"{key}={uri} cannot be written (read-only file)")


@contextlib.contextmanager
def _one_at_a_time(sweep_dir: Path | None):
    """A lock that the jobs of one sweep take in turn (a file lock in the sweep's folder)."""
    if sweep_dir is None:
        yield
        return
    try:
        import fcntl
    except ImportError:  # not POSIX: the jobs of a sweep take their chance
        yield
        return
    with open(Path(sweep_dir) / ".mlflow.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def parent_run(client, experiment: str, sweep_dir: Path, uri: str) -> str | None:
    """The sweep's parent run: made by the first job that needs it, its id and store kept in
    the sweep's folder for the others (each job may run in its own process) and for the end
    of the sweep, which sets its status."""
    marker = Path(sweep_dir) / PARENT_FILE
    if marker.exists():
        return json.loads(marker.read_text()).get("run_id")
    tags = {"mlflow.runName": Path(sweep_dir).name, "plastic.sweep_dir": str(sweep_dir)}
    run = client.create_run(experiment, tags=tags)
    from plastic.artifacts import write_json

    write_json(marker, {"run_id": run.info.run_id, "tracking_uri": uri})
    return run.info.run_id


def end_sweep(sweep_dir: Path, status: str) -> None:
    """End a sweep's parent run with the sweep's status (FINISHED, FAILED, KILLED); nothing
    when the sweep tracked nothing. A store that fails costs a line."""
    marker = Path(sweep_dir) / PARENT_FILE
    if not marker.exists():
        return
    try:
        recorded = json.loads(marker.read_text())
        _without_telemetry()
        from mlflow.tracking import MlflowClient

        MlflowClient(tracking_uri=recorded["tracking_uri"]).set_terminated(
            recorded["run_id"], status
        )
    except Exception as error:
        reason = " ".join(str(error).split())[:300] or type(error).__name__
        log.warning("logger=mlflow: the sweep's parent run could not be ended (%s)", reason)


# ----------------------------------------------------------------------------- TensorBoard
class TensorBoardLogger:
    name = "tensorboard"

    def __init__(self, spec: RunSpec, loggers: Loggers):
        self.spec, self.cfg, self.loggers, self.writer = spec, spec.tensorboard, loggers, None

    def start(self) -> None:
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        self.writer = EventFileWriter(str(Path(self.spec.run_dir) / "tensorboard"))
        self._event(0, [_text_value("config", self.spec.config_yaml)])

    def _event(self, step: int, values: list) -> None:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary

        self.writer.add_event(
            Event(wall_time=time.time(), step=step, summary=Summary(value=values))
        )

    def records(self, records: list[tuple]) -> None:
        from tensorboard.compat.proto.summary_pb2 import Summary

        for step, row, fields in records:
            values = [
                Summary.Value(tag=k, simple_value=float(v))
                for k, v in row.items()
                if k not in ("step", "epoch") and _finite(v)
            ]
            if self.cfg["images"] and fields is not None and self.loggers.frames is not None:
                image = _png(self.loggers.image(fields))
                values.append(Summary.Value(tag="receptive_fields", image=image))
            self._event(step, values)
        self.writer.flush()

    def end(self, summary: dict) -> None:
        final = summary.get("metrics") or {}
        step = int(summary.get("steps") or 0)
        self.records([(step, {f"final/{k}": v for k, v in final.items()}, None)])
        self.writer.close()

    def abort(self, status: str) -> None:
        if self.writer is not None:
            self.writer.close()


def _text_value(tag: str, text: str):
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.compat.proto.tensor_pb2 import TensorProto
    from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto

    tensor = TensorProto(
        dtype=7, string_val=[text.encode()], tensor_shape=TensorShapeProto()
    )  # 7: DT_STRING
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="text"))
    return Summary.Value(tag=tag, tensor=tensor, metadata=metadata)


def _png(rgb: np.ndarray):
    from PIL import Image
    from tensorboard.compat.proto.summary_pb2 import Summary

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    height, width = rgb.shape[:2]
    return Summary.Image(
        height=height, width=width, colorspace=3, encoded_image_string=buffer.getvalue()
    )


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
