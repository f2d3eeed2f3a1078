"""The full-MNIST tier: the recipes' claims at reduced sizes on the whole of MNIST.

Run by `make test-full MNIST=FILE` (FILE: keras's mnist.npz, 60,000 + 10,000 images); every
test skips where PLASTIC_MNIST_FILE names no file. Each goes through the real console script
and reads the run's summary.json, as a user would.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from plastic.evaluate import cosine_matrix
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


SOFTHEBB_AT_LEAST = 0.97
SOFTHEBB_OVER_UNTRAINED = 0.01  # measured 0.0174, 0.0213 and 0.0220 (seeds 0, 1, 2)
SOFTHEBB_OVER_PIXELS = 0.05


def softhebb(tmp_path, mnist_file, *overrides):
    """softhebb_mnist with the paper's settings but 8, 32 and 128 units and 10 readout epochs,
    its summary and its weights."""
    summary = run(
        tmp_path,
        mnist_file,
        "experiment=softhebb_mnist",
        "model.channels=[8,32,128]",
        "probe.epochs=10",
        *overrides,
    )
    with np.load(tmp_path / "run" / "weights.npz") as weights:
        return summary["metrics"], {k: weights[k] for k in weights.files}


def mean_cosine(weights) -> float:
    """The mean cosine between two rows (units) of a weight matrix."""
    cosines = cosine_matrix(weights, weights)
    np.fill_diagonal(cosines, np.nan)
    return float(np.nanmean(cosines))


@pytest.mark.timeout(960)
def test_softhebb_learned_features_beat_the_untrained_network_at_a_reduced_size(
    tmp_path, mnist_file
):
    """Narrow layers (8, 32, 128 units), each learning one epoch of 20,000 images, the
    readout fitted on them: learned beats the untrained network as built (batch norms at their
    initial statistics, the paper's 'Random'). Measured on 2 cores (seeds 0, 1, 2): 0.976,
    0.980, 0.979 against 0.959, 0.959, 0.957 untrained and 0.907 on the pixels, in about 35 s.
    (At the paper's width the margin is a few tenths of a point: docs/models/softhebb.md.)"""
    metrics, weights = softhebb(tmp_path, mnist_file, "dataset.n_train=20000")
    assert metrics["probe_train_samples"] == 20_000
    assert metrics["probe_accuracy"] >= SOFTHEBB_AT_LEAST
    assert metrics["probe_accuracy"] > metrics["probe_random"] + SOFTHEBB_OVER_UNTRAINED
    assert metrics["probe_accuracy"] >= metrics["probe_raw_pixels"] + SOFTHEBB_OVER_PIXELS
    assert metrics["layer0_norm_mean"] < 1.5  # from 25 to the unit sphere
    assert mean_cosine(weights["layer2_weights"]) < 0.2  # the last layer's units still apart


@pytest.mark.timeout(960)
def test_softhebb_last_layer_collapses_once_it_converges_as_the_authors_code_does(
    tmp_path, mnist_file
):
    """The same network on all 60,000 images: the last layer's 128 units reach norm 1 and
    all turn to nearly one direction, and the readout falls below the untrained network's.
    The authors' own code (their demo.py's layer, in PyTorch) does the same on the same
    settings (mean cosine 0.905 and 0.903 for seeds 0 and 1; plastic: 0.914): a property of
    the rule, which a faithful layer must keep. Measured: 0.867 against 0.968 untrained,
    in about 100 s."""
    metrics, weights = softhebb(tmp_path, mnist_file)
    assert metrics["probe_train_samples"] == 60_000
    assert abs(metrics["layer2_norm_mean"] - 1) < 0.05
    assert mean_cosine(weights["layer2_weights"]) > 0.8
    assert metrics["probe_accuracy"] < metrics["probe_random"]
