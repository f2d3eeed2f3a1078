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

import warnings
from pathlib import Path

import numpy as np

from plastic import viz

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
