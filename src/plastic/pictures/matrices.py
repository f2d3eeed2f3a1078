"""A views.Matrices: heat maps side by side, each on a colour scale centred at 0: <name>.png."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from plastic.pictures import primitives as viz


def draw(view, folder: Path, viz_cfg) -> list[Path]:
    count = len(view.matrices)
    fig, axes = viz.plt.subplots(1, count, figsize=(4.3 * count, 4), squeeze=False)
    for ax, (title, matrix) in zip(axes[0], view.matrices.items(), strict=True):
        top = float(np.abs(matrix).max()) or 1.0
        image = ax.imshow(matrix, cmap="bwr", vmin=-top, vmax=top)
        fig.colorbar(image, ax=ax, fraction=0.046)
        ax.set_title(title)
    fig.tight_layout()
    return [viz.save_figure(fig, folder / f"{view.name}.png")]
