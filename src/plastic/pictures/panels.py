"""A views.Panels: the network's present state, named vectors (input, activity) as images
beside the mosaic of its fields: <name>.png."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from plastic.pictures import primitives as viz


def draw(view, folder: Path, viz_cfg, tile_shape=None) -> list[Path]:
    fields = view.fields[: viz_cfg.max_tiles]
    side = int(round(np.sqrt(fields.shape[1])))
    tile_shape = tile_shape or (side, fields.shape[1] // side)
    fig, axes = viz.plt.subplots(
        1, len(view.vectors) + 1, figsize=(3.2 * (len(view.vectors) + 1), 3.2)
    )
    for ax, (name, vector) in zip(axes, view.vectors.items(), strict=False):
        shape = tile_shape if vector.size == np.prod(tile_shape) else viz.grid_shape(vector.size)
        padded = np.full(shape[0] * shape[1], np.nan)
        padded[: vector.size] = vector
        im = ax.imshow(padded.reshape(shape), cmap="viridis", interpolation="nearest")
        fig.colorbar(im, ax=ax, fraction=0.046)
        ax.set_title(name)
        ax.axis("off")
    image, signed = viz.mosaic(fields, tile_shape)
    axes[-1].imshow(viz.to_rgb(image, signed), interpolation="nearest")
    axes[-1].set_title("receptive fields")
    axes[-1].axis("off")
    fig.tight_layout()
    return [viz.save_figure(fig, folder / f"{view.name}.png")]
