"""The Hydra app: compose the config, build device, dataset and model, fit, evaluate, save.

`cli.py` calls `hydra_main()`; Hydra composes the config from conf/ and experiments/, the
`Guard` callback checks it before any folder is made, and `task` does one run.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

import plastic
from plastic import artifacts, datasets, pictures, registry, verdict, views
from plastic._paths import repo_dir
from plastic.artifacts import CHECKPOINT, METRICS, SUMMARY, WEIGHTS
from plastic.backend import make_backend
from plastic.config import rule_choice, validate
from plastic.errors import PlasticError, RunDiverged, RunInterrupted, UserError
from plastic.evaluate import Evaluator
from plastic.pictures import curves, fields
from plastic.trainer import Trainer

log = logging.getLogger("plastic")


# ----------------------------------------------------------------------------- run folders
_made: dict[str, str] = {}


def unique_run_dir(base: str) -> str:
    """Make and return `base`, or `base_2`, `base_3`... when it exists: a run never reuses a folder.

    Registered as the `plastic_run_dir` resolver; Hydra caches it per config (like `now`), and
    `_made` keeps the answer for the process, so one run resolves to one folder.
    """
    if base in _made:
        return _made[base]
    for attempt in range(1, 10_000):
        candidate = base if attempt == 1 else f"{base}_{attempt}"
        try:
            os.makedirs(candidate, exist_ok=False)
        except FileExistsError:
            continue
        _made[base] = candidate
        return candidate
    raise UserError(f"cannot find a free run folder next to {base}")


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("plastic_run_dir"):
        OmegaConf.register_new_resolver("plastic_run_dir", unique_run_dir, use_cache=True)


def run_status(folder: Path) -> str | None:
    """The status a run folder's summary.json records, 'unfinished' for a checkpoint alone."""
    summary = folder / SUMMARY
    if summary.exists():
        import json

        return json.loads(summary.read_text()).get("status", "unknown")
    return "unfinished" if (folder / CHECKPOINT).exists() else None


class ConfigRejected(BaseException):
    """The Guard's verdict. Hydra turns an Exception raised in a callback into a warning and goes
    on, so a rejection must be a BaseException to stop the run before its folder exists."""

    def __init__(self, error: UserError):
        super().__init__(error.message)
        self.error = error


class Guard(Callback):
    """Checks a run before Hydra makes its folder: values, the device, and that no finished run
    is overwritten."""

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        try:
            validate(config)
            make_backend(config.device, config.seed)  # device=gpu without a GPU stops here
            HydraConfig.instance().set_config(config)  # the run folder's name reads the choices
            run_dir = Path(str(config.hydra.run.dir))
            status = run_status(run_dir)
            resuming = config.resume and Path(config.resume).resolve() == run_dir.resolve()
            if status is not None and not resuming:
                raise UserError(
                    f"hydra.run.dir={str(run_dir)!r} already holds a run (status "
                    f"{status}); plastic never overwrites one: choose another folder"
                )
        except UserError as error:
            raise ConfigRejected(error) from None

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        try:
            validate(config)  # what the sweep does not change (each job is checked again)
            make_backend(config.device, config.seed)
            HydraConfig.instance().set_config(config)
            sweep_dir = Path(str(config.hydra.sweep.dir))
            SWEEPS.append(sweep_dir)
            if sweep_dir.is_dir() and any(run_status(p) for p in sweep_dir.iterdir() if p.is_dir()):
                raise UserError(
                    f"hydra.sweep.dir={str(sweep_dir)!r} already holds runs; plastic "
                    "never overwrites them: choose another folder"
                )
        except UserError as error:
            raise ConfigRejected(error) from None


# ----------------------------------------------------------------------------- one run
# The runs of this process that ended without completing, and the sweeps it started, for the
# console script to report (a launcher may run the jobs in other processes).
ENDED: list[tuple[Path, PlasticError]] = []
SWEEPS: list[Path] = []


def task(cfg: DictConfig) -> float | None:
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    started = time.time()
    summary = {
        "status": "failed",
        "reason": "",
        "model": rule_choice(cfg),
        "dataset": cfg.dataset.name,
        "run_dir": str(run_dir),
        "started": _timestamp(started),
        "resumed_from": None,
    }
    try:
        validate(cfg)  # again: each multirun job is composed anew
        return _run(cfg, run_dir, multirun, started, summary)
    except PlasticError as error:  # its own end (diverged, interrupted) or a user mistake
        if isinstance(error, UserError):
            summary["reason"] = error.message
            _write_summary(run_dir, summary, started)
        ENDED.append((run_dir, error))
        # a sweeper (optuna) reads this as a failed trial; the other jobs go on
        return float("nan") if cfg.optimize_metric else None
    except BaseException as error:  # a bug or an unexpected end: the folder says so
        summary.update(status="failed", reason=f"{type(error).__name__}: {error}")
        _write_summary(run_dir, summary, started)
        raise


def _run(cfg, run_dir: Path, multirun: bool, started: float, summary: dict) -> float | None:
    backend = make_backend(cfg.device, cfg.seed)
    dataset = datasets.load(cfg.dataset)
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

    def build_model():  # the same seed builds the same initial network
        rng = np.random.default_rng(cfg.seed)
        return registry.build_rule(cfg.model, backend, dataset.n_inputs, rng)

    model = build_model()
    evaluator = Evaluator(dataset, model.metric_names, cfg.seed)
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
    if cfg.resume:
        trainer.load_checkpoint(run_dir / CHECKPOINT)
        summary["resumed_from"] = trainer.step
        log.info("resuming from step %s of %s", f"{trainer.step:,}", f"{trainer.total:,}")

    outcome = trainer.fit()

    analysis_views: list = []
    if outcome.status == "diverged":
        final = {}  # the state is not finite; the last good one is in checkpoint.npz
    else:
        artifacts.write_npz(run_dir / WEIGHTS, model.state_dict())
        if outcome.status == "completed":
            final, analysis_views = evaluator.final(model, initial_model=build_model())
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
    _write_summary(run_dir, summary, started)
    _print_table(summary, run_dir)
    if outcome.status == "diverged":
        raise RunDiverged(f"run diverged: {outcome.reason} ({run_dir})")
    if outcome.status == "interrupted":
        raise RunInterrupted(f"run interrupted: {outcome.reason}")
    if cfg.optimize_metric:  # what a Hydra sweeper (optuna) optimises
        if cfg.optimize_metric not in final:
            raise UserError(
                f"optimize_metric={cfg.optimize_metric} is not a final metric of "
                f"this run; it has: {', '.join(final)}"
            )
        return float(final[cfg.optimize_metric])
    return None


def _write_pictures(cfg, run_dir: Path, trainer: Trainer, model, dataset, analysis_views) -> None:
    """metrics.csv, the fields' mosaic and GIF, the curves, and the rule's own views."""
    recorder = trainer.recorder
    artifacts.write_csv(run_dir / METRICS, recorder.columns, recorder.rows)
    if not recorder.rows:
        return
    title = f"{rule_choice(cfg)}: receptive fields at step {recorder.rows[-1]['step']:,}"
    layout = model.layout(dataset.image_shape)
    fields.draw(run_dir, title, recorder.gif_frames(), recorder.last_fields, layout, cfg.viz)
    names = [c for c in recorder.columns if c not in ("step", "epoch")]
    if len(recorder.rows) > 1:
        curves.draw(run_dir / "curves.png", recorder.rows, names)
    for view in analysis_views:  # a completed run's analysis: the rule's own pictures
        if isinstance(view, views.Table):
            rows = [dict(zip(view.columns, r.tolist(), strict=True)) for r in view.rows]
            artifacts.write_csv(run_dir / f"{view.name}.csv", list(view.columns), rows)
        else:
            pictures.draw(view, run_dir, cfg.viz)


def _write_summary(run_dir: Path, summary: dict, started: float) -> None:
    finished = time.time()
    summary.update(
        finished=_timestamp(finished),
        wall_seconds=finished - started,
        versions=_versions(),
        git_commit=_git_commit(),
    )
    artifacts.write_json(run_dir / SUMMARY, summary)


def _print_table(summary: dict, run_dir: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    style = {"completed": "green", "interrupted": "yellow"}.get(summary["status"], "red")
    table = Table(
        title=f"{summary['model']} on {summary['dataset']}: [{style}]{summary['status']}[/{style}]",
        title_justify="left",
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in summary.get("metrics", {}).items():
        table.add_row(name, f"{value:.4g}")
    table.add_row("steps", f"{summary['steps']:,} / {summary['steps_total']:,}")
    table.add_row("steps/s", f"{summary['steps_per_second']:,.0f}")
    table.add_row("wall seconds", f"{summary['wall_seconds']:.1f}")
    console = Console()
    console.print(table)
    if summary.get("verdict"):
        good = any(w in summary["verdict"] for w in ("better than", "as the source", "beyond"))
        bad = any(w in summary["verdict"] for w in ("worse", "below", "no better"))
        colour = {(True, False): "green", (True, True): "yellow", (False, True): "red"}.get(
            (good, bad), "default"
        )
        console.print(f"verdict: [{colour}]{summary['verdict']}[/{colour}]")
    console.print(f"run folder: [bold]{run_dir}[/bold]")
    shown = sorted(p.name for p in run_dir.iterdir() if p.suffix in (".gif", ".png"))
    if shown:
        console.print(f"pictures: {', '.join(shown)}")
        console.print(f"all on one page: [bold]plastic report {run_dir}[/bold]")


def _timestamp(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="seconds")


def _versions() -> dict[str, str | None]:
    try:
        import cupy

        cupy_version = cupy.__version__
    except ImportError:
        cupy_version = None
    import numba

    return {
        "plastic": plastic.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "cupy": cupy_version,
    }


def _git_commit() -> str | None:
    root = repo_dir()
    if root is None:
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def hydra_main() -> None:
    import hydra

    from plastic._paths import conf_dir

    hydra.main(config_path=str(conf_dir()), config_name="config", version_base="1.3")(task)()
