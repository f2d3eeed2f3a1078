"""Datasets: each module holds its `Config` schema and a `load(cfg) -> Dataset`."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

import numpy as np

NAMES = ("digits", "bars", "mnist", "tapestry", "timeline", "fep_digits")


@dataclass
class Dataset:
    name: str
    train: np.ndarray  # (n_samples, n_inputs), float, host memory
    image_shape: tuple[int, int]  # how one sample is drawn
    data_source: str  # where the samples came from, recorded in summary.json
    train_labels: np.ndarray | None = None
    test: np.ndarray | None = None
    test_labels: np.ndarray | None = None
    bar_templates: np.ndarray | None = None  # (16, n_inputs) for the bars problem
    patterns: np.ndarray | None = None  # the distinct training patterns, when rows repeat them

    @property
    def n_inputs(self) -> int:
        return int(self.train.shape[1])

    @property
    def n_train(self) -> int:
        return int(self.train.shape[0])


def modules() -> dict[str, ModuleType]:
    return {name: importlib.import_module(f"plastic.datasets.{name}") for name in NAMES}


def load(cfg) -> Dataset:
    return modules()[cfg.name].load(cfg)


def stratified_split(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int):
    """Seeded, stratified train/test split (the same split for the same seed)."""
    from sklearn.model_selection import train_test_split

    return train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=y)
