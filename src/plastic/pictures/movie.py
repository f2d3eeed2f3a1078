"""A views.Movie: frames of images side by side (input | activity | reconstruction): <name>.gif.
Each image is scaled on its own; signed images are drawn blue-white-red, others grey."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from plastic.pictures import primitives as viz


def frame(images: list[np.ndarray], height: int) -> np.ndarray:
    parts = []
    for image in images:
        image = np.asarray(image, dtype=np.float64)
        scale = max(1, height // image.shape[0])
        top = np.abs(image).max()
        signed = bool((image < 0).any())
        rgb = viz.to_rgb(image / top if top > 0 else image, signed)
        block = rgb.repeat(scale, axis=0).repeat(scale, axis=1)
        canvas = np.full((height, block.shape[1] + 8, 3), 64, dtype=np.uint8)
        canvas[: min(height, block.shape[0]), 4 : 4 + block.shape[1]] = block[:height]
        parts.append(canvas)
    return np.concatenate(parts, axis=1)


def draw(view, folder: Path, viz_cfg) -> list[Path]:
    frames = [frame(images, view.height) for images in view.frames]
    path = folder / f"{view.name}.gif"
    return [viz.write_gif(path, frames, viz_cfg.gif_fps * view.speed)] if frames else []
