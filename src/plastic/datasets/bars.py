"""The bar-learning problem: 8x8 images, each row and each column on with probability 1/8.

A pixel under an active bar is 1 (also where two bars cross), every other pixel 0. The images
are drawn once from the seed, so the same seed gives the same sequence of trials.
"""

from dataclasses import dataclass

import numpy as np

from plastic.config import DatasetConfig, setting
from plastic.datasets import Dataset
from plastic.rule import IMAGES

KIND = IMAGES  # what it feeds (a rule's learns_from)


@dataclass
class Config(DatasetConfig):
    name: str = "bars"
    size: int = setting(8, gt=1, help="the image is size x size, with size rows and size columns")
    bar_probability: float = setting(0.125, gt=0, le=1, help="each bar is on independently")
    n_samples: int = setting(10_000, gt=0, help="trials per epoch, each a new image")
    shuffle: bool = False  # trials are already independent draws


def bar_templates(size: int) -> np.ndarray:
    """The 2*size single-bar images, rows first then columns: (2*size, size*size)."""
    templates = np.zeros((2 * size, size, size))
    for i in range(size):
        templates[i, i, :] = 1.0  # horizontal bar: row i
        templates[size + i, :, i] = 1.0  # vertical bar: column i
    return templates.reshape(2 * size, size * size)


def make_bars(n: int, size: int, probability: float, rng: np.random.Generator):
    """n images (n, size*size) and which bars are on in each (n, 2*size), rows then columns."""
    active = rng.random((n, 2 * size)) < probability
    rows, columns = active[:, :size], active[:, size:]
    images = rows[:, :, None] | columns[:, None, :]  # a pixel is on when its row or column is
    return images.reshape(n, size * size).astype(np.float64), active


def size(cfg) -> tuple[int, int]:
    """(rows, inputs) of the arrays load() makes: the images and the bar templates."""
    return cfg.n_samples + 2 * cfg.size, cfg.size * cfg.size


def load(cfg) -> Dataset:
    rng = np.random.default_rng([cfg.seed, 0xBA25])
    images, _ = make_bars(cfg.n_samples, cfg.size, cfg.bar_probability, rng)
    return Dataset(
        "bars",
        images,
        (cfg.size, cfg.size),
        f"generated (seed {cfg.seed}, p={cfg.bar_probability})",
        bar_templates=bar_templates(cfg.size),
    )
