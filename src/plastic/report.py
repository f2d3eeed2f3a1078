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
and their pictures; its folder is written whole or not at all.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from plastic import replicates as rep
from plastic.artifacts import SUMMARY, whole_folder, write_text
from plastic.errors import UserError

PICTURES = (
    "receptive_fields.gif",
    "activity.gif",
    "fields.png",
    "curves.png",
    "state.png",
    "reconstructions.png",
)
CONFIG = Path(".hydra") / "config.yaml"
LINKS = (
    ("config", str(CONFIG)),
    ("log", "run.log"),
    ("summary", SUMMARY),
    ("metrics", "metrics.csv"),
)


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


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def sort_rows(rows, metric, ascending):
    def key(r):
        v = _number(r["metrics"].get(metric))
        missing = v is None or math.isnan(v)
        return (missing, (v if ascending else -v) if not missing else 0.0)

    return sorted(rows, key=key) if metric else rows


# ----------------------------------------------------------------------------- what it concludes
@dataclass
class Findings:
    """A sweep's conditions, their aggregates and the answers to its questions."""

    condition_keys: list[str]
    replicate_keys: list[str]
    metrics: list[str]  # every final metric, in the runs' order
    varying: list[str]  # those that are not the same in every run: they get figures and tests
    groups: list[rep.Condition]
    goals: dict[str, str]  # metric -> "max" | "min", as the runs declare them
    controls: dict[str, str]  # metric -> its untrained control, measured in the same run
    primary: str | None  # the metric the table sorts by and the verdicts speak of
    answers: list[rep.Difference] = field(default_factory=list)
    against: dict[str, list[rep.AgainstControl]] = field(default_factory=dict)  # by metric

    @property
    def replicated(self) -> bool:
        return any(len(g.runs) > 1 for g in self.groups)

    def verdict(self, group: rep.Condition) -> str:
        """The condition's verdict on the primary metric: best or runner-up, and against the
        untrained control."""
        words = []
        answer = next((a for a in self.answers if a.metric == self.primary), None)
        if answer is not None and answer.runner_up is not None:
            if group is answer.best:
                words.append(f"best on {self.primary}, {answer.words}")
            elif group is answer.runner_up:
                words.append(f"runner-up on {self.primary}")
        for result in self.against.get(self.primary, []):
            if result.condition is group:
                words.append(result.words)
        return "; ".join(words)


def conclude(
    rows: list[dict],
    replicate_keys=rep.REPLICATES,
    primary: str | None = None,
    keys: list[str] | None = None,
) -> Findings:
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
    findings = Findings(
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


def write_conditions_csv(path: Path, findings: Findings) -> None:
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


# ----------------------------------------------------------------------------- figures
def figure_drawings(folder: Path, findings: Findings, rows: list[dict]) -> list[tuple]:
    """The report's figures as (function, args) for viz.draw_all: a figure per metric that
    varies (error bars for one condition key, a heat map for two), the curves per condition,
    and parallel coordinates for three keys or more."""
    from plastic.pictures import sweep

    drawings = []
    keys, groups = findings.condition_keys, findings.groups
    for metric in findings.varying:
        goal = findings.goals.get(metric)
        if len(keys) <= 1:
            aggregates = [g.aggregate(metric) for g in groups]
            if not any(a.n for a in aggregates):
                continue
            labels = [g.values[0][1] if g.values else "all runs" for g in groups]
            drawings.append(
                (
                    sweep.by_condition,
                    (
                        folder / f"metric_{metric}.svg",
                        metric,
                        keys[0] if keys else "",
                        labels,
                        [list(a.values) for a in aggregates],
                        [a.mean for a in aggregates],
                        [a.ci95 for a in aggregates],
                        goal,
                    ),
                )
            )
        elif len(keys) == 2:
            drawings.append(_heatmap(folder, findings, metric, goal))
    drawings += _overlays(folder, findings, rows)
    if len(keys) >= 3 and findings.primary in findings.varying:
        drawings += _parallel(folder, findings)
    return drawings


def _heatmap(folder: Path, findings: Findings, metric: str, goal: str | None) -> tuple:
    from plastic.pictures import sweep

    keys = findings.condition_keys
    ys = sorted({dict(g.values)[keys[0]] for g in findings.groups}, key=rep.order_key)
    xs = sorted({dict(g.values)[keys[1]] for g in findings.groups}, key=rep.order_key)
    means, sds = np.full((len(ys), len(xs)), np.nan), np.full((len(ys), len(xs)), np.nan)
    counts = np.zeros((len(ys), len(xs)))
    for g in findings.groups:
        values = dict(g.values)
        i, j = ys.index(values[keys[0]]), xs.index(values[keys[1]])
        a = g.aggregate(metric)
        means[i, j], sds[i, j], counts[i, j] = a.mean, a.sd, a.n
    path = folder / f"heatmap_{metric}.svg"
    return (sweep.heatmap, (path, metric, keys, xs, ys, means, sds, counts, goal))


def _curves(folder: Path) -> dict[str, np.ndarray]:
    """A run's metrics.csv as columns (empty when it has none or it cannot be read)."""
    try:
        with (folder / "metrics.csv").open() as f:
            table = list(csv.DictReader(f))
    except (OSError, csv.Error, UnicodeDecodeError):
        return {}
    columns = {}
    for name in table[0] if table else []:
        values = [_number(r.get(name)) for r in table]
        columns[name] = np.array([np.nan if v is None else v for v in values], dtype=float)
    return columns


def _overlays(folder: Path, findings: Findings, rows: list[dict]) -> list[tuple]:
    """A figure per recorded metric: each condition's replicates and their mean."""
    from plastic.pictures import sweep

    curves = {id(r): _curves(r["folder"]) for r in rows if r["status"] != "unreadable"}
    curves = {k: c for k, c in curves.items() if "step" in c and len(c["step"]) > 1}
    if len(curves) < 2:
        return []
    names: list[str] = []
    for c in curves.values():
        names += [n for n in c if n not in ("step", "epoch") and n not in names]
    key_text = ", by condition" if findings.condition_keys else ""
    drawings = []
    for name in names:
        groups = []
        for g in findings.groups:
            series = [
                (curves[id(r)]["step"], curves[id(r)][name])
                for r in g.runs
                if id(r) in curves and name in curves[id(r)]
            ]
            if series:
                groups.append((g.label, series))
        if groups:
            path = folder / f"overlay_{name}.svg"
            drawings.append((sweep.overlay, (path, name, groups, key_text)))
    return drawings


def _parallel(folder: Path, findings: Findings) -> list[tuple]:
    """Parallel coordinates over the conditions' means of the primary metric."""
    from plastic.pictures import sweep

    metric = findings.primary
    done = [g for g in findings.groups if g.aggregate(metric).n]
    if len(done) < 2:
        return []
    axes = [*findings.condition_keys, metric]
    table, ticks = np.zeros((len(done), len(axes))), []
    for j, key in enumerate(axes):
        raw = [g.aggregate(metric).mean if key == metric else dict(g.values)[key] for g in done]
        numbers = [_number(v) for v in raw]
        if all(n is not None for n in numbers):
            values = np.array(numbers, dtype=float)
            low, high = values.min(), values.max()
            table[:, j] = (values - low) / (high - low) if high > low else 0.5
            ticks.append((f"{low:.3g}", f"{high:.3g}"))
        else:
            order = sorted(set(map(str, raw)), key=rep.order_key)
            table[:, j] = [order.index(str(v)) / max(1, len(order) - 1) for v in raw]
            ticks.append((order[0], order[-1]))
    path = folder / "parallel_coordinates.svg"
    return [(sweep.parallel_coordinates, (path, axes, table, ticks, metric))]


# ----------------------------------------------------------------------------- the page
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1400px; }
h2 { margin-top: 1.6em; } small, .note { color: #666; font-weight: normal; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 14px; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: right;
         vertical-align: top; white-space: nowrap; }
th { background: #f3f3f6; }
td.text, th.text { text-align: left; } td.text { white-space: normal; min-width: 14em; }
td.name, th.name { text-align: left; }
tr.best td { background: #eef7ee; }
.completed { color: #1a7f37; } .failed, .diverged, .unreadable { color: #cf222e; }
.interrupted, .cancelled { color: #9a6700; } .reason { color: #666; font-size: 12px;
  max-width: 40em; }
.pictures { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
.side { display: flex; gap: 18px; align-items: flex-start; }
.side > div { flex: 1 1 0; min-width: 0; }
figure { margin: 0; } figcaption { font-size: 12px; color: #666; }
img { max-width: 100%; height: auto; }
.links a { margin-right: 0.6em; font-size: 13px; }
"""

SORTABLE = """
<script>
// a table whose class is "sortable" sorts by any column: numbers as numbers, the rest as text
document.querySelectorAll("table.sortable th").forEach((th) => {
  th.style.cursor = "pointer";
  th.title = "sort by this column; again to reverse";
  th.addEventListener("click", () => {
    const column = Array.from(th.parentNode.children).indexOf(th);
    const body = th.closest("table").tBodies[0];
    const rows = Array.from(body.rows);
    const value = (row) => row.cells[column].dataset.value ?? row.cells[column].innerText.trim();
    const numeric = rows.every((row) => value(row) === "" || !isNaN(parseFloat(value(row))));
    const ascending = th.dataset.order !== "ascending";
    th.dataset.order = ascending ? "ascending" : "descending";
    rows.sort((a, b) => {
      const [x, y] = [value(a), value(b)];
      const order = numeric ? (parseFloat(x) || 0) - (parseFloat(y) || 0) : x.localeCompare(y);
      return ascending ? order : -order;
    });
    rows.forEach((row) => body.appendChild(row));
  });
});
</script>
"""


def _esc(text) -> str:
    return html.escape(str(text))


class Page:
    """index.html, its links relative to the folder it will live in."""

    def __init__(self, home: Path):
        self.home, self.parts = home, []

    def link(self, path: Path) -> str:
        return _esc(Path(os.path.relpath(path, self.home)).as_posix())

    def add(self, text: str) -> None:
        self.parts.append(text)

    def table(
        self,
        head: list[str],
        body: list[list[str]],
        classes: list[str] | None = None,
        sortable: bool = False,
        table_id: str = "",
        row_classes=None,
    ) -> None:
        """`body` cells are HTML already; `classes`: a class per column."""
        classes = classes or [""] * len(head)
        attrs = (f' id="{table_id}"' if table_id else "") + (
            ' class="sortable"' if sortable else ""
        )
        pairs = zip(head, classes, strict=True)
        cells = "".join(f'<th class="{c}">{_esc(h)}</th>' for h, c in pairs)
        rows = []
        for index, row in enumerate(body):
            css = f' class="{row_classes[index]}"' if row_classes and row_classes[index] else ""
            rows.append(
                f"<tr{css}>"
                + "".join(f'<td class="{c}">{v}</td>' for v, c in zip(row, classes, strict=True))
                + "</tr>"
            )
        self.add(
            f'<div class="scroll"><table{attrs}><thead><tr>{cells}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>"
        )

    def figures(self, paths: list[Path], captions: bool = True) -> None:
        if not paths:
            return
        self.add(
            '<div class="pictures">' + "".join(self.figure(p, captions) for p in paths) + "</div>"
        )

    def figure(self, path: Path, caption: bool = True) -> str:
        text = f"<figcaption>{_esc(path.name)}</figcaption>" if caption else ""
        return (
            f'<figure><img src="{self.link(path)}" alt="{_esc(path.name)}" '
            f'loading="lazy">{text}</figure>'
        )

    def write(self, path: Path, title: str) -> Path:
        page = (
            f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_esc(title)}</title><style>{STYLE}</style></head><body>\n"
            f"<h1>{_esc(title)}</h1>\n" + "\n".join(self.parts) + SORTABLE + "</body></html>\n"
        )
        return write_text(path, page)


def _status_cell(r: dict) -> str:
    cell = f'<span class="{_esc(r["status"])}">{_esc(r["status"])}</span>'
    if r.get("reason"):
        cell += f'<div class="reason">{_esc(r["reason"])}</div>'
    return cell


def _metric_cell(value) -> str:
    number = _number(value)
    if value is None:
        return ""
    if number is None:
        return _esc(value)
    return f'<span data-value="{number!r}">{_esc(rep.number(number))}</span>'


def _run_links(page: Page, folder: Path) -> str:
    found = [(name, folder / rel) for name, rel in LINKS if (folder / rel).exists()]
    return (
        '<span class="links">'
        + "".join(f'<a href="{page.link(p)}">{_esc(name)}</a>' for name, p in found)
        + "</span>"
    )


def _pictures(folder: Path) -> list[Path]:
    return [folder / name for name in PICTURES if (folder / name).exists()] + sorted(
        p for p in folder.glob("*.png") if p.name not in PICTURES
    )


def _runs_section(page: Page, rows: list[dict], keys: list[str], metrics: list[str]) -> None:
    """A row per run, linking its config, log, summary, metrics and pictures."""
    head = ["job", "status", *keys, *metrics, "verdict", "files"]
    classes = ["name", "text", *["" for _ in keys], *["" for _ in metrics], "text", "text"]
    body = []
    for r in rows:
        name = _esc(r["job"])
        pictures = _pictures(r["folder"]) if r["status"] != "unreadable" else []
        job = f'<a href="#run-{name}">{name}</a>' if pictures else name
        body.append(
            [
                job,
                _status_cell(r),
                *[_esc(r["overrides"].get(k, "")) for k in keys],
                *[_metric_cell(r["metrics"].get(m)) for m in metrics],
                _esc(r.get("verdict", "")),
                _run_links(page, r["folder"]),
            ]
        )
    page.table(head, body, classes, sortable=True, table_id="runs")


def _run_sections(page: Page, rows: list[dict]) -> None:
    for r in rows:
        pictures = _pictures(r["folder"]) if r["status"] != "unreadable" else []
        if not pictures:
            continue
        overrides = " ".join(f"{k}={v}" for k, v in r["overrides"].items()) or "(defaults)"
        page.add(
            f'<section id="run-{_esc(r["job"])}"><h3>{_esc(r["job"])} '
            f"<small>{_esc(overrides)}</small></h3>{_run_links(page, r['folder'])}"
        )
        page.figures(pictures)
        page.add("</section>")


def _answers_section(page: Page, findings: Findings) -> None:
    if not findings.answers and not findings.against:
        return
    page.add("<h2>What the sweep answers</h2>")
    if findings.answers:
        body = []
        for a in findings.answers:
            way = {"max": "highest", "min": "lowest"}.get(a.goal, "largest (no direction)")
            runner = a.runner_up
            body.append(
                [
                    _esc(a.metric),
                    _esc(way),
                    _esc(a.best.label),
                    _esc(a.best.aggregate(a.metric).text()),
                    _esc(runner.label if runner else ""),
                    _esc(runner.aggregate(a.metric).text() if runner else ""),
                    _esc(rep.p_text(a.p_value) if a.p_value is not None else ""),
                    _esc(f"{a.hedges_g:.2f}" if a.hedges_g is not None else ""),
                    _esc(a.words),
                ]
            )
        head = [
            "metric",
            "best is",
            "best",
            "mean ± sd",
            "runner-up",
            "mean ± sd",
            "Welch's t-test",
            "Hedges' g",
            "answer",
        ]
        page.table(head, body, ["name", "text", "text", "", "text", "", "", "", "text"])
    for metric, results in findings.against.items():
        control = findings.controls[metric]
        page.add(
            f"<p>Learning against the untrained network ({_esc(metric)} against "
            f"{_esc(control)}, measured in the same runs, paired by replicate):</p>"
        )
        body = [
            [_esc(r.condition.label), str(r.n), _esc(rep.number(r.mean_difference)), _esc(r.words)]
            for r in results
        ]
        page.table(
            ["condition", "n", "learned - untrained", "answer"], body, ["text", "", "", "text"]
        )
    page.add(
        f'<p class="note">Tests at the {rep.ALPHA:g} level, two-sided; one test per '
        "metric (best against runner-up), not corrected for the number of metrics.</p>"
    )


def _conditions_section(page: Page, findings: Findings) -> None:
    page.add(
        f"<h2>Conditions <small>mean ± sd over the replicates "
        f"({_esc(', '.join(findings.replicate_keys) or 'repeats')}); hover for the 95 % "
        f"confidence interval</small></h2>"
    )
    best = next((a.best for a in findings.answers if a.metric == findings.primary), None)
    head = [*findings.condition_keys, "n", *findings.metrics, "verdict"]
    classes = [
        *["name" for _ in findings.condition_keys],
        "",
        *["" for _ in findings.metrics],
        "text",
    ]
    body, row_classes = [], []
    for g in findings.groups:
        cells = []
        for metric in findings.metrics:
            a = g.aggregate(metric)
            low, high = a.ci95
            tip = f"95 % CI [{rep.number(low)}, {rep.number(high)}]" if a.n > 1 else "n < 2"
            cells.append(
                f'<span data-value="{a.mean!r}" title="{_esc(tip)}">'
                f"{_esc(a.text(with_n=False))}</span>"
                if a.n
                else ""
            )
        body.append(
            [*[_esc(v) for _, v in g.values], str(len(g.runs)), *cells, _esc(findings.verdict(g))]
        )
        row_classes.append("best" if g is best else "")
    page.table(head, body, classes, sortable=True, table_id="conditions", row_classes=row_classes)


def write_sweep_page(
    path: Path, title: str, rows: list[dict], findings: Findings, figures: list[Path], home: Path
) -> Path:
    page = Page(home)
    keys = findings.condition_keys + findings.replicate_keys
    counts = {
        s: sum(r["status"] == s for r in rows) for s in dict.fromkeys(r["status"] for r in rows)
    }
    page.add(
        "<p>"
        + _esc(", ".join(f"{n} {s}" for s, n in counts.items()))
        + (
            f"; conditions: {_esc(', '.join(findings.condition_keys))}"
            if findings.condition_keys
            else ""
        )
        + (
            f"; replicates: {_esc(', '.join(findings.replicate_keys))}"
            if findings.replicate_keys
            else ""
        )
        + "</p>"
    )
    if findings.groups and (findings.condition_keys or findings.replicated):
        _answers_section(page, findings)
        _conditions_section(page, findings)
    if figures:
        page.add("<h2>Figures</h2>")
        page.figures(figures)
    page.add("<h2>Runs</h2>")
    _runs_section(page, rows, keys, findings.metrics)
    _run_sections(page, rows)
    return page.write(path, title)


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
        return compare_runs(Path(folder), compare)
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


def _write_report(into: Path, home: Path, rows, findings: Findings, multirun: bool):
    """sweep.csv, conditions.csv, the figures and index.html, written into `into`; the page's
    links are relative to `home`, where it will be read."""
    figures: list[Path] = []
    if multirun:
        from plastic import viz

        keys = findings.condition_keys + findings.replicate_keys
        write_csv(into / "sweep.csv", rows, keys, findings.metrics)
        if findings.condition_keys or findings.replicated:
            write_conditions_csv(into / "conditions.csv", findings)
        # one pool for all the figures: the cores stay busy until the last one is drawn
        figures = viz.draw_all(figure_drawings(into, findings, rows))
    runs = rows[0]["folder"].parent if multirun else rows[0]["folder"]
    title = f"plastic report: {runs.name}" + (f" ({len(rows)} runs)" if multirun else "")
    shown = [home / p.name for p in figures]
    page = write_sweep_page(into / "index.html", title, rows, findings, shown, home)
    return figures, page


# ----------------------------------------------------------------------------- --compare
def compare_runs(out: Path, runs: list[Path]) -> dict:
    """Runs from anywhere side by side, on their resolved configs; `out` (new or empty) is
    written whole or not at all: the page is made in a temporary folder beside it, then
    renamed into place."""
    rows, configs = [], []
    for run in runs:
        row, config = _comparable(Path(run))
        rows.append(row)
        configs.append(config)
    _name_uniquely(rows)
    out = Path(out).resolve()
    differing = differing_keys(configs)
    with whole_folder(out, "plastic report --compare --out") as building:
        figures = _compare_figures(building, rows)
        findings = conclude(rows, (), keys=[])
        _write_compare_page(
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


def _comparable(run: Path) -> tuple[dict, dict]:
    """A run's row and its resolved config, flattened; UserError for a missing, unfinished or
    damaged run."""
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
        config = flat_config(run / CONFIG)
    except (OSError, ValueError) as error:
        raise UserError(f"{where}: its {CONFIG} cannot be read ({error})") from None
    return row, config


def flat_config(path: Path) -> dict[str, str]:
    """A run's config (as Hydra saved it), resolved where it can be, as dotted keys."""
    from omegaconf import DictConfig, OmegaConf

    try:
        config = OmegaConf.load(path)
    except Exception as error:  # YAML errors come in many classes
        raise ValueError(" ".join(str(error).split())[:160]) from None
    if not isinstance(config, DictConfig):
        raise ValueError("not a mapping")
    try:
        plain = OmegaConf.to_container(config, resolve=True)
    except Exception:  # an interpolation of Hydra's own (${hydra:...}): kept as written
        plain = OmegaConf.to_container(config, resolve=False)
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


def _compare_figures(building: Path, rows: list[dict]) -> list[Path]:
    """A figure per recorded metric that two runs or more share: a line per run."""
    from plastic import viz
    from plastic.pictures import sweep

    curves = [(r, _curves(r["folder"])) for r in rows]
    curves = [(r, c) for r, c in curves if "step" in c and len(c["step"]) > 1]
    names: list[str] = []
    for _, c in curves:
        names += [n for n in c if n not in ("step", "epoch") and n not in names]
    drawings = []
    for name in names:
        groups = [(r["job"], [(c["step"], c[name])]) for r, c in curves if name in c]
        if len(groups) >= 2:
            drawings.append((sweep.overlay, (building / f"overlay_{name}.svg", name, groups, "")))
    return viz.draw_all(drawings)


def _write_compare_page(
    path: Path, home: Path, rows, configs, differing, figures, findings
) -> Path:
    page = Page(home)
    names = [r["job"] for r in rows]
    page.add(
        f"<h2>Settings that differ <small>{len(differing)} keys of the resolved "
        "configs</small></h2>"
    )
    if differing:
        body = [[_esc(k), *[_esc(c.get(k, "—")) for c in configs]] for k in differing]
        page.table(["key", *names], body, ["name", *["text" for _ in names]])
    else:
        page.add("<p>The runs' resolved configs are the same.</p>")
    page.add("<h2>Final metrics</h2>")
    body = [[_esc(m), *[_metric_cell(r["metrics"].get(m)) for r in rows]] for m in findings.metrics]
    body.append(["verdict", *[_esc(r.get("verdict", "")) for r in rows]])
    body.append(["files", *[_run_links(page, r["folder"]) for r in rows]])
    page.table(["metric", *names], body, ["name", *["" for _ in names]])
    if figures:
        page.add("<h2>Curves they share</h2>")
        page.figures([home / p.name for p in figures])
    page.add('<h2>Pictures side by side</h2><div class="side">')
    for r in rows:
        page.add(f"<div><h3>{_esc(r['job'])}</h3>")
        page.figures(_pictures(r["folder"]))
        page.add("</div>")
    page.add("</div>")
    return page.write(path, f"plastic report: {len(rows)} runs compared")


# ----------------------------------------------------------------------------- the terminal
def print_table(result: dict) -> None:
    from rich.markup import escape

    from plastic.terminal import console as make_console

    console = make_console()
    findings: Findings = result["findings"]
    if result.get("compare") is not None:
        _print_compare(console, result)
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


def _shown_metrics(findings: Findings) -> list[str]:
    """The primary metric, then up to three that vary."""
    first = [findings.primary] if findings.primary else []
    return first + [m for m in findings.varying if m not in first][:3]


def _print_conditions(console, findings: Findings) -> None:
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

    findings: Findings = result["findings"]
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
    number = _number(value)
    if value is None:
        return ""
    return rep.number(number) if number is not None else str(value)
