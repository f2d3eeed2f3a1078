"""The Hydra app: compose the config, build device, dataset and model, fit, evaluate, save.

`cli.py` calls `hydra_main()`; Hydra composes the config from conf/ and experiments/, the
`Guard` callback checks it before any folder is made, and `task` does one run.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import datetime as dt
import functools
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

import plastic
from plastic import (
    artifacts,
    launchers,
    pictures,
    provenance,
    registry,
    search,
    tracking,
    verdict,
    views,
)
from plastic.artifacts import CHECKPOINT, METRICS, SUMMARY, WEIGHTS
from plastic.backend import make_backend
from plastic.config import rule_choice, validate
from plastic.errors import (
    ConfigRejected,
    OutputFailed,
    PlasticError,
    RuleFault,
    RunDiverged,
    RunInterrupted,
    TrialFailed,
    UserError,
    handling,
    sigterm_as_interrupt,
)
from plastic.evaluate import Evaluator
from plastic.pictures import curves, fields
from plastic.rule import build as build_rule
from plastic.trainer import Trainer, load_compiler

log = logging.getLogger("plastic")
LOCK = ".plastic.lock"  # held by the process that writes a run folder


# ----------------------------------------------------------------------------- run folders
def unique_run_dir(base: str) -> str:
    """Make and return `base`, or `base_2`, `base_3`... when it exists: a run never reuses a folder.

    Registered as the `plastic_run_dir` resolver; Hydra caches it per config (like `now`), and
    the command's Outcomes keep the answer, so that one run resolves to one folder.
    """
    made = _noted().made
    if base in made:
        return made[base]
    for attempt in range(1, 10_000):
        candidate = base if attempt == 1 else f"{base}_{attempt}"
        try:
            os.makedirs(candidate, exist_ok=False)
        except FileExistsError:
            continue
        made[base] = candidate
        return candidate
    raise UserError(f"cannot find a free run folder next to {base}")


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("plastic_run_dir"):
        OmegaConf.register_new_resolver("plastic_run_dir", unique_run_dir, use_cache=True)


def run_status(folder: Path) -> str | None:
    """The status a run folder's summary.json records, 'unfinished' for a checkpoint alone,
    'unreadable' for a summary that cannot be read (still a run: never overwritten)."""
    summary = folder / SUMMARY
    if summary.exists():
        import json

        try:
            status = json.loads(summary.read_text()).get("status", "unknown")
        except (OSError, ValueError, AttributeError):
            return "unreadable"
        return status if isinstance(status, str) else "unreadable"
    return "unfinished" if (folder / CHECKPOINT).exists() else None


def _unresolvable(error: Exception) -> str:
    key = getattr(error, "full_key", None) or "a value"
    message = " ".join(str(error).split("full_key")[0].split())
    return f"{key} cannot be resolved: {message}"


def check_before_run(
    config: DictConfig, run_dir: Path | None = None
) -> tuple[type, Any, Any, Path]:
    """Everything that can refuse a single run before its folder is made (its rule, settings,
    backend and folder, as they were checked): the values, the device, the memory, and that the
    folder is free (no run of another process, no finished run, nothing else in it) or holds
    the run that `resume` continues, with a checkpoint that fits. UserError (or OSError)
    otherwise. Without `run_dir`, hydra.run.dir: read only once the values passed, since its
    default names a new folder and makes it."""
    rule, settings = validate(config)
    backend = make_backend(config.device, config.seed)  # no GPU for device=gpu: here
    check_memory(config, rule, settings)  # the data and the model, before any folder
    run_dir = Path(str(config.hydra.run.dir)) if run_dir is None else run_dir
    status = run_status(run_dir)
    resuming = config.resume and Path(config.resume).resolve() == run_dir.resolve()
    check_writable(run_dir)
    if run_dir_in_use(run_dir):
        raise UserError(
            f"hydra.run.dir={str(run_dir)!r} is being written by another plastic "
            "process; wait for it to end, or choose another folder"
        )
    if status is not None and not resuming:
        raise UserError(
            f"hydra.run.dir={str(run_dir)!r} already holds a run (status "
            f"{status}); plastic never overwrites one: choose another folder"
        )
    if status is None and run_dir.is_dir() and any(run_dir.iterdir()):
        raise UserError(
            f"hydra.run.dir={str(run_dir)!r} holds other files; plastic writes a run "
            "only into a new or empty folder, and never over what is there"
        )
    if resuming:  # the checkpoint must fit: refused here, the folder stays as it was
        check_resume(config, rule, settings, run_dir)
    return rule, settings, backend, run_dir


class Guard(Callback):
    """Checks a run before Hydra makes its folder: values, the device, and that no finished run
    is overwritten."""

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        # the choices of this command (the run folder's name, the rule's name in a message);
        # in a process that ran others before, not theirs
        HydraConfig.instance().set_config(config)
        try:
            *checked, run_dir = check_before_run(config)
            _noted().checked[str(run_dir.resolve())] = tuple(checked)
        except UserError as error:
            raise ConfigRejected(error) from None
        except OmegaConfBaseException as error:  # an interpolation that cannot be resolved
            raise ConfigRejected(UserError(_unresolvable(error))) from None
        except OSError as error:  # a place that cannot be read or written
            where = error.filename or "the run folder"
            raise ConfigRejected(
                UserError(f"cannot use {where} ({error.strerror or error}); choose another folder")
            ) from None

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        HydraConfig.instance().set_config(config)  # this command's choices, as a run's
        try:
            validate(config)  # what the sweep does not change (each job is checked again)
            make_backend(config.device, config.seed)
            launchers.check(config.hydra.launcher)  # SLURM: sbatch there, the partition known
            search.check(config)  # optuna: its search space and settings, before any trial
            sweep_dir = Path(str(config.hydra.sweep.dir))
            check_writable(sweep_dir, "hydra.sweep.dir")
            self._sweep_lock = lock_sweep_dir(sweep_dir)  # held until this process ends
            _noted().sweeps.append(sweep_dir)
            holds_runs = sweep_dir.is_dir() and (
                (sweep_dir / "multirun.yaml").exists()
                or any(run_status(p) for p in sweep_dir.iterdir() if p.is_dir())
            )
            if holds_runs and not _same_sweep(sweep_dir, config):
                raise UserError(
                    f"hydra.sweep.dir={str(sweep_dir)!r} already holds another sweep; "
                    "plastic never overwrites them: choose another folder (the same command "
                    "continues its own sweep)"
                )
        except UserError as error:
            raise ConfigRejected(error) from None
        except OmegaConfBaseException as error:
            raise ConfigRejected(UserError(_unresolvable(error))) from None


def _same_sweep(sweep_dir: Path, config: DictConfig) -> bool:
    """Whether `config` launches again the sweep recorded in sweep_dir/multirun.yaml (the same
    overrides, Hydra's basic sweeper: the same jobs in the same folders). Launched again, a
    sweep continues: its finished jobs are kept and its interrupted ones resume."""
    if "BasicSweeper" not in str(config.hydra.sweeper.get("_target_", "")):
        return False
    try:
        recorded = OmegaConf.load(sweep_dir / "multirun.yaml").hydra.overrides.task
    except Exception:
        return False
    return list(recorded) == list(config.hydra.overrides.task)


# ----------------------------------------------------------------------------- one run
@dataclass
class Outcomes:
    """What one command's runs came to, for the console script to report and turn into its
    exit code: the runs of this process that ended without completing, and the sweeps it
    started (a launcher may run their jobs in other processes: their summaries say)."""

    ended: list[tuple[Path, PlasticError]] = field(default_factory=list)
    sweeps: list[Path] = field(default_factory=list)
    # what the check before a single run found (its rule, settings and backend), by run folder,
    # so that the run does not validate and build them again
    checked: dict[str, tuple[type, Any, Any]] = field(default_factory=dict)
    # the run folders this command made, by the name asked for (plastic_run_dir)
    made: dict[str, str] = field(default_factory=dict)


# Hydra builds the task and its callbacks itself: the command's Outcomes reach them through
# this context variable, set only inside `collecting_outcomes()`
_OUTCOMES: contextvars.ContextVar[Outcomes] = contextvars.ContextVar("plastic_outcomes")


@contextlib.contextmanager
def collecting_outcomes():
    """The Outcomes of the runs and sweeps started inside the block."""
    token = _OUTCOMES.set(Outcomes())
    try:
        yield _OUTCOMES.get()
    finally:
        _OUTCOMES.reset(token)


def _noted() -> Outcomes:
    """The command's Outcomes (outside a command, as in a test calling the task: a fresh one
    that nobody reads)."""
    return _OUTCOMES.get(Outcomes())


@dataclass(frozen=True)
class Invocation:
    """Where and how a run was asked for: its folder, whether it is a sweep's job, the
    command's overrides and the config groups' choices (what Hydra knows of the command)."""

    run_dir: Path
    multirun: bool = False
    overrides: tuple[str, ...] = ()
    choices: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_hydra(cls) -> Invocation:
        hydra_cfg = HydraConfig.get()
        return cls(
            Path(hydra_cfg.runtime.output_dir),
            hydra_cfg.mode == RunMode.MULTIRUN,
            tuple(hydra_cfg.overrides.task),
            {k: str(v) for k, v in hydra_cfg.runtime.choices.items() if v is not None},
        )


@dataclass
class RunResult:
    """What one run came to: `status` is completed, interrupted, diverged, failed, refused
    (nothing was run: the folder is another process's, or the settings were refused) or kept
    (a sweep's job that had already ended, left as it was); `metric`, the optimize_metric's
    value of a completed run; `error`, why a run ended without completing."""

    run_dir: Path
    status: str
    metric: float | None = None
    error: PlasticError | None = None

    @property
    def exit_code(self) -> int:
        return 0 if self.error is None else self.error.exit_code


def task(cfg: DictConfig, warm_tracking: tracking.TrackingProcess | None = None) -> float | None:
    """The Hydra task: one run (a single run, or a job of a sweep) for the command that Hydra
    composed, noted in the command's Outcomes; what it returns is what a sweeper optimises.
    `warm_tracking`: a tracking process that the console script started for the loggers its
    command line names."""
    invocation = Invocation.from_hydra()
    run_dir, multirun = invocation.run_dir, invocation.multirun
    checked = _noted().checked.pop(str(run_dir.resolve()), None)
    result = run(cfg, invocation, warm_tracking=warm_tracking, checked=checked)
    if result.status == "kept":
        return _kept_result(cfg, run_dir)
    if result.error is not None:
        _noted().ended.append((run_dir, result.error))
        return _no_result(cfg, multirun, run_dir, result.error.message)
    return result.metric


def run(
    cfg: DictConfig,
    invocation: Invocation,
    warm_tracking: tracking.TrackingProcess | None = None,
    checked: tuple[type, Any, Any] | None = None,
) -> RunResult:
    """One run, whole: build, resume, fit, evaluate, write. `cfg` is the composed config;
    `checked`: what the check before the run found (its rule, settings and backend), so that
    it is not validated and built again (else it is, here). A run that ends early says why in
    its summary and its result; only a bug (or a launcher's SystemExit) raises."""
    run_dir, multirun = invocation.run_dir, invocation.multirun
    started = time.time()
    summary = {
        "status": "failed",
        "reason": "",
        "model": rule_choice(cfg),
        "dataset": cfg.dataset.name,
        "run_dir": str(run_dir),
        "started": _timestamp(started),
        "resumed_from": None,
        "slurm_job": launchers.slurm_job_id(),  # where SLURM ran it: sacct -j tells its fate
    }
    try:
        if checked is None and not multirun:  # called directly: checked as the command checks
            checked = check_before_run(cfg, run_dir)[:3]
            run_dir.mkdir(parents=True, exist_ok=True)
        lock = lock_run_dir(run_dir)
    except UserError as error:  # refused, or another process writes there: nothing changes
        return RunResult(run_dir, "refused", error=error)
    status = run_status(run_dir) if multirun else None
    if status is not None and status not in ("interrupted", "unfinished"):
        # a sweep launched again, or a job that SLURM requeued: what ended stays as it is
        lock.close()
        log.info("job %s kept as it was (%s)", run_dir.name, status)
        return RunResult(run_dir, "kept")
    try:
        with sigterm_as_interrupt():
            rule, settings, backend = checked or (*validate(cfg), None)
            metric = _run(
                cfg,
                rule,
                settings,
                invocation,
                started,
                summary,
                continuing=status is not None,
                warm_tracking=warm_tracking,
                backend=backend,
            )
            return RunResult(run_dir, "completed", metric=metric)
    except OSError as error:  # the folder cannot be written: say where and why, in one line
        where = getattr(error, "filename", None) or run_dir
        failure = OutputFailed(
            f"cannot write the run folder {run_dir} ({error.strerror or error} at {where}); "
            "what was written before is whole"
        )
        with contextlib.suppress(OSError):  # it may fail again: the disk is full
            summary.update(status="failed", reason=failure.message)
            _write_summary(run_dir, summary, started)
        return RunResult(run_dir, "failed", error=failure)
    except KeyboardInterrupt:  # outside the loop's own handling: before or after learning
        kept = "; checkpoint.npz kept" if (run_dir / CHECKPOINT).exists() else ""
        summary.update(status="interrupted", reason=f"aborted by a signal{kept}")
        if run_status(run_dir) != "completed":  # a finished record is never overwritten
            _write_summary(run_dir, summary, started)
        stopped = RunInterrupted(f"run interrupted: {summary['reason']}")
        return RunResult(run_dir, "interrupted", error=stopped)
    except PlasticError as error:  # its own end (diverged, interrupted) or a user mistake
        refused = isinstance(error, UserError) and not cfg.resume and status is None
        if refused or isinstance(error, RuleFault):
            # a refused resume (or continued job) leaves the run's record as it was
            summary["reason"] = error.message
            _write_summary(run_dir, summary, started)
        if isinstance(error, RunInterrupted) and error.stopped_by == "SIGUSR2":
            launchers.pass_on_time_limit_warning()  # saved: now submitit requeues the job
        return RunResult(run_dir, _ended_as(error), error=error)
    except SystemExit as error:  # a launcher's handler ends the process (submitit requeues)
        if run_status(run_dir) != "completed":  # a finished record is never overwritten
            kept = "; checkpoint.npz kept" if (run_dir / CHECKPOINT).exists() else ""
            reason = f"ended by its launcher (SystemExit {error.code}){kept}"
            summary.update(status="interrupted", reason=f"{reason}: it goes on when the job runs")
            _write_summary(run_dir, summary, started)
        raise
    except BaseException as error:  # a bug or an unexpected end: the folder says so
        summary.update(status="failed", reason=f"{type(error).__name__}: {error}")
        _write_summary(run_dir, summary, started)
        raise
    finally:
        lock.close()


def _ended_as(error: PlasticError) -> str:
    """The status of a run that `error` ended."""
    if isinstance(error, RunDiverged):
        return "diverged"
    if isinstance(error, RunInterrupted):
        return "interrupted"
    return "refused" if isinstance(error, UserError) else "failed"


def _locked(folder: Path, busy: str):
    """An exclusive lock on `folder`'s lock file, held while the handle is open (the OS
    releases it when the process ends, kill -9 included); UserError(busy) if another holds it."""
    import fcntl

    handle = open(Path(folder) / LOCK, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise UserError(busy) from None
    return handle


def lock_run_dir(folder: Path):
    """The run folder's lock for as long as the run lasts: a second process there stops in
    one line."""
    handle = _locked(
        folder,
        f"{folder} is being written by another plastic process (a run, or its resume); wait "
        "for it to end, or choose another folder",
    )
    # a writer killed mid-write left its temporary file; the file it was replacing is whole
    artifacts.remove_orphaned_temporaries(Path(folder))
    return handle


def lock_sweep_dir(folder: Path):
    """A sweep's folder's lock for as long as the sweep lasts (its workers share it): a second
    sweep into the same folder stops in one line instead of writing over the first's records."""
    folder.mkdir(parents=True, exist_ok=True)
    return _locked(
        folder,
        f"hydra.sweep.dir={str(folder)!r} is being written by another plastic sweep; wait for "
        "it to end, or choose another folder",
    )


def run_dir_in_use(folder: Path) -> bool:
    """Whether another process holds the folder's lock (checked before Hydra writes there)."""
    if not (Path(folder) / LOCK).exists():
        return False
    try:
        lock_run_dir(folder).close()
    except UserError:
        return True
    return False


def check_writable(run_dir: Path, key: str = "hydra.run.dir") -> None:
    """Refuse a run folder that cannot be written (a read-only place), before Hydra writes its
    config and log there: the nearest folder that exists must take a new file."""
    import tempfile

    place = run_dir
    while not place.exists() and place != place.parent:
        place = place.parent
    try:
        if not place.is_dir():
            raise NotADirectoryError(20, "Not a directory", str(place))
        with tempfile.TemporaryFile(dir=place):
            pass
    except OSError as error:
        raise UserError(
            f"{key}={str(run_dir)!r} cannot be written ({error.strerror or error} at "
            f"{place}); choose another folder"
        ) from None


def check_resume(cfg, rule: type, settings, run_dir: Path) -> None:
    """A resume's checkpoint against this run's model: the same arrays in the same shapes and
    dtypes, the same records, a step within the run's end; UserError otherwise, before
    anything is written."""
    backend = make_backend(cfg.device, cfg.seed)
    dataset = registry.load_dataset(cfg.dataset)
    parts = build_parts(cfg, rule, settings, backend, dataset, run_dir, multirun=False)
    parts.trainer.check_checkpoint(run_dir / CHECKPOINT)


def build_parts(cfg, rule: type, settings, backend, dataset, run_dir: Path, multirun: bool):
    """The model on the run's seed, its evaluator and its trainer, as a run builds them."""

    def build_model():  # the same seed builds the same initial network, on its own settings
        rng = np.random.default_rng(cfg.seed)
        return build_rule(rule, copy.deepcopy(settings), backend, dataset, rng)

    model = build_model()
    evaluator = Evaluator.for_model(dataset, model, cfg.seed, cfg.probe)
    trainer = Trainer(
        cfg.trainer,
        model,
        dataset,
        evaluator,
        backend,
        run_dir,
        cfg.seed,
        shuffle=cfg.dataset.shuffle,
        multirun=multirun,
        max_frames=cfg.viz.gif_max_frames,
        max_tiles=cfg.viz.max_tiles,
    )
    return RunParts(model, dataset, evaluator, trainer, build_model)


def check_memory(cfg, rule: type, settings, n_inputs: int | None = None) -> None:
    """Refuse, before anything is allocated, a run whose data (as its dataset estimates it)
    and model state (as its rule does, twice over: the untrained copy for the probes) cannot
    fit in the memory available. `n_inputs`: the loaded data's, else the dataset's estimate."""
    from plastic import registry

    source = registry.dataset_source(cfg.dataset.name)
    shape = source.size(cfg.dataset) if hasattr(source, "size") else None
    data = shape[0] * shape[1] * 8 if shape and n_inputs is None else 0  # float64 on the host
    inputs = n_inputs if n_inputs is not None else (shape[1] if shape else None)
    itemsize = np.dtype(cfg.device.dtype).itemsize
    state = rule.state_bytes(settings, inputs, itemsize) if inputs is not None else None
    needed = data + 2 * (state or 0)
    available = available_memory()
    if available is None or needed <= available:
        return
    parts = []  # what takes the memory: each part of a tenth of it or more
    if data >= needed / 10:
        parts.append(f"dataset={cfg.dataset.name} about {_gib(data)} for its {shape[0]:,} x "
                     f"{shape[1]:,} values")  # fmt: skip
    if state and 2 * state >= needed / 10:
        parts.append(f"model={rule_choice(cfg)} about {_gib(2 * state)} for its state (and the "
                     "untrained copy the probes compare with)")  # fmt: skip
    raise UserError(
        f"with these settings {' and '.join(parts)}: more than the {_gib(available)} of memory "
        "available; choose a smaller size"
    )


def available_memory() -> int | None:
    """What this process may still allocate: MemAvailable of /proc/meminfo (Linux), less
    where an address-space limit (ulimit -v) leaves less; None where neither can be read
    (then nothing is refused)."""
    import resource

    found = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        found = None
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    if limit != resource.RLIM_INFINITY:
        try:
            status = Path("/proc/self/status").read_text()
            used = int(
                next(ln for ln in status.splitlines() if ln.startswith("VmSize:")).split()[1]
            )
            headroom = max(0, limit - used * 1024)
        except (OSError, StopIteration, ValueError, IndexError):
            headroom = limit
        found = headroom if found is None else min(found, headroom)
    return found


def _gib(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB" if n >= 2**28 else f"{n / 2**20:,.0f} MiB"


def _no_result(cfg, multirun: bool, run_dir: Path, reason: str) -> None:
    """What a job that did not complete returns: nothing; to a sweeper that optimises a
    metric (optuna), a failed trial, by raising TrialFailed (a NaN would stop the search)."""
    if multirun and cfg.optimize_metric:
        raise TrialFailed(f"job {run_dir.name} did not complete: {reason}")
    return None


def _kept_result(cfg, run_dir: Path) -> float | None:
    """What a kept job returns to a sweeper: its recorded optimize_metric."""
    if not cfg.optimize_metric:
        return None
    import json

    try:
        value = float(json.loads((run_dir / SUMMARY).read_text())["metrics"][cfg.optimize_metric])
    except (OSError, ValueError, KeyError, TypeError):
        value = float("nan")
    if value != value:  # kept, but without the figure: a failed trial, as when it ran
        raise TrialFailed(f"job {run_dir.name} was kept without {cfg.optimize_metric}")
    return value


def _run(
    cfg,
    rule: type,
    settings: Any,
    invocation: Invocation,
    started: float,
    summary: dict,
    continuing: bool = False,
    warm_tracking: tracking.TrackingProcess | None = None,
    backend: Any = None,
) -> float | None:
    """One run of `rule` on its `settings` (as validate typed them); `continuing`: a sweep job
    whose folder holds its own interrupted run (launched again, or requeued by SLURM) resumes
    from its checkpoint, as resume=DIR does; `backend`: the one the check before the run
    built (else built here)."""
    run_dir, multirun = invocation.run_dir, invocation.multirun
    with _tracking(cfg, rule, invocation, summary, warm_tracking) as tracker:
        compiler = load_compiler()  # numba's set-up is start-up, not training: it overlaps this
        backend = backend or make_backend(cfg.device, cfg.seed)
        dataset = registry.load_dataset(cfg.dataset)
        summary.update(device=backend.description, data_source=dataset.data_source)
        log.info(
            "plastic %s: %s on %s (%s samples of %s inputs, %s), %s, in %s",
            plastic.__version__,
            rule_choice(cfg),
            cfg.dataset.name,
            f"{dataset.n_train:,}",
            dataset.n_inputs,
            dataset.data_source,
            backend.description,
            run_dir,
        )

        check_memory(cfg, rule, settings, dataset.n_inputs)

        parts = build_parts(cfg, rule, settings, backend, dataset, run_dir, multirun)
        model, trainer = parts.model, parts.trainer
        if tracker is not None:
            trainer.on_record = tracker.record
            if cfg.logger.get("tensorboard") is not None and cfg.logger.tensorboard.images:
                layout = model.layout(dataset.image_shape)
                tracker.draw_frames(
                    tracking.FrameSpec.for_run(layout, cfg.viz, trainer.total, trainer.record_every)
                )
        # a continued job that stopped before its first checkpoint starts again from the seed
        if cfg.resume or (continuing and (run_dir / CHECKPOINT).exists()):
            trainer.load_checkpoint(run_dir / CHECKPOINT)  # checked: a continued job's, too
            summary["resumed_from"] = trainer.step
            log.info("resuming from step %s of %s", f"{trainer.step:,}", f"{trainer.total:,}")

        compiler.join()
        outcome = trainer.fit()
        with _time_limit_after_training():
            return _finish(cfg, rule, run_dir, multirun, started, summary, tracker, parts, outcome)


@contextlib.contextmanager
def _time_limit_after_training():
    """SLURM's warning before the time limit (SIGUSR2) once training is done: the run evaluates
    and writes as usual and completes (there is nothing left to requeue), instead of going to
    the launcher's handler, which would requeue a finished job and record it failed."""
    if not hasattr(signal, "SIGUSR2"):
        yield
        return
    came: list[int] = []
    try:
        with handling(signal.SIGUSR2, lambda signum, frame: came.append(signum)):
            yield
    finally:
        if came:
            log.warning("the time limit's warning (SIGUSR2) came after training: the run "
                        "completed, and nothing is requeued")  # fmt: skip


@dataclass
class RunParts:
    """What a run builds before it trains, and finishes with."""

    model: Any
    dataset: Any
    evaluator: Evaluator
    trainer: Trainer
    build_model: Any  # () -> a fresh model on the run's seed: the untrained control


def _finish(cfg, rule, run_dir, multirun, started, summary, tracker, parts: RunParts, outcome):
    """After training: the weights, the evaluation, the pictures, summary.json, the line."""
    model, dataset, evaluator, trainer = parts.model, parts.dataset, parts.evaluator, parts.trainer
    if tracker is not None:
        tracker.flush()  # the last records are written while the run evaluates

    analysis_views: list = []
    if outcome.status == "diverged":
        final = {}  # the state is not finite; the last good one is in checkpoint.npz
    else:
        artifacts.write_npz(run_dir / WEIGHTS, model.state_dict())
        if outcome.status == "completed":
            final, analysis_views = evaluator.final(model, initial_model=parts.build_model())
        else:
            final = evaluator.record(model)
    _write_pictures(cfg, run_dir, trainer, model, dataset, analysis_views)
    summary.update(
        status=outcome.status,
        reason=outcome.reason,
        metrics=final,
        steps=outcome.step,
        steps_total=outcome.total,
        steps_per_second=outcome.step / max(outcome.train_seconds, 1e-9),
        train_seconds=outcome.train_seconds,
    )
    bars = dataset.bar_templates
    summary["verdict"] = verdict.judge(
        cfg.verdict, final, outcome.status, len(bars) if bars is not None else None
    )
    summary.update(verdict.goals_and_controls(rule, cfg.verdict, final))
    _write_summary(run_dir, summary, started)
    if tracker is not None:
        tracker.end(summary)
    if multirun:  # a line a job: a sweep's table is `plastic report`
        _print_job_line(summary, run_dir, cfg.optimize_metric)
    else:
        _print_table(summary, run_dir)
    if outcome.status == "diverged":
        raise RunDiverged(f"run diverged: {outcome.reason} ({run_dir})")
    if outcome.status == "interrupted":
        raise RunInterrupted(f"run interrupted: {outcome.reason}", outcome.stopped_by)
    if cfg.optimize_metric:  # what a Hydra sweeper (optuna) optimises
        if cfg.optimize_metric not in final:
            raise UserError(
                f"optimize_metric={cfg.optimize_metric} is not a final metric of "
                f"this run; it has: {', '.join(final)}"
            )
        return float(final[cfg.optimize_metric])
    return None


@contextlib.contextmanager
def _tracking(cfg, rule: type, invocation: Invocation, summary: dict, warm):
    """The run's tracking process, started first (its imports and store overlap the run's
    start-up); a run that ends by an exception ends its tracked run too."""
    summary["rule"] = provenance.rule_source(rule)
    run_dir = invocation.run_dir
    tracker = tracking.start(
        cfg,
        run_dir,
        run_dir.parent if invocation.multirun else None,
        list(invocation.overrides),
        _tags(summary, invocation.choices),
        warm,
    )
    try:
        yield tracker
    except BaseException as error:
        if tracker is not None:
            interrupted = isinstance(error, KeyboardInterrupt | RunInterrupted)
            tracker.abort("KILLED" if interrupted else "FAILED")
        raise


def _tags(summary: dict, choices: dict[str, str]) -> dict[str, str]:
    """What a tracking store tags a run with: its code, its recipe."""
    rule = summary["rule"]
    tags = {
        "plastic.version": plastic.__version__,
        "plastic.git_commit": provenance.git_commit() or "",
        "plastic.recipe": str(choices.get("experiment") or ""),
        "plastic.model": summary["model"],
        "plastic.dataset": summary["dataset"],
        "plastic.rule": rule["class"],
        "plastic.rule_distribution": " ".join(
            v for v in (rule["distribution"], rule["version"]) if v
        )
        or f"file {rule['file']} sha256 {rule['sha256']}",
    }
    return {k: v for k, v in tags.items() if v}


def _write_pictures(cfg, run_dir: Path, trainer: Trainer, model, dataset, analysis_views) -> None:
    """metrics.csv and the rule's tables always; the fields' mosaic and GIF, the curves and the
    rule's own pictures unless viz.pictures=false (a large sweep's jobs)."""
    recorder = trainer.recorder
    artifacts.write_csv(run_dir / METRICS, recorder.columns, recorder.rows)
    for table in (v for v in analysis_views if isinstance(v, views.Table)):
        rows = [dict(zip(table.columns, r.tolist(), strict=True)) for r in table.rows]
        artifacts.write_csv(run_dir / f"{table.name}.csv", list(table.columns), rows)
    if not recorder.rows or not cfg.viz.pictures:
        return
    title = f"{rule_choice(cfg)}: receptive fields at step {recorder.rows[-1]['step']:,}"
    layout = model.layout(dataset.image_shape)
    fields.draw(run_dir, title, recorder.gif_frames(), recorder.last_fields, layout, cfg.viz)
    names = [c for c in recorder.columns if c not in ("step", "epoch")]
    if len(recorder.rows) > 1:
        curves.draw(run_dir / "curves.png", recorder.rows, names)
    for view in analysis_views:  # a completed run's analysis: the rule's own pictures
        if not isinstance(view, views.Table):
            pictures.draw(view, run_dir, cfg.viz)


def _write_summary(run_dir: Path, summary: dict, started: float) -> None:
    finished = time.time()
    summary.update(
        finished=_timestamp(finished),
        wall_seconds=finished - started,
        versions=provenance.versions(),
        git_commit=provenance.git_commit(),
    )
    artifacts.write_json(run_dir / SUMMARY, summary)


def _print_job_line(summary: dict, run_dir: Path, metric: str | None) -> None:
    figures = [f"{summary['wall_seconds']:.1f} s", f"{summary['steps_per_second']:,.0f} steps/s"]
    if metric in summary.get("metrics", {}):
        figures.append(f"{metric} {summary['metrics'][metric]:.4g}")
    if verdict.judged(summary.get("verdict")):
        figures.append(f"verdict: {summary['verdict']}")
    print(f"job {run_dir.name} {summary['status']} ({', '.join(figures)}): {run_dir}", flush=True)


def _print_table(summary: dict, run_dir: Path) -> None:
    from rich.markup import escape

    from plastic.terminal import print_result

    style = {"completed": "green", "interrupted": "yellow"}.get(summary["status"], "red")
    title = f"{summary['model']} on {summary['dataset']}: [{style}]{summary['status']}[/{style}]"
    extra = [
        ("steps", f"{summary['steps']:,} / {summary['steps_total']:,}"),
        ("steps/s", f"{summary['steps_per_second']:,.0f}"),
        ("wall seconds", f"{summary['wall_seconds']:.1f}"),
    ]
    console = print_result(title, summary.get("metrics", {}), extra, summary.get("verdict"))
    console.print(f"run folder: [bold]{escape(str(run_dir))}[/bold]")
    shown = sorted(p.name for p in run_dir.iterdir() if p.suffix in (".gif", ".png"))
    if shown:
        console.print(f"pictures: {', '.join(shown)}")
        console.print(f"all on one page: [bold]plastic report {escape(str(run_dir))}[/bold]")


def _timestamp(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="seconds")


def hydra_main(args: list[str], warm_tracking: tracking.TrackingProcess | None = None) -> None:
    """Hydra's own main (what `hydra.main` runs), on the command line `args` rather than on
    sys.argv: the same parser, flags and overrides, the same single run or sweep."""
    from hydra import version
    from hydra._internal.utils import _run_hydra, get_args_parser

    from plastic._paths import conf_dir

    version.setbase("1.3")
    run = task if warm_tracking is None else functools.partial(task, warm_tracking=warm_tracking)
    parser = get_args_parser()
    _run_hydra(
        args=parser.parse_args(args),
        args_parser=parser,
        task_function=run,
        config_path=str(conf_dir()),
        config_name="config",
    )
