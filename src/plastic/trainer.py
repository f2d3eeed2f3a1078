"""The training loop: blocks of samples to model.learn, records, checkpoints, progress, guards.

The loop cuts the stream of samples into blocks that end on every record and checkpoint
boundary, so that the same seed gives the same state at every boundary, whether the run went
through in one go or was interrupted and resumed from a checkpoint.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba
import numpy as np
from omegaconf import DictConfig, OmegaConf

from plastic.artifacts import CHECKPOINT, METRICS, read_npz, write_csv, write_npz

log = logging.getLogger("plastic")


@dataclass
class Recorder:
    """A metric row per record, and receptive-field frames for the GIF.

    Frames are kept as float32 and thinned as they accumulate (every record, then every 2nd,
    4th, ...), so that their memory stays under 2 * max_frames frames however long the run;
    `last_fields` keeps the latest fields in full precision for the weight change.
    """

    metric_names: list[str]
    max_frames: int = 100
    max_tiles: int = 100  # frames keep the first units only: they are pictures
    rows: list[dict[str, float]] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)
    frame_steps: list[int] = field(default_factory=list)
    stride: int = 1
    last_fields: np.ndarray | None = None

    @property
    def columns(self) -> list[str]:
        return ["step", "epoch", "weight_change", *self.metric_names]

    def record(self, step: int, epoch: float, fields: np.ndarray, metrics: dict[str, float]):
        # a snapshot is the rule's own host copy (the conformance kit holds rules to that)
        fields = np.ascontiguousarray(fields, dtype=np.float64)
        change = np.nan
        if self.last_fields is not None:  # relative change of the fields since the last record
            moved, size = _change_and_size(fields, self.last_fields)
            # from all-zero fields (the attractor's couplings start at 0) it is undefined
            change = float(np.sqrt(moved) / max(np.sqrt(size), 1e-12)) if size > 0 else np.nan
        if len(self.rows) % self.stride == 0:
            self.frames.append(fields[: self.max_tiles].astype(np.float32))
            self.frame_steps.append(step)
            if len(self.frames) > 2 * self.max_frames:
                self.frames, self.frame_steps = self.frames[::2], self.frame_steps[::2]
                self.stride *= 2
        self.rows.append({"step": step, "epoch": epoch, "weight_change": change, **metrics})
        self.last_fields = fields

    def gif_frames(self) -> list[tuple[int, np.ndarray]]:
        """(step, fields) for at most max_frames frames, evenly spaced, the last record last."""
        keep = [
            (self.frame_steps[i], self.frames[i])
            for i in _evenly_spaced(len(self.frames), self.max_frames)
        ]
        if self.rows and keep[-1][0] != self.rows[-1]["step"]:
            keep[-1] = (self.rows[-1]["step"], self.last_fields[: self.max_tiles])
        return keep

    def state(self) -> dict[str, np.ndarray]:
        state = {
            f"record/{c}": np.array([r.get(c, np.nan) for r in self.rows], dtype=float)
            for c in self.columns
        }
        state["record/frames"] = np.stack(self.frames)
        state["record/frame_steps"] = np.array(self.frame_steps)
        state["record/stride"] = np.array(self.stride)
        state["record/last_fields"] = self.last_fields
        return state

    def load(self, state: dict[str, np.ndarray]) -> None:
        n = len(state["record/step"])
        self.rows = [
            {c: _plain(state[f"record/{c}"][i], c) for c in self.columns} for i in range(n)
        ]
        self.frames = list(state["record/frames"])
        self.frame_steps = [int(s) for s in state["record/frame_steps"]]
        self.stride = int(state["record/stride"])
        self.last_fields = state["record/last_fields"]


def misfit(expected: dict, found: dict, names, dtypes: bool = True) -> str | None:
    """How the learned arrays `names` of a saved state (`found`) fail to fit a model's
    (`expected`): the first missing one, or one of another shape (or dtype); None if they fit."""
    for name in names:
        if name not in expected:  # state that these settings do not have
            continue
        need = np.asarray(expected[name])
        if name not in found:
            return f"it holds no {name!r}, this run's model needs {need.dtype} {list(need.shape)}"
        have = np.asarray(found[name])
        if have.shape != need.shape or (dtypes and have.dtype != need.dtype):
            return (f"its {name!r} is {have.dtype} {list(have.shape)}, this run's model needs "
                    f"{need.dtype} {list(need.shape)}")  # fmt: skip
    return None


def load_compiler() -> threading.Thread:
    """Load numba on a thread, now: the first compiled call of a process (any rule's loop, the
    record's change below) first sets up numba's compiler, a quarter to half a second that a
    run would otherwise count as training. A run starts this as it begins and joins it before
    its clock starts, so that it overlaps loading the data and building the model."""

    def load():
        with contextlib.suppress(Exception):  # the run's own first call reports any fault
            _change_and_size(np.zeros(1), np.zeros(1))

    thread = threading.Thread(target=load, name="plastic-load-compiler", daemon=True)
    thread.start()
    return thread


@numba.njit(cache=True)
def _change_and_size(after, before):
    """sum((after - before)^2) and sum(before^2), in one pass over both."""
    moved, size = 0.0, 0.0
    a, b = after.ravel(), before.ravel()
    for i in range(a.size):
        d = a[i] - b[i]
        moved += d * d
        size += b[i] * b[i]
    return moved, size


def _evenly_spaced(n: int, most: int) -> list[int]:
    """At most `most` indices of range(n), evenly spaced, first and last included."""
    if n <= most:
        return list(range(n))
    return sorted(set(np.linspace(0, n - 1, most).round().astype(int).tolist()))


def _plain(value: float, column: str) -> float | int:
    return int(value) if column == "step" else float(value)


@dataclass
class Outcome:
    status: str  # completed | diverged | interrupted
    reason: str
    step: int
    total: int
    train_seconds: float
    stopped_by: str = ""  # the signal that stopped an interrupted run (SIGTERM, SIGUSR2...)


class StopRequest:
    """The first Ctrl-C (SIGINT), SIGTERM (what SLURM sends on preemption, requeue and
    scancel) or SIGUSR2 (SLURM's warning before the time limit, as submitit asks for it) asks
    the loop to stop at the next block boundary and save everything; a second one aborts at
    once (the last checkpoint stays)."""

    NAMES = ("SIGINT", "SIGTERM", "SIGUSR2")
    SIGNALS = tuple(getattr(signal, name) for name in NAMES if hasattr(signal, name))

    def __init__(self):
        self.requested = False
        self.by = ""
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.by = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        log.warning("%s: saving after this block (again to abort without saving)", self.by)

    def __exit__(self, *exc):
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        return False


class Trainer:
    def __init__(
        self,
        cfg,
        model,
        dataset,
        evaluator,
        backend,
        run_dir: Path,
        seed: int,
        shuffle: bool = False,
        multirun: bool = False,
        max_frames: int = 100,
        max_tiles: int = 100,
    ):
        self.cfg = OmegaConf.to_object(cfg) if isinstance(cfg, DictConfig) else cfg  # fast reads
        self.model, self.dataset, self.evaluator = model, dataset, evaluator
        self.backend, self.run_dir, self.seed, self.multirun = (
            backend,
            Path(run_dir),
            seed,
            multirun,
        )
        self.recorder = Recorder(evaluator.record_names, max_frames, max_tiles)
        self.shuffle = shuffle
        # A minibatch rule learns from whole batches: an epoch is its whole batches (the rest
        # of the shuffled samples waits for the next epoch), and every block ends on a batch.
        self.unit = model.samples_per_update
        # the rule's own checks, now with the data (one line, whatever it raises)
        from plastic.registry import checked

        checked(type(model), model.cfg, dataset)
        self.epoch_length = dataset.n_train // self.unit * self.unit
        total = self.epoch_length * self.cfg.epochs
        if self.cfg.max_steps is not None:
            total = min(total, max(self.unit, self.cfg.max_steps // self.unit * self.unit))
        self.total = total
        self.record_every, self.checkpoint_every = cadence(self.cfg, model, total)
        self.on_record = None  # called with (step, row, fields) after every record
        self.step = 0
        self.seconds_before = 0.0  # training time spent before a resume
        self._buffer = None  # a shuffled run's block, reused
        self._orders: dict[int, np.ndarray] = {}  # the coming epochs' shuffles, drawn together

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, seconds: float) -> None:
        state = {f"model/{k}": v for k, v in self.model.state_dict().items()}
        state.update(self.recorder.state())
        state["trainer/step"] = np.array(self.step)
        state["trainer/seconds"] = np.array(seconds)
        write_npz(self.run_dir / CHECKPOINT, state)
        # the curve so far, so that a run that dies keeps it (written whole, not flushed to
        # the disk: the checkpoint is; the final metrics.csv is written at the end)
        write_csv(self.run_dir / METRICS, self.recorder.columns, self.recorder.rows, durable=False)

    def check_checkpoint(self, path: Path) -> dict[str, np.ndarray]:
        """The checkpoint at `path`, read; UserError unless it fits this trainer: its model's
        arrays by name, and the learned ones by shape and dtype; the records of these columns;
        a step within the run's end."""
        from plastic.errors import UserError

        where = f"resume: {path}"
        state = read_npz(path)
        found = {k[6:]: v for k, v in state.items() if k.startswith("model/")}
        expected = self.model.state_dict()
        if set(found) != set(expected):
            raise UserError(
                f"{where} holds the state of another model (arrays {', '.join(sorted(found))}; "
                f"this run's model has {', '.join(sorted(expected))}); the run folder is left "
                "as it is"
            )
        wrong = misfit(expected, found, self.model.state_names)
        if wrong:
            raise UserError(f"{where}: {wrong}; the run folder is left as it is")
        missing = [c for c in self.recorder.columns if f"record/{c}" not in state]
        if missing:
            raise UserError(
                f"{where} lacks the records of {', '.join(missing)}: it is another model's; the "
                "run folder is left as it is"
            )
        step = int(state["trainer/step"])
        if step > self.total:
            raise UserError(
                f"resume: the run already reached step {step:,}, beyond the {self.total:,} steps "
                "that trainer.epochs and trainer.max_steps now allow; the run folder is left as "
                "it is"
            )
        return state

    def load_checkpoint(self, path: Path) -> None:
        """Continue from the checkpoint at `path`, once it is checked (read once)."""
        state = self.check_checkpoint(path)
        self.model.load_state_dict({k[6:]: v for k, v in state.items() if k.startswith("model/")})
        self.recorder.load(state)
        self.step = int(state["trainer/step"])
        self.seconds_before = float(state["trainer/seconds"])

    # ------------------------------------------------------------------ the loop
    def order(self, epoch: int) -> np.ndarray:
        """The samples of an epoch: all of them shuffled (or in order), the first whole batches.
        Each epoch's shuffle is its own (seed, epoch) draw; a shuffled run draws the coming
        epochs' together (ORDER_BYTES of them), so that each costs what it does in a warm loop,
        not what it costs after an epoch of learning has cooled the caches."""
        if not self.shuffle:
            return np.arange(self.epoch_length)
        if epoch not in self._orders:
            n, epochs = self.dataset.n_train, -(-self.total // self.epoch_length)
            ahead = range(epoch, max(epoch + 1, min(epochs, epoch + ORDER_BYTES // (8 * n))))
            self._orders = {
                e: np.random.default_rng([self.seed, e]).permutation(n)[: self.epoch_length]
                for e in ahead
            }
        return self._orders[epoch]

    def _block(self, data, order: np.ndarray, position: int, size: int):
        """The next `size` samples of the epoch: a view of the data in order, else gathered
        into a buffer that every block reuses, so that a shuffled run does not allocate (and
        fault in) fresh memory for each. A rule reads its block during `learn` and keeps no
        reference to it (the conformance kit's `borrowed_block` check)."""
        if not self.shuffle:  # the order is the identity
            return data[position : position + size]
        if self._buffer is None or len(self._buffer) < size:
            self._buffer = self.backend.xp.empty((size, *data.shape[1:]), dtype=data.dtype)
        return self.backend.take_rows(data, order[position : position + size], self._buffer[:size])

    def _block_end(self, step: int) -> int:
        """Where the block that starts at `step` ends: on every record and checkpoint, at the
        epoch's end, on whole updates."""
        cfg, epoch = self.cfg, step // self.epoch_length
        end = min(
            step + cfg.block_size,
            _next_multiple(step, self.record_every),
            _next_multiple(step, self.checkpoint_every or self.total),
        )
        return min(self.total, (epoch + 1) * self.epoch_length, _round_up(end, self.unit))

    def record(self) -> None:
        fields = self.model.snapshot()
        self.recorder.record(
            self.step, self.step / self.epoch_length, fields, self.evaluator.record(self.model)
        )
        if self.on_record is not None:  # the tracking loggers (plastic.tracking)
            self.on_record(self.step, self.recorder.rows[-1], fields)

    def fit(self, stop: Any = None) -> Outcome:
        """Learn until the end, a divergence, the rule's own stop, or a stop request: Ctrl-C
        (or SIGTERM) by default, or any object whose `requested` turns true (plastic.testing
        interrupts a run that way)."""
        cfg, n = self.cfg, self.epoch_length
        data = self.backend.asarray(self.dataset.train)  # the whole epoch stays on the device
        started = time.perf_counter()
        seconds = lambda: self.seconds_before + time.perf_counter() - started  # noqa: E731
        if self.step == 0:
            # the untrained network's row; its state is not saved: the seed rebuilds it, so a
            # run that dies before its first checkpoint loses no more than one that dies later
            self.record()
        last_good = self.step if self.step else None  # the step checkpoint.npz holds
        last_saved = time.perf_counter()
        progress = Progress(cfg, self.total, self.step, self.multirun)
        order, order_epoch = None, -1

        def ended(outcome: str, reason: str = "", by: str = "") -> Outcome:
            return Outcome(outcome, reason, self.step, self.total, seconds(), by)

        def kept() -> str:  # what a run that ends here leaves to go on from
            if last_good is None:
                return f"before the first checkpoint (seed={self.seed} rebuilds the initial state)"
            return f"checkpoint.npz keeps step {last_good}"

        # a diverging rule's overflows are the guard's to report, in one line, not numpy's
        with StopRequest() as signals, progress, np.errstate(over="ignore", invalid="ignore"):
            stop = stop or signals
            try:
                while self.step < self.total:
                    epoch, position = divmod(self.step, n)
                    if epoch != order_epoch:
                        order, order_epoch = self.order(epoch), epoch
                    end = self._block_end(self.step)
                    block = self._block(data, order, position, end - self.step)
                    self.model.learn(block)
                    before, self.step = self.step, end
                    converged = self.model.end_epoch() if self.step % n == 0 else None
                    recording = (
                        converged
                        or _crossed(before, self.step, self.record_every)
                        or self.step == self.total
                    )
                    due = (
                        _crossed(before, self.step, self.checkpoint_every)
                        if self.checkpoint_every
                        else time.perf_counter() - last_saved >= cfg.checkpoint_seconds
                    )
                    stopping = stop.requested and self.step < self.total
                    # the guard reads the whole state: before what keeps it (a record, a
                    # checkpoint, the end), not after every block
                    broken = (recording or due or stopping) and self.model.nonfinite_state()
                    if broken:
                        return ended("diverged", f"{broken} by step {self.step}; {kept()}")
                    if recording:
                        self.record()
                    if converged or due:
                        last_saved = time.perf_counter()
                        self.save_checkpoint(seconds())
                        last_good = self.step
                    progress.update(self.step)
                    if converged:
                        return ended("completed", converged)
                    if stopping:
                        self.save_checkpoint(seconds())
                        return ended(
                            "interrupted",
                            f"stopped by {stop.by} at step "
                            f"{self.step}; "
                            f"continue with: plastic run resume={self.run_dir}",
                            stop.by,
                        )
            except KeyboardInterrupt:
                by = signals.by or "signal"
                return ended("interrupted", f"aborted by a second {by}; {kept()}")
        self.backend.synchronize()
        return ended("completed")


ORDER_BYTES = 4_000_000  # the coming epochs' shuffles a run draws at once (8 bytes a sample)


# A record copies the rule's snapshot and measures its change, and the divergence guard
# before it reads the whole state: where the config leaves the cadence to plastic, records
# are spaced by what they read, so that a run spends its time learning whatever the model's
# size.
RECORD_ELEMENTS = 100_000  # snapshot elements worth one record per 100 steps
GUARD_ELEMENTS = 1_000_000  # state elements worth one guard per 100 steps (a read, no copy)


def cadence(cfg, model, total: int) -> tuple[int, int | None]:
    """Steps between records, and between checkpoints (None: every checkpoint_seconds of
    training instead). Records define metrics.csv and the GIF, so they stay on fixed steps:
    the config's, or every `model.steps_per_record` steps (100 unless the rule says), further
    apart for a large snapshot or state or a long run (about 100 records a run at most, for
    the default spacing), and at least two updates apart for a minibatch
    rule (a record per update of a small batch would cost a tenth of the learning).
    Checkpoints change nothing that is learned or recorded (a resume from any block boundary
    ends the same), so by default they follow the clock: a crash loses at most that much
    training, whatever the model's size."""
    record = cfg.record_every
    if record is None:
        drawn = model.snapshot().size
        guarded = sum(array.size for array in model.state_arrays().values())
        record = max(1, int(model.steps_per_record)) * max(
            1,
            -(-drawn // RECORD_ELEMENTS),
            -(-guarded // GUARD_ELEMENTS),
            -(-total // 10_000),
        )
        record = max(record, 2 * model.samples_per_update)
    return record, cfg.checkpoint_every


def _round_up(step: int, unit: int) -> int:
    return -(-step // unit) * unit


def _crossed(before: int, after: int, every: int) -> bool:
    """Whether a multiple of `every` lies in (before, after]."""
    return after // every > before // every


def _next_multiple(step: int, every: int) -> int:
    return (step // every + 1) * every


class Progress:
    """A rich bar in a terminal; otherwise plain log lines, at most one every few seconds."""

    def __init__(self, cfg, total: int, start: int, multirun: bool):
        mode = cfg.progress
        if mode == "auto":
            mode = "bar" if sys.stdout.isatty() and not multirun else "log"
        self.mode, self.total, self.start = mode, total, start
        self.every = cfg.log_every_seconds
        self.bar = None

    def __enter__(self):
        self.t0 = self.last_log = time.perf_counter()
        self.last_step = self.start
        if self.mode == "bar":
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import (
                Progress as RichProgress,
            )

            self.bar = RichProgress(
                TextColumn("[bold]training"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                transient=False,
            )
            self.bar.__enter__()
            self.task = self.bar.add_task(
                "training", total=self.total, completed=self.start, rate=""
            )
        return self

    def update(self, step: int) -> None:
        now = time.perf_counter()
        rate = (step - self.start) / max(now - self.t0, 1e-9)
        if self.bar is not None:
            self.bar.update(self.task, completed=step, rate=f"{rate:,.0f} steps/s")
        elif self.mode == "log" and (now - self.last_log >= self.every or step == self.total):
            # the eta from the pace since the last line: a run whose steps slow down (a deeper
            # layer's turn) is not promised the pace of its start
            recent = (step - self.last_step) / max(now - self.last_log, 1e-9)
            self.last_log, self.last_step = now, step
            pace = recent if recent > 0 else rate
            eta = (self.total - step) / pace if pace > 0 else float("inf")
            log.info(
                "step %s/%s (%.0f%%) %s steps/s, eta %.0fs",
                f"{step:,}",
                f"{self.total:,}",
                100 * step / self.total,
                f"{rate:,.0f}",
                eta,
            )

    def __exit__(self, *exc: Any):
        if self.bar is not None:
            self.bar.__exit__(*exc)
        return False
