"""Digits as the free-energy attractor paper prepares them: each 8x8 pixel squared, then each
image standardised (zero mean, unit std over its 64 pixels); the first `train_images` are the
training patterns (optionally a subset, `patterns=[1,2,3]`), the rest the test set.

Each row is one presentation: the pattern clamped for that many steps. `presentation=random`
draws a training pattern at random for every presentation (the paper's Simulation 2);
`sequence` presents them in the order given, cyclically (Simulation 3).
"""

from dataclasses import dataclass, field

import numpy as np

from plastic.config import DatasetConfig, setting
from plastic.datasets import Dataset
from plastic.errors import UserError
from plastic.rule import PATTERNS

KIND = PATTERNS  # what it feeds (a rule's learns_from)


@dataclass
class Config(DatasetConfig):
    name: str = "fep_digits"
    train_images: int = setting(10, gt=0, help="the first images are the training patterns")
    patterns: list[int] | None = field(default=None)  # a subset of them, in this order
    presentation: str = setting("random", choices=("random", "sequence"))
    n_presentations: int = setting(5000, gt=0, help="epochs: one pattern each")
    shuffle: bool = False  # the presentation order is drawn here, from the seed


def prepare(images: np.ndarray) -> np.ndarray:
    squared = images.astype(np.float64) ** 2
    mean = squared.mean(axis=1, keepdims=True)
    std = squared.std(axis=1, keepdims=True)
    return (squared - mean) / np.where(std > 0, std, 1.0)


def size(cfg) -> tuple[int, int]:
    """(rows, inputs) of the arrays load() makes: a row a presentation, and the digits."""
    return cfg.n_presentations + 1797, 64


def load(cfg) -> Dataset:
    from plastic.datasets.digits import bundled_digits

    images = prepare(bundled_digits()[0])
    train, test = images[: cfg.train_images], images[cfg.train_images :]
    chosen = list(cfg.patterns) if cfg.patterns is not None else list(range(cfg.train_images))
    bad = [i for i in chosen if not 0 <= i < cfg.train_images]
    if bad or not chosen:
        raise UserError(
            f"dataset.patterns={chosen} is not allowed: indexes of the "
            f"{cfg.train_images} training images (0..{cfg.train_images - 1})"
        )
    patterns = train[chosen]
    if cfg.presentation == "sequence":
        order = np.arange(cfg.n_presentations) % len(chosen)
    else:
        order = np.random.default_rng([cfg.seed, 0xFE9]).integers(
            0, len(chosen), cfg.n_presentations
        )
    return Dataset(
        "fep_digits",
        patterns[order],
        (8, 8),
        f"sklearn digits, squared and standardised ({cfg.presentation} presentation)",
        test=test,
        patterns=patterns,
    )
