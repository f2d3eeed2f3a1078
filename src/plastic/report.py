"""`plastic report FOLDER`: one table and one page for a sweep (or a single run).

For a multirun folder it reads every job's overrides and summary.json into sweep.csv, prints a
rich table sorted by a metric, draws a heat map per metric when the sweep is a 2-D grid of two
keys, marks failed, diverged and interrupted jobs with their reason, and writes index.html:
the table and, for each run, its GIFs and plots side by side, with relative links (offline).
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from pathlib import Path

import numpy as np
import yaml

from plastic.artifacts import SUMMARY, write_text
from plastic.errors import UserError

PICTURES = (
    "receptive_fields.gif",
    "activity.gif",
    "fields.png",
    "curves.png",
    "state.png",
    "reconstructions.png",
)


def is_run(folder: Path) -> bool:
    return (folder / ".hydra" / "overrides.yaml").exists() or (folder / SUMMARY).exists()


def load_run(folder: Path) -> dict:
    """One report row; a job whose summary.json or overrides cannot be read is reported as
    `unreadable`, with the reason, and the others as usual."""
    row = {"job": folder.name, "folder": folder, "overrides": {}}
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


def heatmaps(folder: Path, rows, keys, metrics) -> list[tuple]:
    """For a 2-D grid (two swept keys): one heat map per metric, the mean over repeats; as
    drawings for viz.draw_all, (function, args) each."""
    if len(keys) != 2:
        return []
    ys = sorted({r["overrides"][keys[0]] for r in rows}, key=_order)
    xs = sorted({r["overrides"][keys[1]] for r in rows}, key=_order)
    cells: dict[tuple, list[dict]] = {}  # (y, x): the runs there (repeats share a cell)
    for r in rows:
        cells.setdefault((r["overrides"][keys[0]], r["overrides"][keys[1]]), []).append(r)
    drawings = []
    for metric in metrics:
        grid = np.full((len(ys), len(xs)), np.nan)
        for i, y in enumerate(ys):
            for j, x in enumerate(xs):
                values = [_number(r["metrics"].get(metric)) for r in cells.get((y, x), ())]
                values = [v for v in values if v is not None]
                if values:
                    grid[i, j] = np.mean(values)
        if not np.isnan(grid).all():
            path = folder / f"heatmap_{metric}.png"
            drawings.append((_draw_heatmap, (path, metric, grid, xs, ys, keys)))
    return drawings


def _draw_heatmap(path: Path, metric: str, grid, xs, ys, keys) -> Path:
    from plastic import viz

    fig, ax = viz.plt.subplots(figsize=(1.5 + 0.9 * len(xs), 1.2 + 0.6 * len(ys)))
    image = ax.imshow(grid, cmap="viridis", aspect="auto")
    fig.colorbar(image, ax=ax, label=metric)
    ax.set_xticks(range(len(xs)), xs, rotation=45, ha="right")
    ax.set_yticks(range(len(ys)), ys)
    ax.set_xlabel(keys[1])
    ax.set_ylabel(keys[0])
    for i in range(len(ys)):
        for j in range(len(xs)):
            if not np.isnan(grid[i, j]):
                label = ax.text(j, i, f"{grid[i, j]:.3g}", ha="center", va="center",
                                color="white", fontsize=8)  # fmt: skip
                label.set_in_layout(False)  # inside the axes: the layout need not measure it
    ax.set_title(metric)
    fig.tight_layout()
    fig.set_layout_engine(None)  # laid out once: saving then draws the page once, not twice
    return viz.save_figure(fig, path, laid_out=True)


def compared(folder: Path, runs: list[Path]) -> list[dict]:
    """Rows for run folders from anywhere, named by their own folder (and its parent when two
    share a name); the page goes to `folder`, which must be new or empty."""
    folder.mkdir(parents=True, exist_ok=True)
    if any(p for p in folder.iterdir() if p.name not in ("index.html", "sweep.csv")):
        raise UserError(f"plastic report --compare: {str(folder)!r} holds other files")
    rows, names = [], set()
    for run in runs:
        run = Path(run).resolve()
        if not is_run(run):
            raise UserError(f"plastic report --compare: {str(run)!r} is not a run folder")
        row = load_run(run)
        name = run.name if run.name not in names else f"{run.parent.name}/{run.name}"
        names.add(name)
        row["job"] = name
        rows.append(row)
    return rows


def _curves(row: dict) -> dict[str, np.ndarray]:
    """A run's metrics.csv as columns (empty when it has none)."""
    try:
        with (row["folder"] / "metrics.csv").open() as f:
            table = list(csv.DictReader(f))
    except OSError:
        return {}
    columns = {}
    for name in table[0] if table else []:
        values = [_number(r[name]) for r in table]
        columns[name] = np.array([np.nan if v is None else v for v in values], dtype=float)
    return columns


def _colours(rows: list[dict], keys: list[str]):
    """A colour per run, by the first swept key's value (its order), and the legend's labels."""
    from plastic import viz

    if not keys:
        cmap = viz.plt.get_cmap("tab10")
        return [cmap(i % 10) for i in range(len(rows))], [r["job"] for r in rows]
    values = sorted({r["overrides"].get(keys[0], "") for r in rows}, key=_order)
    cmap = viz.plt.get_cmap("viridis")
    position = {v: i / max(1, len(values) - 1) for i, v in enumerate(values)}
    colours = [cmap(position[r["overrides"].get(keys[0], "")]) for r in rows]
    return colours, [f"{keys[0]}={r['overrides'].get(keys[0], '')}" for r in rows]


def overlays(folder: Path, rows: list[dict], keys: list[str]) -> list[tuple]:
    """One figure per recorded metric: every run's curve, coloured by the first swept key; as
    drawings for viz.draw_all."""
    curves = [(r, _curves(r)) for r in rows]
    curves = [(r, c) for r, c in curves if "step" in c and len(c["step"]) > 1]
    if len(curves) < 2:
        return []
    colours, labels = _colours([r for r, _ in curves], keys)
    names = [n for n in curves[0][1] if n not in ("step", "epoch")]
    drawings = []
    for name in names:
        series = [(c["step"], c[name]) if name in c else None for _, c in curves]
        path = folder / f"overlay_{name}.png"
        drawings.append((_draw_overlay, (path, name, series, colours, labels, keys)))
    return drawings


def _draw_overlay(path: Path, name: str, series, colours, labels, keys) -> Path:
    from plastic import viz

    fig, ax = viz.plt.subplots(figsize=(7, 3.6))
    shown = set()
    for steps_values, colour, label in zip(series, colours, labels, strict=True):
        if steps_values is None:
            continue
        ax.plot(*steps_values, color=colour, lw=1.2, alpha=0.85,
                label=None if label in shown else label)  # fmt: skip
        shown.add(label)
    ax.set_xlabel("step")
    ax.set_ylabel(name)
    ax.grid(alpha=0.3)
    if len(shown) <= 12:
        ax.legend(fontsize=7, loc="best")
    ax.set_title(f"{name}, every run" + (f", coloured by {keys[0]}" if keys else ""))
    fig.tight_layout()
    return viz.save_figure(fig, path)


def parallel_coordinates(folder: Path, rows: list[dict], keys: list[str], metric) -> list[Path]:
    """For a sweep over 3 or more keys: an axis per key and one for the metric, a line per run
    coloured by the metric (categorical values spaced in their order)."""
    if len(keys) < 3 or metric is None:
        return []
    from plastic import viz

    done = [r for r in rows if _number(r["metrics"].get(metric)) is not None]
    if len(done) < 2:
        return []
    axes = [*keys, metric]
    table = np.zeros((len(done), len(axes)))
    ticks = []
    for j, key in enumerate(axes):
        raw = [
            r["metrics"].get(metric) if key == metric else r["overrides"].get(key, "") for r in done
        ]
        numbers = [_number(v) for v in raw]
        if all(n is not None for n in numbers):
            values = np.array(numbers, dtype=float)
            low, high = values.min(), values.max()
            table[:, j] = (values - low) / (high - low) if high > low else 0.5
            ticks.append((f"{low:.3g}", f"{high:.3g}"))
        else:
            order = sorted(set(map(str, raw)), key=_order)
            table[:, j] = [order.index(str(v)) / max(1, len(order) - 1) for v in raw]
            ticks.append((order[0], order[-1]))
    score = table[:, -1]
    cmap = viz.plt.get_cmap("viridis")
    fig, ax = viz.plt.subplots(figsize=(1.8 * len(axes) + 1, 4))
    for i in np.argsort(score):
        ax.plot(range(len(axes)), table[i], color=cmap(score[i]), lw=1.2, alpha=0.8)
    for j, (low, high) in enumerate(ticks):
        ax.axvline(j, color="0.5", lw=0.8)
        ax.text(j, -0.06, low, ha="center", va="top", fontsize=7)
        ax.text(j, 1.06, high, ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(axes)), axes, rotation=20, ha="right", fontsize=8)
    ax.set_yticks([])
    ax.set_ylim(-0.15, 1.15)
    ax.set_title(f"the sweep's keys and {metric} (colour: {metric})")
    fig.tight_layout()
    return [viz.save_figure(fig, folder / "parallel_coordinates.png")]


def _order(value: str):
    number = _number(value)
    return (0, number, "") if number is not None else (1, 0.0, value)


def write_html(path: Path, title: str, rows, keys, metrics, maps: list[Path]) -> Path:
    base = path.parent
    esc = html.escape

    def link(p: Path) -> str:  # relative, so the folders can be copied and opened offline
        import os

        return esc(Path(os.path.relpath(p, base)).as_posix())

    head = "".join(f"<th>{esc(c)}</th>" for c in ["job", "status", *keys, *metrics])
    body = []
    for r in rows:
        status = f'<span class="{esc(r["status"])}">{esc(r["status"])}</span>'
        if r["reason"]:
            status += f'<div class="reason">{esc(r["reason"])}</div>'
        cells = [
            f'<a href="#run-{esc(r["job"])}">{esc(r["job"])}</a>',
            status,
            *[esc(str(r["overrides"].get(k, ""))) for k in keys],
            *[_fmt(r["metrics"].get(m)) for m in metrics],
        ]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    sections = []
    for r in rows:
        pictures = [r["folder"] / name for name in PICTURES if (r["folder"] / name).exists()]
        pictures += sorted(p for p in r["folder"].glob("heatmap_*.png"))
        figures = "".join(
            f'<figure><img src="{link(p)}" alt="{esc(p.name)}"><figcaption>'
            f"{esc(p.name)}</figcaption></figure>"
            for p in pictures
        )
        overrides = " ".join(f"{k}={v}" for k, v in r["overrides"].items()) or "(defaults)"
        sections.append(
            f'<section id="run-{esc(r["job"])}"><h2>{esc(r["job"])} '
            f"<small>{esc(overrides)}</small></h2>"
            f'<p><a href="{link(r["folder"])}/summary.json">summary.json</a> · '
            f'<a href="{link(r["folder"])}/metrics.csv">metrics.csv</a></p>'
            f'<div class="pictures">{figures or "<p>no pictures</p>"}</div></section>'
        )
    grid = "".join(f'<figure><img src="{link(p)}" alt="{esc(p.name)}"></figure>' for p in maps)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; font-size: 14px; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: right; }}
th {{ background: #f3f3f6; }}
td:nth-child(-n+2), th:nth-child(-n+2) {{ text-align: left; }}
.completed {{ color: #1a7f37; }} .failed, .diverged {{ color: #cf222e; }}
.interrupted {{ color: #9a6700; }} .reason {{ color: #666; font-size: 12px; max-width: 40em; }}
.pictures {{ display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }}
figure {{ margin: 0; }} img {{ max-width: 480px; max-height: 480px; image-rendering: pixelated; }}
figcaption {{ font-size: 12px; color: #666; }} small {{ color: #666; font-weight: normal; }}
</style></head><body>
<h1>{esc(title)}</h1>
<table id="runs"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>
<p class="reason">Click a column's name to sort by it.</p>
<div class="pictures">{grid}</div>
{"".join(sections)}
<script>
// the table sorts by any column: numbers as numbers, the rest as text; again to reverse
document.querySelectorAll("#runs th").forEach((th, column) => {{
  th.style.cursor = "pointer";
  th.addEventListener("click", () => {{
    const body = th.closest("table").tBodies[0];
    const rows = Array.from(body.rows);
    const value = (row) => row.cells[column].innerText.trim();
    const numeric = rows.every((row) => value(row) === "" || !isNaN(parseFloat(value(row))));
    const ascending = th.dataset.order !== "ascending";
    th.dataset.order = ascending ? "ascending" : "descending";
    rows.sort((a, b) => {{
      const [x, y] = [value(a), value(b)];
      const order = numeric ? (parseFloat(x) || 0) - (parseFloat(y) || 0) : x.localeCompare(y);
      return ascending ? order : -order;
    }});
    rows.forEach((row) => body.appendChild(row));
  }});
}});
</script>
</body></html>
"""
    return write_text(path, page)


def _fmt(value) -> str:
    number = _number(value)
    return (
        ""
        if value is None
        else (f"{number:.4g}" if number is not None else html.escape(str(value)))
    )


def report(
    folder: Path,
    sort_by: str | None = None,
    ascending: bool = False,
    compare: list[Path] | None = None,
) -> dict:
    """The table, sweep.csv, heat maps, overlaid curves, parallel coordinates and index.html
    of a sweep or a run folder; with `compare`, of those run folders, written to `folder`."""
    folder = Path(folder).resolve()
    if compare:
        rows, multirun = compared(folder, compare), True
    else:
        rows, multirun = collect(folder)
    readable = [r for r in rows if r["status"] != "unreadable"]  # their overrides are unknown
    keys, metrics = swept_keys(readable), metric_names(rows)
    if sort_by and sort_by not in metrics:
        raise UserError(
            f"--sort {sort_by} is not a metric of these runs; they have: " + ", ".join(metrics)
        )
    sort_by = sort_by or (metrics[0] if metrics else None)
    rows = sort_rows(rows, sort_by, ascending)
    maps = []
    if multirun:
        write_csv(folder / "sweep.csv", rows, keys, metrics)
        from plastic import viz

        # one pool for all the figures: the cores stay busy until the last one is drawn
        drawings = heatmaps(folder, readable, keys, metrics) + overlays(folder, readable, keys)
        maps = viz.draw_all(drawings)
        maps += parallel_coordinates(folder, readable, keys, sort_by)
    title = f"plastic report: {folder.name}" + (f" ({len(rows)} runs)" if multirun else "")
    page = write_html(folder / "index.html", title, rows, keys, metrics, maps)
    return {
        "rows": rows,
        "keys": keys,
        "metrics": metrics,
        "sort_by": sort_by,
        "page": page,
        "heatmaps": maps,
        "multirun": multirun,
    }


def print_table(result: dict) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    style = {"completed": "green", "interrupted": "yellow"}
    metrics = result["metrics"]
    shown = ([result["sort_by"]] if result["sort_by"] else []) + [
        m for m in metrics if m != result["sort_by"]
    ][:3]
    table = Table(title=f"sorted by {result['sort_by']}" if result["sort_by"] else None)
    for column in ["job", "status", *result["keys"], *shown]:
        table.add_column(column, justify="left" if column in ("job", "status") else "right")
    for r in result["rows"]:
        colour = style.get(r["status"], "red")
        table.add_row(
            r["job"],
            f"[{colour}]{r['status']}[/{colour}]",
            *[escape(str(r["overrides"].get(k, ""))) for k in result["keys"]],
            *[_fmt(r["metrics"].get(m)) for m in shown],
        )
    console = Console()
    console.print(table)
    for r in result["rows"]:
        if r["status"] != "completed":
            console.print(f"[red]job {escape(r['job'])}[/red] {r['status']}: {escape(r['reason'])}")
    if result["heatmaps"]:
        console.print(f"figures: {', '.join(p.name for p in result['heatmaps'])}")
    console.print(
        f"sweep.csv and page: [bold]{result['page']}[/bold]"
        if result["multirun"]
        else f"page: [bold]{result['page']}[/bold]"
    )
