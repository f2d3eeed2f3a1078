"""Datasets: each module holds its `Config` schema, its `KIND` (what rules it feeds: images,
timeline, patterns) and a `load(cfg) -> Dataset`; it registers through the `plastic.datasets`
entry points (pyproject.toml), as a user's dataset would."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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


def load(cfg) -> Dataset:
    from plastic import registry

    return registry.dataset_source(cfg.name).load(cfg)


def stratified_split(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int):
    """Seeded, stratified train/test split (the same split for the same seed)."""
    from sklearn.model_selection import train_test_split

    return train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=y)
