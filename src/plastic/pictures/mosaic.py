"""A views.Mosaic: tiles side by side (attractors, inputs over reconstructions): <name>.png."""

from __future__ import annotations

from pathlib import Path

from plastic.pictures import fields


def draw(view, folder: Path, viz_cfg) -> list[Path]:
    path = folder / f"{view.name}.png"
    return [
        fields.plot(path, view.tiles, view.tile_shape, view.title, view.grid, view.shared_scale)
    ]
