"""The recorded metrics against the step, one panel each: curves.png."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from plastic.pictures import primitives as viz


def draw(path: Path, rows: list[dict[str, float]], names: list[str], x: str = "step") -> Path:
    fig, axes = viz.plt.subplots(
        len(names), 1, figsize=(6, 1.9 * len(names)), sharex=True, squeeze=False
    )
    steps = [row[x] for row in rows]
    for ax, name in zip(axes[:, 0], names, strict=True):
        ax.plot(steps, [row.get(name, np.nan) for row in rows], lw=1.4)
        ax.set_ylabel(name, fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel(x)
    fig.tight_layout()
    return viz.save_figure(fig, path)
