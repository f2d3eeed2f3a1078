"""scikit-learn's bundled 8x8 handwritten digits (1,797 images), scaled to [0, 1]."""

import functools
from dataclasses import dataclass

from plastic.config import DatasetConfig, setting
from plastic.datasets import Dataset, stratified_split
from plastic.rule import IMAGES

KIND = IMAGES  # what it feeds (a rule's learns_from)


@dataclass
class Config(DatasetConfig):
    name: str = "digits"
    test_fraction: float = setting(0.25, gt=0, lt=1, help="held out for the linear probe")


@functools.cache
def bundled_digits():
    """scikit-learn's digits, read once per process (a sweep's jobs share a process)."""
    from sklearn.datasets import load_digits  # here, not at import: keeps `plastic` start fast

    return load_digits()


def load(cfg) -> Dataset:
    digits = bundled_digits()
    pixels = digits.data / 16.0  # the bundled images hold 0..16
    x_train, x_test, y_train, y_test = stratified_split(
        pixels, digits.target, cfg.test_fraction, cfg.seed
    )
    return Dataset(
        "digits", x_train, (8, 8), "sklearn.datasets.load_digits (bundled)", y_train, x_test, y_test
    )
