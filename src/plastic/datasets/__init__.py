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
    def input_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of a sample, its values stored channel after channel:
        (3, 32, 32) for a colour image of 3,072 inputs."""
        height, width = self.image_shape
        return self.n_inputs // (height * width), height, width

    @property
    def n_train(self) -> int:
        return int(self.train.shape[0])


def check(data: Dataset, where: str, kind: str = "images") -> None:
    """Refuse, in one line naming the array, its shape and what is expected, data that no rule
    can learn from: before any training, not after it."""
    from plastic.errors import UserError

    def refuse(what: str, array, expected: str):
        shape = getattr(array, "shape", None)
        raise UserError(f"{where}: {what} has shape {shape}; expected {expected}")

    train = data.train
    if not isinstance(train, np.ndarray) or train.ndim != 2 or 0 in train.shape:
        refuse("the training data", train, "(n_samples, n_inputs), both > 0")
    for name, array in (("the training data", train), ("the test data", data.test)):
        if array is None:
            continue
        if not np.issubdtype(array.dtype, np.number):
            raise UserError(f"{where}: {name} holds {array.dtype} values; expected numbers")
        if not np.isfinite(array).all():
            bad = int((~np.isfinite(array)).sum())
            raise UserError(f"{where}: {name} holds {bad:,} NaN or infinite values")
    h, w = data.image_shape
    if kind == "images" and train.shape[1] % (h * w):
        expected = f"(n_samples, channels x {h * w}) for {h}x{w} images"
        refuse("the training data", train, expected)
    if data.test is not None and (data.test.ndim != 2 or data.test.shape[1] != train.shape[1]):
        refuse("the test data", data.test, f"(n_samples, {train.shape[1]}), as the training data")
    for name, labels, samples in (
        ("the training labels", data.train_labels, train),
        ("the test labels", data.test_labels, data.test),
    ):
        if labels is not None and (samples is None or np.shape(labels) != (len(samples),)):
            n = "?" if samples is None else len(samples)
            refuse(name, np.asarray(labels), f"({n},): one label per sample")


def fetch_openml_arrays(name: str, cache_dir: str | None):
    """(data, target) of OpenML's dataset `name` through scikit-learn, cached under cache_dir;
    whatever keeps it out of reach (no network, a proxy, a broken cache) is raised as it is."""
    import warnings

    from sklearn.datasets import fetch_openml

    with warnings.catch_warnings():  # its "network error ... Retrying": the caller says more
        warnings.filterwarnings("ignore", message=".*Retrying", category=UserWarning)
        found = fetch_openml(
            name, version=1, data_home=cache_dir, as_frame=False, n_retries=1, delay=0.1
        )
    return found.data, found.target.astype(np.int64)


def regular_file(path, key: str):
    """`path` when it is a regular file; UserError otherwise (a FIFO, a device or a socket
    would block the run for ever, or read without end)."""
    import stat
    from pathlib import Path

    from plastic.errors import UserError

    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError as error:
        raise UserError(f"{key}={str(path)!r} cannot be read ({error.strerror})") from None
    if not stat.S_ISREG(mode):
        raise UserError(f"{key}={str(path)!r} is not a regular file (plastic reads only files)")
    return path


def stratified_split(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int):
    """Seeded, stratified train/test split (the same split for the same seed)."""
    from sklearn.model_selection import train_test_split

    return train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=y)
