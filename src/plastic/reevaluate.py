"""`plastic eval RUN [overrides]`: measure a finished run's weights again, in a folder of its own.

As lightning-hydra-template pairs train with eval: the run's own config (its .hydra/config.yaml)
is loaded, the overrides change only what is measured (another dataset or split, the probe, the
device, the pictures, the verdict), the model is built on the run's seed and its weights.npz is
loaded into it. A feature learner is measured as a run measures it at its end: its fields (bar
coverage on the bars), its probe against the untrained network of the same seed and against
the raw pixels, and its rule's own analysis. A dynamical system runs on its own from its final
state (`--steps`), its free run written as free_run.csv and drawn.

The run's folder is left byte for byte as it was; the evaluation's folder names the run it
came from and is written whole, or not at all.
"""

from __future__ import annotations

import copy
import datetime as dt
import time
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from plastic.artifacts import (
    SUMMARY,
    WEIGHTS,
    read_npz,
    whole_folder,
    write_csv,
    write_json,
    write_text,
)
from plastic.errors import UserError

# what an evaluation may change: what is measured and how it shows, never what was learned
MAY_CHANGE = ("dataset", "probe", "device", "viz", "verdict")
CONFIG = Path(".hydra") / "config.yaml"


def parse(arguments: list[str]) -> tuple[Path, list[str], Path | None, int]:
    """RUN, its overrides, --out FOLDER and --steps N from the command line."""
    run, overrides, out, steps = None, [], None, 1000
    items = iter(arguments)
    for item in items:
        if item in ("--out", "--steps"):
            value = next(items, None)
            if value is None:
                raise UserError(f"plastic eval: {item} needs a value")
            if item == "--out":
                out = Path(value)
            else:
                steps = _positive(value)
        elif item.startswith("-"):
            raise UserError(f"plastic eval: unknown flag {item}; the flags are: --out, --steps")
        elif "=" in item:
            overrides.append(item)
        elif run is None:
            run = Path(item)
        else:
            raise UserError(f"plastic eval: one RUN folder, then key=value overrides ({item!r})")
    if run is None:
        raise UserError("plastic eval needs a RUN folder: plastic eval RUN [key=value ...]")
    return run, overrides, out, steps


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise UserError(f"plastic eval: --steps={text} is not allowed: must be an integer > 0")
    return value


def evaluate(run: Path, overrides: list[str], out: Path | None, steps: int) -> dict:
    """Measure `run` again under `overrides`; returns the evaluation's summary."""
    run = run.expanduser().resolve()
    saved = _finished_run(run)
    cfg = with_overrides(saved, overrides)
    from plastic.config import validate

    rule, settings = validate(cfg)
    out = (out or _default_folder(run)).expanduser().resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):  # before any work
        raise UserError(f"plastic eval --out {str(out)!r}: it exists and is not an empty folder")
    started = time.time()
    model, initial, dataset, backend = _built(cfg, rule, settings, run)
    with whole_folder(out, "plastic eval --out") as building:
        summary = _measure(cfg, rule, model, initial, dataset, backend, building, steps)
        summary.update(evaluated_run=str(run), overrides=overrides, run_dir=str(out))
        _write_record(building, cfg, overrides, summary, started)
    return summary


def _finished_run(run: Path) -> DictConfig:
    """The run's saved config; UserError unless it is a completed run with its weights."""
    where = f"plastic eval: {str(run)!r}"
    if not run.is_dir():
        raise UserError(f"{where} is not a folder")
    from plastic.app import run_status

    status = run_status(run)
    if status is None:
        raise UserError(f"{where} is not a plastic run folder (no summary.json)")
    if status != "completed":
        raise UserError(f"{where} did not complete (status {status}): evaluate a completed run")
    if not (run / WEIGHTS).is_file() or not (run / CONFIG).is_file():
        raise UserError(f"{where} lacks {WEIGHTS} or {CONFIG}: nothing to evaluate")
    try:
        saved = OmegaConf.load(run / CONFIG)
    except Exception as error:  # YAML errors come in many classes
        raise UserError(f"{where}: its {CONFIG} cannot be read ({error})") from None
    if not isinstance(saved, DictConfig):
        raise UserError(f"{where}: its {CONFIG} is not a config")
    return saved


def with_overrides(saved: DictConfig, overrides: list[str]) -> DictConfig:
    """The run's config under the overrides, typed by plastic's schema: `dataset=NAME` takes
    that dataset's composed defaults, `key=value` sets a key of what may change."""
    from plastic.config import register_configs

    register_configs()
    cfg = copy.deepcopy(saved)
    for override in overrides:
        key, _, value = override.partition("=")
        section = key.split(".")[0].lstrip("+~")
        if section not in MAY_CHANGE:
            raise UserError(
                f"plastic eval measures the run's own weights: {key} cannot change; it accepts "
                + ", ".join(f"{s}=, {s}.*" if s in ("dataset", "device") else f"{s}.*"
                            for s in MAY_CHANGE)
            )  # fmt: skip
        if key in ("dataset", "device"):
            cfg[key] = _group(key, value)
            continue
        try:
            OmegaConf.update(cfg, key, _yaml_value(value), merge=True, force_add=False)
        except Exception as error:
            raise UserError(f"plastic eval: {override} cannot be set ({error})") from None
    return cfg


def _group(group: str, name: str) -> DictConfig:
    """A config group's choice as Hydra composes it (conf/<group>/<name>.yaml or a package's)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import MissingConfigException

    from plastic._paths import conf_dir

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            composed = compose(config_name="config", overrides=[f"{group}={name}"])
    except MissingConfigException as error:
        options = ", ".join(error.options or [])
        raise UserError(f"{group}={name} is not available; choose one of: {options}") from None
    finally:
        GlobalHydra.instance().clear()
    return composed[group]


def _yaml_value(text: str):
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _default_folder(run: Path) -> Path:
    """outputs/eval/DATE/TIME_<run's folder name>, with _2, _3 ... when taken."""
    now = dt.datetime.now()
    base = Path("outputs") / "eval" / now.strftime("%Y-%m-%d") / f"{now:%H-%M-%S}_{run.name}"
    for attempt in range(1, 10_000):
        candidate = base if attempt == 1 else base.with_name(f"{base.name}_{attempt}")
        if not candidate.exists():
            return candidate
    raise UserError(f"no free folder next to {base}")


def _built(cfg, rule: type, settings, run: Path):
    """The model on the run's weights, its untrained twin (the run's seed), the data."""
    from plastic import registry
    from plastic.backend import make_backend
    from plastic.trainer import misfit

    backend = make_backend(cfg.device, cfg.seed)
    dataset = registry.load_dataset(cfg.dataset)

    def build():
        from plastic.rule import build as build_rule

        rng = np.random.default_rng(cfg.seed)
        return build_rule(rule, copy.deepcopy(settings), backend, dataset, rng)

    model = build()
    try:
        weights = read_npz(run / WEIGHTS)
    except Exception as error:
        raise UserError(f"plastic eval: {run / WEIGHTS} cannot be read ({error})") from None
    expected = model.state_dict()
    # the learned arrays (a rule may keep its history beside); a device's dtype may differ
    wrong = misfit(expected, weights, model.state_names, dtypes=False)
    if wrong:
        raise UserError(
            f"plastic eval: {run / WEIGHTS} does not fit the model on dataset="
            f"{cfg.dataset.name}: {wrong} (the data must have as many inputs as the run's)"
        )
    model.load_state_dict({k: weights[k] for k in expected})
    return model, build(), dataset, backend


def _measure(cfg, rule, model, initial, dataset, backend, folder: Path, steps: int) -> dict:
    from plastic import pictures, verdict, views
    from plastic.evaluate import Evaluator
    from plastic.pictures import fields
    from plastic.rule import FeatureLearner

    summary = {"status": "completed", "reason": "", "device": backend.description,
               "data_source": dataset.data_source}  # fmt: skip
    if isinstance(model, FeatureLearner):
        evaluator = Evaluator.for_model(dataset, model, cfg.seed, cfg.probe)
        final, analysis = evaluator.final(model, initial_model=initial)
        if cfg.viz.pictures:
            layout = model.layout(dataset.image_shape)
            shown = model.receptive_fields()[: cfg.viz.max_tiles]
            title = f"{summary_name(cfg)}: receptive fields of the evaluated run"
            fields.plot(
                folder / "fields.png",
                shown,
                fields.tile_shape_for(layout, shown.shape[1]),
                title,
                fields.grid_for(layout, len(shown), model.receptive_fields().shape[0]),
            )
    else:
        free = model.run(steps)
        write_csv(folder / "free_run.csv", list(free), _rows(free))
        final = {"free_run_steps": float(steps)}
        series = {k: v for k, v in free.items() if k != "time"}
        analysis = [views.Traces("free_run", free.get("time", np.arange(steps)), series,
                                 xlabel="time (the network on its own)")]  # fmt: skip
    for view in analysis:
        if isinstance(view, views.Table):
            rows = [dict(zip(view.columns, r.tolist(), strict=True)) for r in view.rows]
            write_csv(folder / f"{view.name}.csv", list(view.columns), rows)
        elif cfg.viz.pictures:
            pictures.draw(view, folder, cfg.viz)
    bars = dataset.bar_templates
    summary.update(
        metrics=final,
        verdict=verdict.judge(
            cfg.verdict, final, "completed", len(bars) if bars is not None else None
        ),
        model=summary_name(cfg),
        dataset=cfg.dataset.name,
    )
    summary.update(verdict.goals_and_controls(rule, cfg.verdict, final))
    return summary


def summary_name(cfg) -> str:
    return str(cfg.model.get("_target_", "model")).rpartition(".")[2].lower()


def _rows(columns: dict[str, np.ndarray]) -> list[dict]:
    """Named host arrays (one row per step; a 2-d array a column per unit) as CSV rows."""
    flat = {}
    for name, values in columns.items():
        values = np.asarray(values)
        if values.ndim == 1:
            flat[name] = values
        else:
            for j in range(values.reshape(len(values), -1).shape[1]):
                flat[f"{name}_{j}"] = values.reshape(len(values), -1)[:, j]
    n = min(len(v) for v in flat.values())
    return [{k: float(v[i]) for k, v in flat.items()} for i in range(n)]


def _write_record(folder: Path, cfg, overrides: list[str], summary: dict, started: float) -> None:
    """config and overrides as a run keeps them (so that `plastic report` reads the folder as
    it reads a run), and summary.json."""
    from plastic import provenance

    (folder / ".hydra").mkdir()
    write_text(folder / CONFIG, OmegaConf.to_yaml(cfg))
    write_text(folder / ".hydra" / "overrides.yaml", OmegaConf.to_yaml(OmegaConf.create(overrides)))
    finished = time.time()
    summary.update(
        started=_timestamp(started),
        finished=_timestamp(finished),
        wall_seconds=finished - started,
        versions=provenance.versions(),
        git_commit=provenance.git_commit(),
    )
    write_json(folder / SUMMARY, summary)


def _timestamp(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="seconds")


def print_summary(summary: dict) -> None:
    from rich.markup import escape

    from plastic.terminal import print_result

    title = f"{summary['model']} evaluated on {summary['dataset']}"
    console = print_result(title, summary["metrics"], [], summary.get("verdict"))
    console.print(f"evaluated run: {escape(summary['evaluated_run'])}")
    console.print(f"evaluation folder: [bold]{escape(summary['run_dir'])}[/bold]")
