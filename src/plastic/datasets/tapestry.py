"""A video: a window gliding over a mosaic of MNIST digits (the topographic map's favourite).

The mosaic is tiles x tiles digits of 28 x 28 (30 x 30: 840 px square); its last row and column
of tiles repeat its first, so that it wraps smoothly. A window of window x window pixels starts
at (420, 420) at rest; every `change_every` frames a new acceleration is drawn from U(-1, 1)^2;
the velocity is clipped to +-max_speed px per frame and the position wraps modulo
(tiles - 1) * 28. Training frames come first, then a held-out stretch of the same trajectory.
"""

from dataclasses import dataclass

import numpy as np
from omegaconf import OmegaConf

from plastic.config import DatasetConfig, setting
from plastic.datasets import Dataset
from plastic.rule import IMAGES

TILE = 28


KIND = IMAGES  # what it feeds (a rule's learns_from)


@dataclass
class Config(DatasetConfig):
    name: str = "tapestry"
    n_frames: int = setting(10_000, gt=0, help="training frames")
    test_frames: int = setting(2_000, gt=0, help="the held-out stretch that follows")
    window: int = setting(20, gt=0, le=TILE * 2)
    tiles: int = setting(30, gt=1, help="the mosaic is tiles x tiles digits")
    change_every: int = setting(20, gt=0, help="frames between new accelerations")
    max_speed: float = setting(3.0, gt=0, help="px per frame")
    digits_source: str = setting(
        "auto",
        choices=("auto", "file", "openml", "sample"),
        help="where the MNIST digits come from (dataset=mnist's source)",
    )
    digits_path: str | None = None
    shuffle: bool = False  # a time series: in order


def mosaic(digits: np.ndarray, tiles: int) -> np.ndarray:
    """tiles x tiles digits (n, 28, 28) in a square; the last row and column repeat the first."""
    grid = digits[: tiles * tiles].reshape(tiles, tiles, TILE, TILE).copy()
    grid[-1, :] = grid[0, :]
    grid[:, -1] = grid[:, 0]
    return grid.transpose(0, 2, 1, 3).reshape(tiles * TILE, tiles * TILE)


def glide(
    image: np.ndarray,
    n: int,
    window: int,
    change_every: int,
    max_speed: float,
    period: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """n frames (n, window * window) of a window gliding over the image."""
    position = np.array([420.0, 420.0]) % period
    velocity = np.zeros(2)
    frames = np.empty((n, window * window))
    for t in range(n):
        if t % change_every == 0:
            acceleration = rng.uniform(-1.0, 1.0, 2)
        velocity = np.clip(velocity + acceleration, -max_speed, max_speed)
        position = (position + velocity) % period
        y, x = position.astype(int)
        frames[t] = image[y : y + window, x : x + window].ravel()
    return frames


def size(cfg) -> tuple[int, int]:
    """(rows, inputs) of the arrays load() makes: the frames, and the MNIST digits drawn."""
    return cfg.n_frames + cfg.test_frames + 70_000 * 784 // (cfg.window * cfg.window), (
        cfg.window * cfg.window
    )


def check(cfg) -> None:
    """Before any folder is made: the digits file, when one is named, is a regular file."""
    from plastic.datasets import mnist

    mnist.check_path(cfg.digits_path, cfg.digits_source, "dataset.digits_path")


def load(cfg) -> Dataset:
    from plastic.datasets import mnist

    digits_cfg = OmegaConf.merge(
        OmegaConf.structured(mnist.Config),
        {"seed": cfg.seed, "source": cfg.digits_source, "path": cfg.digits_path},
    )
    source = mnist.load(digits_cfg)
    rng = np.random.default_rng([cfg.seed, 0x7A9E])
    chosen = rng.choice(len(source.train), cfg.tiles * cfg.tiles, replace=False)
    image = mosaic(source.train[chosen].reshape(-1, TILE, TILE), cfg.tiles)
    frames = glide(
        image,
        cfg.n_frames + cfg.test_frames,
        cfg.window,
        cfg.change_every,
        cfg.max_speed,
        (cfg.tiles - 1) * TILE,
        rng,
    )
    return Dataset(
        "tapestry",
        frames[: cfg.n_frames],
        (cfg.window, cfg.window),
        f"window over a mosaic of {source.data_source}",
        test=frames[cfg.n_frames :],
    )
