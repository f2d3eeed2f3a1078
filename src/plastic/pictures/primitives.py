"""Drawing primitives that the picture modules (plastic.pictures) and reports share: tile
mosaics, their colours, GIF and figure writing (matplotlib's Agg, no screen needed)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from plastic.artifacts import atomic_write

GAP = 1  # pixels of background between tiles


def __getattr__(name: str):
    """`viz.plt`: matplotlib's pyplot on its Agg backend, imported when a figure is first drawn
    (the mosaics and GIFs need none of it)."""
    if name != "plt":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import matplotlib

    matplotlib.use("Agg")
    # SVG text stays text (small, searchable, sharp), and the same figure gives the same file
    matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "plastic"})
    import matplotlib.pyplot as pyplot

    globals()["plt"] = pyplot
    return pyplot


def _lookup_table(*anchors, n: int = 256) -> np.ndarray:
    """A colour map's n entries from its (x, value) anchors per channel, in the arithmetic of
    matplotlib's LinearSegmentedColormap (so that the entries are equal bit for bit)."""
    x = (n - 1) * np.linspace(0.0, 1.0, n)
    channels = []
    for anchor in anchors:
        at, value = (np.array(a, dtype=float) for a in zip(*anchor, strict=True))
        at = at * (n - 1)
        index = np.searchsorted(at, x)[1:-1]
        distance = (x[1:-1] - at[index - 1]) / (at[index] - at[index - 1])
        inner = distance * (value[index] - value[index - 1]) + value[index - 1]
        channels.append(np.clip(np.concatenate([[value[0]], inner, [value[-1]]]), 0.0, 1.0))
    return np.stack(channels, axis=1)


# matplotlib's "gray" and "bwr", entry for entry (a test holds them equal)
GRAY = _lookup_table([(0, 0), (1, 1)], [(0, 0), (1, 1)], [(0, 0), (1, 1)])
BWR = _lookup_table([(0, 0), (0.5, 1), (1, 1)], [(0, 0), (0.5, 1), (1, 0)],
                    [(0, 1), (0.5, 1), (1, 0)])  # fmt: skip


def colour(values: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Values in [0, 1] to RGB in [0, 1], as a matplotlib colour map maps floats: entry
    floor(value * n), clipped to the table."""
    n = len(table)
    index = np.clip((values * n).astype(np.int64), 0, n - 1)
    return table[index]


def grid_shape(n: int) -> tuple[int, int]:
    """Rows x columns for n tiles: the widest divisor of n up to 2*sqrt(n), else near-square."""
    root = math.sqrt(n)
    for cols in range(math.ceil(root), min(n, math.ceil(2 * root)) + 1):
        if n % cols == 0:
            return n // cols, cols
    cols = math.ceil(root)
    return math.ceil(n / cols), cols


def mosaic(fields: np.ndarray, image_shape: tuple[int, int], grid=None, shared_scale=False):
    """Tile the fields (n, h*w) on a grid (rows, columns); each tile scaled to [0, 1] (or
    [-1, 1] when signed) by its own largest magnitude, or all by the largest of all.

    Returns the mosaic with NaN in the gaps and whether the fields are signed.
    """
    n = len(fields)
    rows, cols = grid or grid_shape(n)
    h, w = image_shape
    signed = bool((fields < 0).any())
    scale = np.abs(fields).max(axis=None if shared_scale else 1, keepdims=True)
    tiles = (fields / np.where(scale > 0, scale, 1.0)).reshape(n, h, w)
    out = np.full((rows * (h + GAP) + GAP, cols * (w + GAP) + GAP), np.nan)
    for index in range(n):
        r, c = divmod(index, cols)
        top, left = GAP + r * (h + GAP), GAP + c * (w + GAP)
        out[top : top + h, left : left + w] = tiles[index]
    return out, signed


def to_rgb(image: np.ndarray, signed: bool) -> np.ndarray:
    """Colour a mosaic: grey for non-negative fields, blue-white-red centred at 0 for signed."""
    values = (image + 1) / 2 if signed else image
    rgb = (colour(np.nan_to_num(values, nan=0.0), BWR if signed else GRAY) * 255).astype(np.uint8)
    rgb[np.isnan(image)] = 64  # gaps (grey, so that a grey mosaic stays one channel in the GIF)
    return rgb


def fields_frame(fields, image_shape, tile_pixels: int, caption: str = "", grid=None):
    """One GIF frame: the colour mosaic upscaled so a tile is at least tile_pixels wide."""
    image, signed = mosaic(fields, image_shape, grid)
    factor = max(1, math.ceil(tile_pixels / max(image_shape)))
    rgb = to_rgb(image, signed).repeat(factor, axis=0).repeat(factor, axis=1)
    if caption:
        rgb = _with_caption(rgb, caption)
    return rgb


def _with_caption(rgb: np.ndarray, caption: str) -> np.ndarray:
    from PIL import Image, ImageDraw

    band = np.full((16, rgb.shape[1], 3), 255, dtype=np.uint8)
    picture = Image.fromarray(np.concatenate([band, rgb]))
    ImageDraw.Draw(picture).text((4, 2), caption, fill=(0, 0, 0))
    return np.asarray(picture)


def panel_row(images: list[np.ndarray], height: int) -> np.ndarray:
    """Grey images side by side, each scaled to [0, 1] and upscaled to about `height` px."""
    parts = []
    for image in images:
        scale = max(1, height // image.shape[0])
        top = image.max()
        grey = (np.clip(image / top if top > 0 else image, 0, 1) * 255).astype(np.uint8)
        block = grey.repeat(scale, axis=0).repeat(scale, axis=1)
        canvas = np.full((height, block.shape[1] + 8), 64, dtype=np.uint8)
        canvas[: min(height, block.shape[0]), 4 : 4 + block.shape[1]] = block[:height]
        parts.append(canvas)
    return np.concatenate(parts, axis=1)


def write_gif(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    import imageio.v3 as iio

    frames = np.stack(frames)
    if (frames[..., :1] == frames).all():  # grey: one channel, 64 levels, no quantiser needed
        frames = frames[..., 0] // 4 * 4
    return atomic_write(
        path,
        lambda tmp: iio.imwrite(tmp, frames, extension=".gif", duration=1000.0 / fps, loop=0),
    )


def save_figure(fig, path: Path, laid_out: bool = False) -> Path:
    """Write `fig` (atomically) and close it; `laid_out`: the figure has its layout already
    (tight_layout), so the page is not measured again (a second draw of every label)."""
    bbox = None if laid_out else "tight"
    kind = path.suffix[1:]
    metadata = {"Date": None} if kind == "svg" else None  # no time stamp: the same bytes
    atomic_write(
        path,
        lambda tmp: fig.savefig(tmp, format=kind, dpi=120, bbox_inches=bbox, metadata=metadata),
    )
    __getattr__("plt").close(fig)
    return path


def draw_all(drawings: list[tuple]) -> list[Path]:
    """Call each (function, args) that draws and saves one figure, returning its path; many
    figures (a large sweep's report) are drawn side by side in forked processes, one per core."""
    import sys

    from plastic.backend import usable_cores

    cores = usable_cores()
    if len(drawings) < 2 or cores < 2 or not sys.platform.startswith("linux"):
        return [function(*args) for function, args in drawings]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork")  # the figures' data travel with the fork
    with ProcessPoolExecutor(min(cores, len(drawings)), context) as pool:
        futures = [pool.submit(function, *args) for function, args in drawings]
        return [future.result() for future in futures]
