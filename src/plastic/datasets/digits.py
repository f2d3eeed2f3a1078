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
    """scikit-learn's digits (images and labels), read once per process (a sweep's jobs share
    a process): straight from the file sklearn ships, as its load_digits reads it, since
    importing sklearn costs most of a second that a sweep's every worker would pay; through
    load_digits where that file is not where it was."""
    import importlib.util
    from pathlib import Path

    import numpy as np

    spec = importlib.util.find_spec("sklearn")
    shipped = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz" if spec else None
    if shipped is None or not shipped.is_file():
        from sklearn.datasets import load_digits

        digits = load_digits()
        return digits.data, digits.target
    table = np.loadtxt(shipped, delimiter=",")
    return table[:, :-1], table[:, -1].astype(int)


def size(cfg) -> tuple[int, int]:
    """(rows, inputs) of the arrays load() makes."""
    return 1797, 64


def load(cfg) -> Dataset:
    images, labels = bundled_digits()
    pixels = images / 16.0  # the bundled images hold 0..16
    x_train, x_test, y_train, y_test = stratified_split(pixels, labels, cfg.test_fraction, cfg.seed)
    return Dataset(
        "digits", x_train, (8, 8), "sklearn.datasets.load_digits (bundled)", y_train, x_test, y_test
    )
