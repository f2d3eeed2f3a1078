"""The figures of `plastic report`: a sweep's conditions with their replicates, as SVG.

- `by_condition`: one swept condition key: the mean of each condition with its 95 % confidence
  interval as an error bar, a line when the key's values are numbers; every replicate a dot;
- `heatmap`: two condition keys: the mean in each cell, labelled "mean ± sd" in a colour that
  reads on the cell's own colour;
- `overlay`: a recorded metric against the step: each condition's mean as a line with a band
  of ± one standard deviation, each replicate a thin line of the same colour;
- `parallel_coordinates`: three or more keys: an axis per key and one for the metric.

Each takes plain numbers (it may run in another process) and writes one file.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np

from plastic import replicates as rep
from plastic.pictures import primitives as viz

DOT = dict(s=14, alpha=0.55, linewidths=0, zorder=3)


def _numeric(labels: list[str]) -> np.ndarray | None:
    try:
        return np.array([float(v) for v in labels])
    except ValueError:
        return None


def by_condition(
    path: Path,
    metric: str,
    key: str,
    labels: list[str],
    values: list[list[float]],
    means: list[float],
    cis: list[tuple[float, float]],
    goal: str | None,
) -> Path:
    """`values[i]`: the replicates of condition `labels[i]`; `means[i]` their mean, `cis[i]`
    its 95 % confidence interval."""
    fig, ax = viz.plt.subplots(figsize=(5.6, 3.5))
    numbers = _numeric(labels)
    xs = numbers if numbers is not None else np.arange(len(labels), dtype=float)
    means = np.asarray(means, dtype=float)
    bars = [
        [m - lo if np.isfinite(lo) else 0.0 for m, (lo, _) in zip(means, cis, strict=True)],
        [hi - m if np.isfinite(hi) else 0.0 for m, (_, hi) in zip(means, cis, strict=True)],
    ]
    colour = viz.plt.get_cmap("tab10")(0)
    ax.errorbar(
        xs,
        means,
        yerr=bars,
        color=colour,
        lw=1.6,
        capsize=4,
        marker="o",
        ls="-" if numbers is not None else "none",
        label="mean, 95 % CI",
    )
    span = (np.ptp(xs) if len(xs) > 1 else 1.0) or 1.0
    jitter = np.random.default_rng(0)  # fixed: the same sweep draws the same picture
    for x, replicate_values in zip(xs, values, strict=True):
        offsets = jitter.uniform(-0.015, 0.015, len(replicate_values)) * span
        ax.scatter(x + offsets, replicate_values, color="0.25", **DOT)
    ax.scatter([], [], color="0.25", label="each replicate", **DOT)
    if numbers is None:
        ax.set_xticks(xs, labels, rotation=30 if max(map(len, labels)) > 6 else 0, ha="right")
        ax.set_xlim(-0.5, len(labels) - 0.5)
    elif _log_spaced(numbers):
        ax.set_xscale("log")
    ax.set_xlabel(key)
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    way = {"max": " (higher is better)", "min": " (lower is better)"}.get(goal, "")
    ax.set_title(f"{metric}{way}", fontsize=10)
    fig.tight_layout()
    return viz.save_figure(fig, path)


def _log_spaced(values: np.ndarray) -> bool:
    """Positive values spanning two decades or more read better on a log axis."""
    return bool((values > 0).all() and values.max() / values.min() >= 100)


def heatmap(
    path: Path,
    metric: str,
    keys: list[str],
    xs: list[str],
    ys: list[str],
    means: np.ndarray,
    sds: np.ndarray,
    counts: np.ndarray,
    goal: str | None,
) -> Path:
    """Rows: the values of keys[0]; columns: those of keys[1]. Cells drawn as vector shapes
    (pcolormesh), so the page shows them sharp at any zoom."""
    fig, ax = viz.plt.subplots(figsize=(2.2 + 1.15 * len(xs), 1.4 + 0.62 * len(ys)))
    cmap = viz.plt.get_cmap("viridis" if goal != "min" else "viridis_r")
    masked = np.ma.masked_invalid(means)
    mesh = ax.pcolormesh(masked, cmap=cmap, edgecolors="white", linewidth=0.5)
    fig.colorbar(mesh, ax=ax, label=metric)
    ax.set_xticks(
        np.arange(len(xs)) + 0.5,
        xs,
        rotation=30 if max(map(len, xs)) > 5 else 0,
        ha="right" if max(map(len, xs)) > 5 else "center",
    )
    ax.set_yticks(np.arange(len(ys)) + 0.5, ys)
    ax.set_xlabel(keys[1])
    ax.set_ylabel(keys[0])
    ax.invert_yaxis()  # the first value at the top, as in the table
    for i in range(len(ys)):
        for j in range(len(xs)):
            if not np.isfinite(means[i, j]):
                continue
            text = f"{means[i, j]:.3g}"
            if counts[i, j] > 1:
                text += f"\n± {sds[i, j]:.2g}"
            ax.text(
                j + 0.5,
                i + 0.5,
                text,
                ha="center",
                va="center",
                fontsize=8,
                color=label_colour(mesh.to_rgba(means[i, j])),
            )
    n = int(np.nanmax(counts)) if counts.size else 0
    ax.set_title(f"{metric}: mean ± sd over the replicates (n ≤ {n})", fontsize=10)
    fig.tight_layout()
    return viz.save_figure(fig, path)


def label_colour(rgba) -> str:
    """Black on a light cell, white on a dark one (relative luminance, as WCAG defines it)."""

    def linear(c):
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgba[:3])
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.179 else "white"


def overlay(
    path: Path,
    name: str,
    groups: list[tuple[str, list[tuple[np.ndarray, np.ndarray]]]],
    key_text: str,
) -> Path:
    """groups: (label, [(steps, values) for each replicate]); the mean and a band of ± one
    standard deviation are drawn where the replicates share their steps; each replicate is a
    thin line."""
    fig, ax = viz.plt.subplots(figsize=(5.6, 3.5))
    cmap = viz.plt.get_cmap("viridis" if len(groups) > 10 else "tab10")
    for index, (label, curves) in enumerate(groups):
        colour = cmap(index / max(1, len(groups) - 1)) if len(groups) > 10 else cmap(index % 10)
        for steps, values in curves:
            ax.plot(steps, values, color=colour, lw=0.7, alpha=0.35)
        common = _shared_steps(curves)
        if common is None:
            continue
        steps, table = common
        with warnings.catch_warnings():  # a step where no replicate has a value stays empty
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(table, axis=0)
            sd = np.nanstd(table, axis=0, ddof=1) if len(table) > 1 else None
        ax.plot(steps, mean, color=colour, lw=1.8, label=f"{label} (n={len(table)})")
        if sd is not None:
            ax.fill_between(steps, mean - sd, mean + sd, color=colour, alpha=0.18, lw=0)
    ax.set_xlabel("step")
    ax.set_ylabel(name)
    ax.grid(alpha=0.3)
    if len(groups) <= 12:
        ax.legend(fontsize=7, loc="best")
    ax.set_title(f"{name}: mean ± sd{key_text}", fontsize=10)
    fig.tight_layout()
    return viz.save_figure(fig, path)


def _shared_steps(curves) -> tuple[np.ndarray, np.ndarray] | None:
    """The replicates' values on the steps they all recorded (None if they share none)."""
    if not curves:
        return None
    common = curves[0][0]
    for steps, _ in curves[1:]:
        common = np.intersect1d(common, steps)
    if len(common) < 2:
        return None
    table = np.array([values[np.searchsorted(steps, common)] for steps, values in curves])
    return common, table


def parallel_coordinates(
    path: Path, axes: list[str], table: np.ndarray, ticks: list[tuple[str, str]], metric: str
) -> Path:
    """table: a row per condition, a column per axis, each scaled to [0, 1]; the last column
    (the metric) colours the line."""
    fig, ax = viz.plt.subplots(figsize=(1.8 * len(axes) + 1, 4))
    cmap = viz.plt.get_cmap("viridis")
    score = table[:, -1]
    for i in np.argsort(score):
        ax.plot(range(len(axes)), table[i], color=cmap(score[i]), lw=1.2, alpha=0.8)
    for j, (low, high) in enumerate(ticks):
        ax.axvline(j, color="0.5", lw=0.8)
        ax.text(j, -0.06, low, ha="center", va="top", fontsize=8)
        ax.text(j, 1.06, high, ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(axes)), axes, rotation=20, ha="right", fontsize=8)
    ax.set_yticks([])
    ax.set_ylim(-0.15, 1.15)
    ax.set_title(f"each condition's mean {metric} against the swept keys", fontsize=10)
    fig.tight_layout()
    return viz.save_figure(fig, path)


# ----------------------------------------------------------------------------- a report's drawings
def figure_drawings(folder: Path, findings: rep.Findings, rows: list[dict]) -> list[tuple]:
    """The report's figures as (function, args) for viz.draw_all: a figure per metric that
    varies (error bars for one condition key, a heat map for two), the curves per condition,
    and parallel coordinates for three keys or more."""
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
                    by_condition,
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


def _heatmap(folder: Path, findings: rep.Findings, metric: str, goal: str | None) -> tuple:
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
    return (heatmap, (path, metric, keys, xs, ys, means, sds, counts, goal))


def run_curves(folder: Path) -> dict[str, np.ndarray]:
    """A run's metrics.csv as columns (empty when it has none or it cannot be read)."""
    try:
        with (folder / "metrics.csv").open() as f:
            table = list(csv.DictReader(f))
    except (OSError, csv.Error, UnicodeDecodeError):
        return {}
    columns = {}
    for name in table[0] if table else []:
        values = [rep.as_number(r.get(name)) for r in table]
        columns[name] = np.array([np.nan if v is None else v for v in values], dtype=float)
    return columns


def _overlays(folder: Path, findings: rep.Findings, rows: list[dict]) -> list[tuple]:
    """A figure per recorded metric: each condition's replicates and their mean."""
    curves = {id(r): run_curves(r["folder"]) for r in rows if r["status"] != "unreadable"}
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
            drawings.append((overlay, (path, name, groups, key_text)))
    return drawings


def _parallel(folder: Path, findings: rep.Findings) -> list[tuple]:
    """Parallel coordinates over the conditions' means of the primary metric."""
    metric = findings.primary
    done = [g for g in findings.groups if g.aggregate(metric).n]
    if len(done) < 2:
        return []
    axes = [*findings.condition_keys, metric]
    table, ticks = np.zeros((len(done), len(axes))), []
    for j, key in enumerate(axes):
        raw = [g.aggregate(metric).mean if key == metric else dict(g.values)[key] for g in done]
        numbers = [rep.as_number(v) for v in raw]
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
    return [(parallel_coordinates, (path, axes, table, ticks, metric))]


def compare_figures(building: Path, rows: list[dict]) -> list[Path]:
    """A figure per recorded metric that two runs or more share: a line per run."""
    curves = [(r, run_curves(r["folder"])) for r in rows]
    curves = [(r, c) for r, c in curves if "step" in c and len(c["step"]) > 1]
    names: list[str] = []
    for _, c in curves:
        names += [n for n in c if n not in ("step", "epoch") and n not in names]
    drawings = []
    for name in names:
        groups = [(r["job"], [(c["step"], c[name])]) for r, c in curves if name in c]
        if len(groups) >= 2:
            drawings.append((overlay, (building / f"overlay_{name}.svg", name, groups, "")))
    return viz.draw_all(drawings)
