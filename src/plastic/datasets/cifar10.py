"""CIFAR-10 colour images (32x32, 3 channels): OpenML's CIFAR_10, or a local file.

Where the data comes from, in order (`source=auto`):
1. `dataset.path`: an .npz holding x_train, y_train, x_test, y_test (keras.datasets.cifar10's
   layout, (n, 32, 32, 3), or rows of 3,072 values stored channel after channel), or the folder
   `cifar-10-batches-py` of the original python version (data_batch_1..5, test_batch);
2. OpenML `CIFAR_10` through scikit-learn, cached under `dataset.cache_dir` (its 60,000 rows:
   the first 50,000 for training, the last 10,000 for the test).

A sample is 3,072 values in [0, 1]: the red plane, then the green, then the blue (as the python
version and OpenML store them), so that a rule that `sees_images` gets (3, 32, 32).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from plastic.config import DatasetConfig, setting
from plastic.datasets import Dataset, fetch_openml_arrays, regular_file
from plastic.errors import UserError
from plastic.rule import IMAGES

KIND = IMAGES
SIDE, CHANNELS = 32, 3
INPUTS = CHANNELS * SIDE * SIDE
BATCHES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")
HOW_TO_PROVIDE = (
    "provide CIFAR-10 with dataset.path=FILE: an .npz holding x_train, y_train, x_test, y_test "
    "(keras.datasets.cifar10's arrays) or the folder cifar-10-batches-py of the python version "
    "from https://www.cs.toronto.edu/~kriz/cifar.html; or let OpenML's CIFAR_10 download "
    "(dataset.source=openml)"
)


@dataclass
class Config(DatasetConfig):
    name: str = "cifar10"
    source: str = setting("auto", choices=("auto", "file", "openml"))
    path: str | None = setting(None, help="local .npz or the cifar-10-batches-py folder")
    cache_dir: str | None = setting(None, help="scikit-learn's data home for the OpenML download")
    n_train: int | None = setting(None, gt=0, help="keep only the first n training images")


def check(cfg) -> None:
    """Before any folder is made: the file or folder that dataset.path names exists and is
    made of regular files."""
    if not cfg.path or cfg.source == "openml":
        return
    found = Path(cfg.path).expanduser()
    if not found.exists():
        raise UserError(f"dataset.path={str(found)!r} does not exist; {HOW_TO_PROVIDE}")
    for file in [found / name for name in BATCHES] if found.is_dir() else [found]:
        if not file.exists():
            raise UserError(f"dataset.path={str(found)!r} lacks {file.name}; {HOW_TO_PROVIDE}")
        regular_file(file, "dataset.path")


def size(cfg) -> tuple[int, int]:
    """(rows, inputs) of the arrays load() makes, at most."""
    return 60_000, INPUTS


def load(cfg) -> Dataset:
    if cfg.source == "file" or (cfg.source == "auto" and cfg.path):
        if not cfg.path:
            raise UserError(f"dataset.source=file needs dataset.path; {HOW_TO_PROVIDE}")
        arrays, source = _from_path(Path(cfg.path).expanduser()), f"file {cfg.path}"
    else:
        arrays, source = _from_openml(cfg), "openml CIFAR_10"
    x_train, y_train, x_test, y_test = arrays
    if cfg.n_train:
        x_train, y_train = x_train[: cfg.n_train], y_train[: cfg.n_train]
    return Dataset(
        "cifar10",
        _planar(x_train, "x_train", source),
        (SIDE, SIDE),
        source,
        _labels(y_train, "y_train", source),
        _planar(x_test, "x_test", source),
        _labels(y_test, "y_test", source),
    )


def _planar(x, name: str, source: str) -> np.ndarray:
    """(n, 3072) floats in [0, 1], channel after channel; (n, 32, 32, 3) images are reordered."""
    x = np.asarray(x)
    channels_last = x.ndim == 4 and x.shape[1:] == (SIDE, SIDE, CHANNELS)
    flat = x.ndim == 2 and x.shape[1] == INPUTS
    if not (channels_last or flat) or len(x) == 0 or x.dtype.kind not in "uif":
        raise UserError(
            f"dataset=cifar10 ({source}): {name} has shape {x.shape} and dtype {x.dtype}; "
            f"expected (n, 32, 32, 3) or (n, {INPUTS}) numbers, n > 0"
        )
    if channels_last:
        x = x.transpose(0, 3, 1, 2)
    x = x.astype(np.float64).reshape(len(x), INPUTS)
    return x / 255.0 if x.max() > 1.0 else x


def _labels(y, name: str, source: str) -> np.ndarray:
    y = np.asarray(y).reshape(-1) if np.ndim(y) == 2 and np.shape(y)[1] == 1 else np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "uif":
        raise UserError(
            f"dataset=cifar10 ({source}): {name} has shape {y.shape} and dtype {y.dtype}; "
            "expected (n,) integer labels"
        )
    return y.astype(np.int64)


def _from_path(path: Path):
    try:
        if path.is_dir():
            parts = [_read_batch(regular_file(path / name, "dataset.path")) for name in BATCHES]
            x_train = np.concatenate([x for x, _ in parts[:5]])
            y_train = np.concatenate([y for _, y in parts[:5]])
            return x_train, y_train, *parts[5]
        with np.load(regular_file(path, "dataset.path")) as data:
            keys = ("x_train", "y_train", "x_test", "y_test")
            if all(k in data for k in keys):
                return tuple(data[k] for k in keys)
            raise ValueError(f"it holds {sorted(data.keys())}")
    except UserError:
        raise
    except Exception as error:
        raise UserError(
            f"dataset.path={str(path)!r} is not readable CIFAR-10 "
            f"({' '.join(str(error).split())}); {HOW_TO_PROVIDE}"
        ) from None


def _read_batch(path: Path):
    """One pickled batch of the python version: (10000, 3072) uint8 rows and their labels."""
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="bytes")  # the files are the dataset's own
    return np.asarray(batch[b"data"]), np.asarray(batch[b"labels"])


def _from_openml(cfg):
    try:
        x, y = fetch_openml_arrays("CIFAR_10", cfg.cache_dir)
    except Exception as error:  # no network, a proxy, a broken cache: all end here
        reason = " ".join(str(error).split())
        raise UserError(
            f"dataset=cifar10: CIFAR_10 could not be fetched from OpenML ({reason}); "
            f"{HOW_TO_PROVIDE}"
        ) from None
    return x[:50_000], y[:50_000], x[50_000:], y[50_000:]
