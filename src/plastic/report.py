"""`plastic report FOLDER`: what a sweep (or a run) concludes, as a table and one page.

A sweep is conditions x replicates: the swept keys other than the replicate keys (`seed`
unless `--replicates` names others) are the conditions. For every final metric the report
gives each condition's mean, standard deviation, n and 95 % confidence interval, which
condition is best and whether it differs from the runner-up beyond the replicates' noise, and
whether learning beat the untrained network of the same runs (plastic.replicates computes it
all). It writes sweep.csv (a row a run), conditions.csv (a row a condition), a figure per
metric that varies (SVG: error bars for one condition key, a heat map for two), the recorded
curves as each condition's mean with its band, and index.html, which links every run's config,
log, summary and pictures (relative links: the folder can be copied and opened offline).

`plastic report --compare RUN RUN ...` sets runs from anywhere side by side on their resolved
configs: a table of every key whose value differs, the final metrics, the curves they share
and their pictures; its folder is written whole or not at all. Runs that differ in a replicate
key (`seed`, or what `--replicates` names) are replicates of the condition their other
settings make, and concluded as a sweep's are: each condition's mean ± sd, and learning
against the untrained network paired by replicate. A key that differs only because it follows
another (`dataset.seed: ${seed}`), or changes only how a run shows (its progress, its
pictures), is neither a condition nor a replicate.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import yaml

from plastic import replicates as rep
from plastic.artifacts import SUMMARY, whole_folder, write_text
from plastic.errors import UserError
from plastic.pictures import page as pages
from plastic.pictures import sweep
from plastic.pictures.page import CONFIG
from plastic.settings import HOW_IT_SHOWS


# ----------------------------------------------------------------------------- reading runs
def is_run(folder: Path) -> bool:
    return (folder / ".hydra" / "overrides.yaml").exists() or (folder / SUMMARY).exists()


def load_run(folder: Path) -> dict:
    """One report row; a job whose summary.json or overrides cannot be read is reported as
    `unreadable`, with the reason, and the others as usual."""
    row = {"job": folder.name, "folder": folder, "overrides": {}, "goals": {}, "controls": {}}
    overrides_file = folder / ".hydra" / "overrides.yaml"
    try:
        overrides = yaml.safe_load(overrides_file.read_text()) if overrides_file.exists() else []
        row["overrides"] = dict(split_override(str(o)) for o in overrides or [])
    except (OSError, ValueError, TypeError, AttributeError, yaml.YAMLError) as error:
        return _unreadable(row, overrides_file, error)
    if (folder / SUMMARY).exists():
        try:
            summary = json.loads((folder / SUMMARY).read_text())
            if not isinstance(summary, dict) or not isinstance(summary.get("metrics", {}), dict):
                raise ValueError("not a summary object")
        except (OSError, ValueError) as error:
            return _unreadable(row, folder / SUMMARY, error)
        row.update(
            status=summary.get("status", "unknown"),
            reason=summary.get("reason", ""),
            metrics=summary.get("metrics") or {},
            verdict=summary.get("verdict") or "",
            goals=_mapping(summary.get("goals")),
            controls=_mapping(summary.get("controls")),
            judged=(summary.get("judged") or {}).get("metric")
            if isinstance(summary.get("judged"), dict)
            else None,
            steps_per_second=summary.get("steps_per_second"),
            wall_seconds=summary.get("wall_seconds"),
        )
        _with_slurm_fate(row, summary.get("slurm_job"))
    else:
        row.update(
            status="failed",
            reason="no summary.json: the job died before it could write one",
            metrics={},
        )
    return row


def _mapping(value) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _with_slurm_fate(row: dict, job_id: str | None) -> None:
    """A job that SLURM cancelled (scancel) stopped as on any SIGTERM, `interrupted`; sacct
    tells it from a preemption or a requeue, which run again: it is reported as cancelled."""
    if row["status"] != "interrupted" or not job_id:
        return
    from plastic.launchers import slurm_state

    state = slurm_state(job_id)
    if state and state.startswith("CANCELLED"):
        row.update(status="cancelled", reason=f"SLURM job {job_id} {state}; {row['reason']}")


def _unreadable(row: dict, path: Path, error: Exception) -> dict:
    reason = " ".join(str(error).split())[:120] or type(error).__name__
    row.update(status="unreadable", reason=f"{path.name} cannot be read ({reason})", metrics={})
    return row


def split_override(override: str) -> tuple[str, str]:
    """`+model.tau=3` -> ("model.tau", "3"): the key without Hydra's +/~ prefix, and the value."""
    key, _, value = override.partition("=")
    return key.lstrip("+~"), value


def collect(folder: Path) -> tuple[list[dict], bool]:
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"plastic report: {str(folder)!r} is not a folder")
    if (folder / SUMMARY).exists():
        return [load_run(folder)], False
    jobs = [p for p in folder.iterdir() if p.is_dir() and is_run(p)]
    if not jobs:
        raise UserError(
            f"plastic report: {str(folder)!r} holds no run (no summary.json, and no "
            "job folders with .hydra/overrides.yaml)"
        )
    jobs.sort(key=lambda p: (0, int(p.name)) if p.name.isdigit() else (1, p.name))
    return [load_run(p) for p in jobs], True


def swept_keys(rows: list[dict]) -> list[str]:
    keys = sorted({k for r in rows for k in r["overrides"]})
    return [k for k in keys if len({r["overrides"].get(k) for r in rows}) > 1]


def metric_names(rows: list[dict]) -> list[str]:
    names: list[str] = []
    for r in rows:
        names += [m for m in r["metrics"] if m not in names]
    return names


def sort_rows(rows, metric, ascending):
    def key(r):
        v = rep.as_number(r["metrics"].get(metric))
        missing = v is None or math.isnan(v)
        return (missing, (v if ascending else -v) if not missing else 0.0)

    return sorted(rows, key=key) if metric else rows


# ----------------------------------------------------------------------------- what it concludes
def conclude(
    rows: list[dict],
    replicate_keys=rep.REPLICATES,
    primary: str | None = None,
    keys: list[str] | None = None,
) -> rep.Findings:
    """Group the readable runs into conditions and answer the sweep's questions."""
    readable = [r for r in rows if r["status"] != "unreadable"]  # their overrides are unknown
    swept = swept_keys(readable) if keys is None else keys
    condition_keys = [k for k in swept if k not in replicate_keys]
    groups = rep.conditions(readable, condition_keys) if readable else []
    metrics = metric_names(rows)
    goals, controls = {}, {}
    for r in readable:
        for name, goal in r.get("goals", {}).items():
            goals.setdefault(name, goal)
        for name, control in r.get("controls", {}).items():
            controls.setdefault(name, control)
    varying = [m for m in metrics if not rep.constant(groups, m)]
    if primary is None:
        judged = {r.get("judged") for r in readable if r.get("judged")}
        primary = judged.pop() if len(judged) == 1 else (metrics[0] if metrics else None)
        if primary is not None and primary not in metrics:
            primary = metrics[0] if metrics else None
    findings = rep.Findings(
        condition_keys,
        [k for k in swept if k in replicate_keys],
        metrics,
        varying,
        groups,
        goals,
        controls,
        primary,
    )
    control_metrics = set(controls.values())
    for metric in varying:
        if metric in control_metrics:
            continue  # the untrained network is a control, not a condition's outcome
        if any(g.aggregate(metric).n for g in groups):
            findings.answers.append(rep.best_and_runner_up(groups, metric, goals.get(metric)))
    for metric, control in controls.items():
        if metric in metrics and control in metrics:
            findings.against[metric] = [
                rep.against_control(g, metric, control, goals.get(metric)) for g in groups
            ]
    findings.answers.sort(key=lambda a: a.metric != primary)  # the primary metric first
    return findings


# ----------------------------------------------------------------------------- tables
def write_csv(path: Path, rows, keys, metrics):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["job", "status", "reason", *keys, *metrics, "steps_per_second", "wall_seconds"]
    )
    for r in rows:
        writer.writerow(
            [
                r["job"],
                r["status"],
                r["reason"],
                *[r["overrides"].get(k, "") for k in keys],
                *[r["metrics"].get(m, "") for m in metrics],
                r.get("steps_per_second") or "",
                r.get("wall_seconds") or "",
            ]
        )
    write_text(path, out.getvalue())


def write_conditions_csv(path: Path, findings: rep.Findings) -> None:
    """A row per condition: its keys, n, and mean, sd and 95 % CI of every metric."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = [f"{m}_{s}" for m in findings.metrics for s in ("mean", "sd", "ci_low", "ci_high")]
    writer.writerow([*findings.condition_keys, "n", *columns, "verdict"])
    for group in findings.groups:
        cells = []
        for metric in findings.metrics:
            a = group.aggregate(metric)
            cells += [_csv_number(v) for v in (a.mean, a.sd, *a.ci95)]
        writer.writerow(
            [v for _, v in group.values] + [len(group.runs), *cells, findings.verdict(group)]
        )
    write_text(path, out.getvalue())


def _csv_number(value: float) -> str:
    return "" if value is None or math.isnan(value) else repr(float(value))


# ----------------------------------------------------------------------------- a report
def report(
    folder: Path,
    sort_by: str | None = None,
    ascending: bool = False,
    compare: list[Path] | None = None,
    replicate_keys: tuple[str, ...] = rep.REPLICATES,
    out: Path | None = None,
) -> dict:
    """The tables, figures and index.html of a sweep or a run folder, written into it (or
    into `out`, a new folder made whole); with `compare`, of those run folders, into `folder`."""
    if compare:
        return compare_runs(Path(folder), compare, replicate_keys)
    folder = Path(folder).resolve()
    rows, multirun = collect(folder)
    metrics = metric_names(rows)
    if sort_by and sort_by not in metrics:
        raise UserError(
            f"--sort {sort_by} is not a metric of these runs; they have: " + ", ".join(metrics)
        )
    findings = conclude(rows, replicate_keys, sort_by)
    rows = sort_rows(rows, findings.primary, ascending)
    if out is None:
        figures, page = _write_report(folder, folder, rows, findings, multirun)
    else:
        home = Path(out).resolve()
        with whole_folder(home, "plastic report --out") as building:
            figures, page = _write_report(building, home, rows, findings, multirun)
        figures, page = [home / p.name for p in figures], home / page.name
    return {
        "rows": rows,
        "findings": findings,
        "sort_by": findings.primary,
        "page": page,
        "figures": figures,
        "multirun": multirun,
        "compare": None,
    }


def _write_report(into: Path, home: Path, rows, findings: rep.Findings, multirun: bool):
    """sweep.csv, conditions.csv, the figures and index.html, written into `into`; the page's
    links are relative to `home`, where it will be read."""
    figures: list[Path] = []
    if multirun:
        from plastic.pictures import primitives as viz

        keys = findings.condition_keys + findings.replicate_keys
        write_csv(into / "sweep.csv", rows, keys, findings.metrics)
        if findings.condition_keys or findings.replicated:
            write_conditions_csv(into / "conditions.csv", findings)
        # one pool for all the figures: the cores stay busy until the last one is drawn
        figures = viz.draw_all(sweep.figure_drawings(into, findings, rows))
    runs = rows[0]["folder"].parent if multirun else rows[0]["folder"]
    title = f"plastic report: {runs.name}" + (f" ({len(rows)} runs)" if multirun else "")
    shown = [home / p.name for p in figures]
    page = pages.write_sweep_page(into / "index.html", title, rows, findings, shown, home)
    return figures, page


# ----------------------------------------------------------------------------- --compare
def compare_runs(
    out: Path, runs: list[Path], replicate_keys: tuple[str, ...] = rep.REPLICATES
) -> dict:
    """Runs from anywhere side by side, on their resolved configs, concluded as replicates
    where they differ in a replicate key; `out` (new or empty) is written whole or not at
    all: the page is made in a temporary folder beside it, then renamed into place."""
    rows, configs, as_written = [], [], []
    for run in runs:
        row, config, written = _comparable(Path(run))
        rows.append(row)
        configs.append(config)
        as_written.append(written)
    _name_uniquely(rows)
    out = Path(out).resolve()
    differing = differing_keys(configs)
    following = set(differing) - set(differing_keys(as_written))  # e.g. dataset.seed: ${seed}
    keys = [k for k in differing if k not in following and not k.startswith(HOW_IT_SHOWS)]
    # grouped by their configs' values: a run's overrides need not name its seed or settings
    settings = [
        {**row, "overrides": {k: config.get(k, "—") for k in keys}}
        for row, config in zip(rows, configs, strict=True)
    ]
    findings = conclude(settings, replicate_keys, keys=keys)
    with whole_folder(out, "plastic report --compare --out") as building:
        figures = sweep.compare_figures(building, rows)
        pages.write_compare_page(
            building / "index.html", out, rows, configs, differing, figures, findings
        )
    return {
        "rows": rows,
        "findings": findings,
        "sort_by": findings.primary,
        "page": out / "index.html",
        "figures": [out / p.name for p in figures],
        "multirun": True,
        "compare": differing,
        "configs": configs,
    }


def _comparable(run: Path) -> tuple[dict, dict, dict]:
    """A run's row and its config, flattened, resolved and as written; UserError for a
    missing, unfinished or damaged run."""
    where = f"plastic report --compare: {str(run)!r}"
    if not run.is_dir():
        raise UserError(f"{where} is not a folder")
    if not (run / SUMMARY).exists():
        raise UserError(f"{where} has no summary.json: not a run, or a run that has not ended")
    row = load_run(run.resolve())
    if row["status"] == "unreadable":
        raise UserError(f"{where}: {row['reason']}")
    if row["status"] != "completed":
        raise UserError(
            f"{where} did not complete (status {row['status']}): compare completed "
            "runs (resume=RUN finishes an interrupted one)"
        )
    try:
        config, written = flat_configs(run / CONFIG)
    except (OSError, ValueError) as error:
        raise UserError(f"{where}: its {CONFIG} cannot be read ({error})") from None
    return row, config, written


def flat_configs(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """A run's config (as Hydra saved it), read once, as dotted keys: resolved where it can
    be, and as written (where `dataset.seed` is still `${seed}`)."""
    from omegaconf import DictConfig, OmegaConf

    try:
        config = OmegaConf.load(path)
    except Exception as error:  # YAML errors come in many classes
        raise ValueError(" ".join(str(error).split())[:160]) from None
    if not isinstance(config, DictConfig):
        raise ValueError("not a mapping")
    written = OmegaConf.to_container(config, resolve=False)
    try:
        resolved = OmegaConf.to_container(config, resolve=True)
    except Exception:  # an interpolation of Hydra's own (${hydra:...}): kept as written
        resolved = written
    return _flat(resolved), _flat(written)


def _flat(plain: dict) -> dict[str, str]:
    flat: dict[str, str] = {}

    def walk(node, prefix):
        if isinstance(node, dict) and node:
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            flat[prefix[:-1]] = json.dumps(node) if isinstance(node, list | dict) else str(node)

    walk(plain, "")
    return flat


def differing_keys(configs: list[dict[str, str]]) -> list[str]:
    """Every key whose value differs between the configs (missing counts as a value)."""
    keys = sorted({k for c in configs for k in c})
    return [k for k in keys if len({c.get(k) for c in configs}) > 1]


def _name_uniquely(rows: list[dict]) -> None:
    """Each run named by its folder, with as many parents as make the names distinct."""
    for depth in range(1, 8):
        names = ["/".join(r["folder"].parts[-depth:]) for r in rows]
        if len(set(names)) == len(names):
            break
    for r, name in zip(rows, names, strict=True):
        r["job"] = name


# ----------------------------------------------------------------------------- the terminal
def print_table(result: dict) -> None:
    from rich.markup import escape

    from plastic.terminal import console as make_console

    console = make_console()
    findings: rep.Findings = result["findings"]
    if result.get("compare") is not None:
        _print_compare(console, result)
        if findings.replicated:
            _print_conditions(console, findings)
    elif findings.groups and (findings.condition_keys or findings.replicated):
        _print_conditions(console, findings)
    else:
        _print_runs(console, result)
    style = {"completed": "green", "interrupted": "yellow"}
    for r in result["rows"]:
        if r["status"] != "completed":
            colour = style.get(r["status"], "red")
            console.print(
                f"[{colour}]job {escape(r['job'])}[/{colour}] {r['status']}: {escape(r['reason'])}"
            )
    if result["figures"]:
        console.print(f"figures: {', '.join(p.name for p in result['figures'])}")
    what = "sweep.csv, conditions.csv and page" if findings.condition_keys else "page"
    if not result["multirun"] or result.get("compare") is not None:
        what = "page"
    console.print(f"{what}: [bold]{escape(str(result['page']))}[/bold]")


def _shown_metrics(findings: rep.Findings) -> list[str]:
    """The primary metric, then up to three that vary."""
    first = [findings.primary] if findings.primary else []
    return first + [m for m in findings.varying if m not in first][:3]


def _print_conditions(console, findings: rep.Findings) -> None:
    from rich.markup import escape
    from rich.table import Table

    shown = _shown_metrics(findings)
    replicates = ", ".join(findings.replicate_keys) or "repeats"
    table = Table(
        title=f"conditions: mean ± sd over the replicates ({replicates})", title_justify="left"
    )
    for key in findings.condition_keys:
        table.add_column(key)
    table.add_column("n", justify="right")
    for metric in shown:
        table.add_column(metric, justify="right")
    table.add_column("verdict")
    for g in findings.groups:
        table.add_row(
            *[escape(v) for _, v in g.values],
            str(len(g.runs)),
            *[g.aggregate(m).text(with_n=False) for m in shown],
            escape(findings.verdict(g)),
        )
    console.print(table)
    for a in findings.answers:
        if a.runner_up is None:
            continue
        way = {"max": "best", "min": "best (lowest)"}.get(a.goal, "largest")
        g_text = f", Hedges' g = {a.hedges_g:.2f}" if a.hedges_g is not None else ""
        console.print(
            f"[bold]{escape(a.metric)}[/bold]: {way} {escape(a.best.label)}, "
            f"{a.best.aggregate(a.metric).text()}; runner-up {escape(a.runner_up.label)}, "
            f"{a.runner_up.aggregate(a.metric).text()}: {escape(a.words)}{g_text}"
        )
    for metric, results in findings.against.items():
        for r in results:
            console.print(
                f"{escape(metric)} against untrained, {escape(r.condition.label)}: "
                f"{escape(r.words)}"
            )


def _print_runs(console, result: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    findings: rep.Findings = result["findings"]
    style = {"completed": "green", "interrupted": "yellow"}
    shown = (
        _shown_metrics(findings)
        if findings.varying
        else (([findings.primary] if findings.primary else []) + findings.metrics[1:4])
    )
    shown = list(dict.fromkeys(shown))
    keys = findings.condition_keys + findings.replicate_keys
    table = Table(title=f"sorted by {findings.primary}" if findings.primary else None)
    for column in ["job", "status", *keys, *shown]:
        table.add_column(column, justify="left" if column in ("job", "status") else "right")
    for r in result["rows"]:
        colour = style.get(r["status"], "red")
        table.add_row(
            escape(r["job"]),
            f"[{colour}]{r['status']}[/{colour}]",
            *[escape(str(r["overrides"].get(k, ""))) for k in keys],
            *[_plain(r["metrics"].get(m)) for m in shown],
        )
    console.print(table)


def _print_compare(console, result: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    rows = result["rows"]
    table = Table(title="settings that differ", title_justify="left")
    table.add_column("key")
    for r in rows:
        table.add_column(escape(r["job"]))
    for key in result["compare"]:
        table.add_row(escape(key), *[escape(c.get(key, "—")) for c in result["configs"]])
    if result["compare"]:
        console.print(table)
    else:
        console.print("the runs' resolved configs are the same")
    metrics = Table(title="final metrics", title_justify="left")
    metrics.add_column("metric")
    for r in rows:
        metrics.add_column(escape(r["job"]), justify="right")
    for m in result["findings"].metrics:
        metrics.add_row(escape(m), *[_plain(r["metrics"].get(m)) for r in rows])
    console.print(metrics)


def _plain(value) -> str:
    number = rep.as_number(value)
    if value is None:
        return ""
    return rep.number(number) if number is not None else str(value)
