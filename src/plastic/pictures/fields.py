"""The receptive fields (a rule's snapshot rows) as a mosaic: fields.png at the last record and
receptive_fields.gif over the run, on the rule's sheet when it lives on one."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from plastic.pictures import primitives as viz


def grid_for(layout, n_shown: int, n_units: int):
    """The rule's sheet when every unit is shown, else a near-square grid."""
    return layout.grid if layout.grid and n_shown == n_units else None


def tile_shape_for(layout, row_length: int) -> tuple[int, int]:
    """The layout's tile, or a near-square one when the rows do not fill it."""
    h, w = layout.tile_shape
    if h * w == row_length:
        return (h, w)
    rows = int(np.sqrt(row_length))
    while row_length % rows:
        rows -= 1
    return rows, row_length // rows


def draw(folder: Path, title: str, gif_frames, last_fields, layout, viz_cfg) -> list[Path]:
    """fields.png of `last_fields` and receptive_fields.gif of the (step, fields) frames."""
    shown = last_fields[: viz_cfg.max_tiles]
    shape = tile_shape_for(layout, shown.shape[1])
    grid = grid_for(layout, len(shown), len(last_fields))
    frames = [
        viz.fields_frame(fields, shape, viz_cfg.tile_pixels, f"step {step:,}", grid)
        for step, fields in gif_frames
    ]
    gif = viz.write_gif(folder / "receptive_fields.gif", frames, viz_cfg.gif_fps)
    return [gif, plot(folder / "fields.png", shown, shape, title, grid)]


def plot(path: Path, fields: np.ndarray, tile_shape, title: str, grid=None, shared_scale=False):
    image, signed = viz.mosaic(fields, tile_shape, grid, shared_scale)
    inches = min(0.12, 12.0 / max(image.shape))  # 8x8 tiles stay large, MNIST mosaics fit
    fig, ax = viz.plt.subplots(figsize=(1 + inches * image.shape[1], 1 + inches * image.shape[0]))
    ax.imshow(viz.to_rgb(image, signed), interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    return viz.save_figure(fig, path)
