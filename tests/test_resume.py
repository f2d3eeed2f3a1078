"""Ctrl-C keeps what was learned and resumes to the same result; divergence keeps the checkpoint."""

import csv
import json
import signal
import subprocess
import time

import numpy as np

from tests.conftest import plastic_exe

LONG = [
    "experiment=smoke/oja",
    "dataset.n_samples=300000",
    "model.steps_per_trial=10",
    "trainer.block_size=100",
    "trainer.record_every=5000",
    "trainer.checkpoint_every=5000",
    "trainer.progress=log",
]


def last_step(metrics) -> int:
    try:
        rows = list(csv.DictReader(metrics.open()))
    except (FileNotFoundError, OSError):
        return -1
    return int(rows[-1]["step"]) if rows else -1


def test_interrupt_then_resume_equals_an_uninterrupted_run(cli):
    whole = cli("run", *LONG, "hydra.run.dir=whole")
    assert whole.returncode == 0, whole.stderr

    cut = cli.cwd / "cut"
    process = subprocess.Popen(
        [plastic_exe(), "run", *LONG, f"hydra.run.dir={cut}"],
        cwd=cli.cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while last_step(cut / "metrics.csv") < 5000 and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    summary = json.loads((cut / "summary.json").read_text())
    assert summary["status"] == "interrupted" and 5000 <= summary["steps"] < 300000
    assert "resume=" in err and len(err.strip().splitlines()) == 1
    assert (cut / "weights.npz").exists() and (cut / "checkpoint.npz").exists()

    resumed = cli("run", f"resume={cut}")
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((cut / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["resumed_from"] > 0
    a, b = np.load(cli.cwd / "whole" / "weights.npz"), np.load(cut / "weights.npz")
    for name in ("feedforward", "lateral", "rates"):
        np.testing.assert_array_equal(a[name], b[name])
    assert (cli.cwd / "whole" / "metrics.csv").read_text() == (cut / "metrics.csv").read_text()

    again = cli("run", f"resume={cut}")
    assert again.returncode == 2 and "already completed" in again.stderr


def test_divergence_stops_and_writes_nothing_non_finite(cli):
    """Diverged in its first block: no checkpoint yet (the untrained state is the seed's, never
    written), no weights; a later divergence keeps the last good checkpoint (the conformance
    kit's `divergence` check, through the trainer, for every rule)."""
    result = cli("run", "experiment=smoke/oja", "model.tau_learning=0.001", "hydra.run.dir=boom")
    assert result.returncode == 3
    assert "diverged" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    run = cli.cwd / "boom"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "diverged"
    assert "NaN or infinite" in summary["reason"] or "grew beyond" in summary["reason"]
    assert "before the first checkpoint (seed=0 rebuilds the initial state)" in summary["reason"]
    assert not (run / "checkpoint.npz").exists()
    assert not (run / "weights.npz").exists()  # no non-finite weights are written as final
