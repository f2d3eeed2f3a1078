"""Logging runs to tracking stores: the `logger` config group (none, mlflow, tensorboard, many).

- mlflow: one MLflow run per plastic run (a sweep: a parent run, a child per job); params the
  resolved config, flattened; metrics every record at its step and the final ones
  (`final/NAME`); artifacts the run folder's pictures, GIFs, weights, metrics and summary.
  `logger.mlflow.tracking_uri` takes any MLflow URI; the default is an embedded SQLite store
  under outputs/ (no server).
- tensorboard: event files in the run folder (`tensorboard/`): the scalars at every record, the
  receptive-field mosaic as an image at every record, the config as text.

A logger that fails (an unreachable server, a full disk) costs one warning line and is dropped;
the run goes on and its folder is complete. Both need the `tracking` extra.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from plastic.errors import UserError

log = logging.getLogger("plastic")
EXTRA = "pip install 'plastic[tracking]'"
PARENT_FILE = "mlflow_parent_run.txt"  # in a sweep's folder: the parent run's id


def check_available(cfg: Any) -> None:
    """One line, before any work, when a chosen logger's library is not installed."""
    for name, module in (("mlflow", "mlflow"), ("tensorboard", "tensorboard")):
        if cfg.get(name) is not None:
            try:
                __import__(module)
            except ImportError:
                raise UserError(
                    f"logger={name} needs {module}, which is not installed: {EXTRA}"
                ) from None


def default_store(outputs: Path) -> tuple[str, str]:
    """The embedded MLflow store: a SQLite file and an artifact folder under outputs/."""
    outputs = Path(outputs).resolve()
    outputs.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{outputs / 'mlflow.db'}", (outputs / "mlartifacts").as_uri()


# ----------------------------------------------------------------------------- the loggers
class Trackers:
    """The chosen loggers behind one face; each call guarded, so a failure costs a line."""

    def __init__(self, loggers: list[Any]):
        self.loggers = loggers

    def _each(self, method: str, *args) -> None:
        for logger in list(self.loggers):
            try:
                getattr(logger, method)(*args)
            except Exception as error:  # never the run's end: say so once, and go on without
                self.loggers.remove(logger)
                reason = " ".join(str(error).split())[:300] or type(error).__name__
                log.warning(
                    "logger=%s failed (%s); the run goes on without it", logger.name, reason
                )

    def start(self, cfg, run_dir: Path) -> None:
        self._each("start", cfg, run_dir)

    def record(self, step: int, row: dict[str, float], fields: np.ndarray) -> None:
        self._each("record", step, row, fields)

    def end(self, summary: dict, run_dir: Path) -> None:
        self._each("end", summary, run_dir)


def build(cfg, run_dir: Path, sweep_dir: Path | None, draw) -> Trackers:
    """The chosen loggers, started; `draw(fields)` makes the mosaic image of a record."""
    loggers: list[Any] = []
    if cfg.logger.get("mlflow") is not None:
        loggers.append(MLflowLogger(cfg.logger.mlflow, sweep_dir))
    if cfg.logger.get("tensorboard") is not None:
        loggers.append(TensorBoardLogger(cfg.logger.tensorboard, draw))
    trackers = Trackers(loggers)
    trackers.start(cfg, run_dir)
    return trackers


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


class MLflowLogger:
    name = "mlflow"

    def __init__(self, cfg, sweep_dir: Path | None):
        self.cfg, self.sweep_dir = cfg, sweep_dir
        self.client = self.run_id = None

    def start(self, cfg, run_dir: Path) -> None:
        # a sweep's jobs start side by side: one at a time creates the store and the parent
        with _one_at_a_time(self.sweep_dir):
            self.client, experiment = connect(self.cfg, run_dir)
            parent = self.sweep_dir and parent_run(self.client, experiment, self.sweep_dir)
        tags = {"mlflow.runName": run_dir.name, "plastic.run_dir": str(run_dir)}
        if parent:
            tags["mlflow.parentRunId"] = parent
        self.run_id = self.client.create_run(experiment, tags=tags).info.run_id
        params = sorted(flat_params(cfg).items())
        from mlflow.entities import Param

        for start in range(0, len(params), 100):  # MLflow takes at most 100 params a call
            batch = [Param(k, v) for k, v in params[start : start + 100]]
            self.client.log_batch(self.run_id, params=batch)

    def record(self, step: int, row: dict[str, float], fields) -> None:
        self._metrics(row, step)

    def _metrics(self, row: dict[str, float], step: int, prefix: str = "") -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [
            Metric(f"{prefix}{k}", float(v), now, step)
            for k, v in row.items()
            if k not in ("step", "epoch") and _finite(v)
        ]
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)

    def end(self, summary: dict, run_dir: Path) -> None:
        self._metrics(summary.get("metrics") or {}, int(summary.get("steps") or 0), "final/")
        if self.cfg.artifacts:
            for path in sorted(run_dir.iterdir()):
                if path.suffix in (".png", ".gif", ".csv", ".json") or path.name == "weights.npz":
                    self.client.log_artifact(self.run_id, str(path))
        status = {"completed": "FINISHED", "interrupted": "KILLED"}.get(summary["status"], "FAILED")
        if summary.get("verdict"):
            self.client.set_tag(self.run_id, "plastic.verdict", summary["verdict"])
        self.client.set_terminated(self.run_id, status)


def connect(cfg, run_dir: Path):
    """The MLflow client and experiment id (created with its artifact folder when new)."""
    import os

    # a server that does not answer is a warning line within seconds, not minutes of retries
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    from mlflow.tracking import MlflowClient

    for name in ("mlflow", "alembic"):  # their set-up chatter (creating tables ...)
        logging.getLogger(name).setLevel(logging.WARNING)

    uri, artifacts = cfg.tracking_uri, None
    if uri is None:
        uri, artifacts = default_store(Path("outputs"))
    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(cfg.experiment_name)
    if found is not None:
        return client, found.experiment_id
    return client, client.create_experiment(cfg.experiment_name, artifact_location=artifacts)


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


def parent_run(client, experiment: str, sweep_dir: Path) -> str | None:
    """The sweep's parent run: made by the first job that needs it, its id kept in the sweep's
    folder for the others (each job may run in its own process)."""
    marker = Path(sweep_dir) / PARENT_FILE
    if marker.exists():
        return marker.read_text().strip() or None
    run = client.create_run(experiment, tags={"mlflow.runName": Path(sweep_dir).name})
    from plastic.artifacts import write_text

    write_text(marker, run.info.run_id + "\n")
    return run.info.run_id


class TensorBoardLogger:
    name = "tensorboard"

    def __init__(self, cfg, draw):
        self.cfg, self.draw, self.writer = cfg, draw, None

    def start(self, cfg, run_dir: Path) -> None:
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        self.writer = EventFileWriter(str(run_dir / "tensorboard"))
        text = OmegaConf.to_yaml(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]))
        self._event(0, [_text_value("config", text)])

    def _event(self, step: int, values: list) -> None:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary

        self.writer.add_event(
            Event(wall_time=time.time(), step=step, summary=Summary(value=values))
        )

    def record(self, step: int, row: dict[str, float], fields) -> None:
        from tensorboard.compat.proto.summary_pb2 import Summary

        values = [
            Summary.Value(tag=k, simple_value=float(v))
            for k, v in row.items()
            if k not in ("step", "epoch") and _finite(v)
        ]
        if self.cfg.images:
            values.append(Summary.Value(tag="receptive_fields", image=_png(self.draw(fields))))
        self._event(step, values)
        self.writer.flush()

    def end(self, summary: dict, run_dir: Path) -> None:
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
