"""The full-MNIST tier: the recipes' claims at reduced sizes on the whole of MNIST.

Run by `make test-full MNIST=FILE` (FILE: keras's mnist.npz, 60,000 + 10,000 images); every
test skips where PLASTIC_MNIST_FILE names no file. Each goes through the real console script
and reads the run's summary.json, as a user would.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import run_plastic

pytestmark = pytest.mark.full

MNIST_FILE = os.environ.get("PLASTIC_MNIST_FILE") or ""


@pytest.fixture(scope="module")
def mnist_file() -> str:
    if not MNIST_FILE or not Path(MNIST_FILE).is_file():
        pytest.skip("no full MNIST: set PLASTIC_MNIST_FILE (make test-full MNIST=FILE)")
    return str(Path(MNIST_FILE).resolve())


def run(tmp_path: Path, mnist_file: str, *overrides: str) -> dict:
    result = run_plastic(
        "run",
        *overrides,
        f"dataset.path={mnist_file}",
        f"hydra.run.dir={tmp_path / 'run'}",
        "trainer.progress=off",
        "viz.pictures=false",
        cwd=tmp_path,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads((tmp_path / "run" / "summary.json").read_text())


def test_hopfield_features_beat_the_untrained_network(tmp_path, mnist_file):
    """The library's Hopfield example (100 units, 10 epochs of all 60,000 images): its
    currents probe better than the same network's before learning."""
    metrics = run(tmp_path, mnist_file, "experiment=mnist_hopfield")["metrics"]
    assert metrics["probe_train_samples"] == 60_000
    assert metrics["probe_accuracy"] > metrics["probe_random"] + 0.005


LEARNED_AT_LEAST = 0.96
MARGIN = 0.03  # over the untrained network, with the same readout (measured: 0.057)


def test_krotov_readout_on_a_small_network(tmp_path, mnist_file):
    """mnist_krotov at 400 units and 10 epochs (a minute), with the paper's readout fitted on
    all 60,000 images. Measured on 2 cores: 0.968, against 0.911 for the same readout on the
    untrained network and 0.922 on the raw pixels. 0.96 sits above every control by 4 points
    and leaves 0.8 points for another machine's arithmetic; the full recipe reaches 0.979."""
    summary = run(
        tmp_path,
        mnist_file,
        "experiment=mnist_krotov",
        "model.n_units=400",
        "trainer.epochs=10",
        "model.optimizer.linear_decay_epochs=10",
    )
    metrics = summary["metrics"]
    assert metrics["probe_train_samples"] == 60_000
    assert metrics["probe_accuracy"] >= LEARNED_AT_LEAST
    assert metrics["probe_accuracy"] >= metrics["probe_random"] + MARGIN
    assert summary["verdict"].startswith("test accuracy (paper's readout)")


def test_bcm_features_beat_raw_pixels_and_the_untrained_network(tmp_path, mnist_file):
    """mnist_bcm_features as it ships (400 orthogonalised units, 10 epochs; under a minute):
    measured 0.953 against 0.922 for the raw pixels and 0.942 untrained."""
    metrics = run(tmp_path, mnist_file, "experiment=mnist_bcm_features")["metrics"]
    assert metrics["probe_train_samples"] == 60_000
    assert metrics["probe_accuracy"] > metrics["probe_raw_pixels"] + 0.01
    assert metrics["probe_accuracy"] > metrics["probe_random"]


SOFTHEBB_AT_LEAST = 0.98
SOFTHEBB_OVER_PIXELS = 0.05


@pytest.mark.timeout(960)  # about 5 minutes on 2 cores: over the suite's 300 s per test
def test_softhebb_layers_learn_features_that_read_out_far_above_the_pixels(tmp_path, mnist_file):
    """softhebb_mnist at a reduced size (units 32, 128, 512; each layer learns one epoch of
    20,000 images; the readout fitted on them for 10 epochs). Measured on 2 cores: 0.988,
    0.907 on the raw pixels, 0.986 on the untrained network. The learned features do not
    beat the untrained network by more than its noise on MNIST (docs/models/softhebb.md says
    why), so what is held here is what learning must give: weights that left their random
    start (norm 25) for the unit sphere, and a readout far above the pixels."""
    summary = run(
        tmp_path,
        mnist_file,
        "experiment=softhebb_mnist",
        "model.channels=[32,128,512]",
        "dataset.n_train=20000",
        "probe.epochs=10",
    )
    metrics = summary["metrics"]
    assert metrics["probe_train_samples"] == 20_000
    assert metrics["probe_accuracy"] >= SOFTHEBB_AT_LEAST
    assert metrics["probe_accuracy"] >= metrics["probe_raw_pixels"] + SOFTHEBB_OVER_PIXELS
    assert metrics["layer0_norm_mean"] < 5  # from 25 toward 1
    assert metrics["layer2_norm_mean"] < 20
