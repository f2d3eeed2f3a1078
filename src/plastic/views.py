"""Named arrays that a rule returns for the runner to draw or write (`Rule.analyse`).

A rule never draws: it says what there is to see, in one of these shapes, and the runner
hands each to the picture module of its kind (plastic.pictures), which writes `<name>.png`,
`<name>.gif` or `<name>.csv` into the run folder. A stranger's rule uses the same views and
gets the same pictures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Mosaic:
    """Tiles side by side (fields, attractors, inputs over reconstructions): <name>.png."""

    name: str
    tiles: np.ndarray  # (n, h * w)
    tile_shape: tuple[int, int]
    title: str = ""
    grid: tuple[int, int] | None = None  # rows, columns; None: near-square
    shared_scale: bool = False  # one colour scale for all tiles (else each tile its own)


@dataclass
class Movie:
    """Frames of images shown side by side (input | activity | reconstruction): <name>.gif.
    Each frame is a list of 2-d host arrays; with `mosaic`, each frame is one tile row."""

    name: str
    frames: list[list[np.ndarray]]
    height: int = 120  # pixels the images are upscaled to
    speed: float = 1.0  # times the run's gif_fps


@dataclass
class Traces:
    """Time series on stacked axes: <name>.png; with `animate` (reference, drawn) also
    <name>.gif, the drawn series traced over the reference."""

    name: str
    time: np.ndarray  # (T,)
    series: dict[str, np.ndarray]  # name -> (T,) or (T, k); panels in this order
    overlay: dict[str, list[str]] = field(default_factory=dict)  # panel -> extra series on it
    log_scale: tuple[str, ...] = ()  # panels drawn on a log axis (positive values only)
    shaded_until: float | None = None  # a band from the start (the learning phase)
    xlabel: str = "time"
    animate: tuple[str, str] | None = None


@dataclass
class Matrices:
    """Matrices as heat maps side by side, each on a colour scale centred at 0: <name>.png."""

    name: str
    matrices: dict[str, np.ndarray]


@dataclass
class Panels:
    """Named vectors (input, activity) as images beside a mosaic of fields: <name>.png."""

    name: str
    vectors: dict[str, np.ndarray]
    fields: np.ndarray


@dataclass
class Table:
    """Rows of numbers: <name>.csv."""

    name: str
    columns: tuple[str, ...]
    rows: np.ndarray  # (n, len(columns))


VIEWS = (Mosaic, Movie, Traces, Matrices, Panels, Table)
