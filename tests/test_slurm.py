"""The `slurm` tier: sweeps through hydra/launcher=slurm on a real one-node SLURM cluster with
accounting (tests/slurm/cluster.sh: munge, MariaDB, slurmdbd, slurmctld, slurmd), brought up for
this module and stopped after it. Run by `make test-slurm` (as root, where Debian's packages can
be installed); anywhere else every test skips with one line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO, plastic_exe, run_plastic

pytestmark = [pytest.mark.slurm, pytest.mark.timeout(1200)]  # a test may wait for requeues

CLUSTER = REPO / "tests" / "slurm" / "cluster.sh"
SMALL_JOB = ("hydra.launcher.partition=debug", "hydra.launcher.cpus_per_task=1",
             "hydra.launcher.mem_gb=1")  # fmt: skip


@pytest.fixture(scope="module")
def cluster():
    if os.geteuid() != 0 or shutil.which("apt-get") is None and shutil.which("slurmctld") is None:
        pytest.skip("the SLURM tier needs root and Debian's packages (tests/slurm/cluster.sh)")
    up = subprocess.run(["bash", str(CLUSTER), "up"], capture_output=True, text=True, timeout=600)
    if up.returncode != 0:
        subprocess.run(["bash", str(CLUSTER), "down"], capture_output=True, timeout=120)
        pytest.skip(f"no SLURM cluster could be started: {(up.stderr or up.stdout)[-300:]}")
    yield
    subprocess.run(["bash", str(CLUSTER), "down"], capture_output=True, timeout=120)


@pytest.fixture(autouse=True)
def empty_queue(cluster):
    """Each test starts and leaves with no job queued: what one leaves cannot confuse another."""
    yield
    slurm("scancel", "--user=root")
    wait_until(lambda: not slurm("squeue", "-h").strip(), limit=120, what="an empty queue")


def slurm(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, timeout=60).stdout


def state(job_id: str) -> str:
    out = slurm("sacct", "-n", "-X", "-P", "-o", "State", "-j", job_id).splitlines()
    return out[-1].strip() if out else ""


def start_sweep(cwd: Path, *overrides: str) -> subprocess.Popen:
    """The sweep command in the background, its output to a file (a pipe could fill)."""
    log = open(cwd / "sweep.log", "w+")  # noqa: SIM115 (closed by wait)
    sweep = subprocess.Popen(
        [plastic_exe(), "run", "-m", "hydra/launcher=slurm", *SMALL_JOB, *overrides],
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    sweep.log = log
    return sweep


def wait(sweep: subprocess.Popen, limit: float = 420) -> str:
    """The sweep command's output, once it has ended."""
    deadline = time.monotonic() + limit
    while sweep.poll() is None:
        assert time.monotonic() < deadline, "the sweep did not end"
        time.sleep(1)
    sweep.log.seek(0)
    output = sweep.log.read()
    sweep.log.close()
    return output


def wait_until(condition, limit: float = 300, what: str = "") -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def same_weights(a: Path, b: Path) -> None:
    with np.load(a / "weights.npz") as x, np.load(b / "weights.npz") as y:
        assert sorted(x.files) == sorted(y.files)
        for name in x.files:
            np.testing.assert_array_equal(x[name], y[name], err_msg=name)


def alone(tmp_path: Path, *overrides: str) -> Path:
    """The same job run on its own, uninterrupted, on this machine."""
    folder = tmp_path / "alone"
    result = run_plastic("run", *overrides, f"hydra.run.dir={folder}", cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return folder


def test_a_four_job_sweep_runs_reports_and_prints_no_sacct_noise(cluster, tmp_path):
    sweep_dir = tmp_path / "sweep"
    sweep = start_sweep(tmp_path, "experiment=smoke/oja", "seed=1,2,3,4",
                        f"hydra.sweep.dir={sweep_dir}")  # fmt: skip
    output = wait(sweep)
    assert sweep.returncode == 0, output[-3000:]
    assert "sacct" not in output.lower(), output  # "Bypassing sacct error": no accounting
    for job in range(4):
        assert summary(sweep_dir / str(job))["status"] == "completed"
        assert summary(sweep_dir / str(job))["slurm_job"]
    report = run_plastic("report", str(sweep_dir), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert (sweep_dir / "sweep.csv").read_text().count("completed") == 4


def test_a_requeued_job_resumes_from_its_checkpoint_to_the_same_weights(cluster, tmp_path):
    """scontrol requeue (what a preemption with requeue does): SIGTERM, the run saves and
    stops; SLURM runs the job again and plastic resumes it, to the weights of a run never
    interrupted."""
    job = ("experiment=bars_oja", "trainer.epochs=15", "trainer.checkpoint_every=1000", "seed=3")
    sweep_dir = tmp_path / "sweep"
    sweep = start_sweep(tmp_path, *job, f"hydra.sweep.dir={sweep_dir}")
    folder = sweep_dir / "0"
    wait_until(lambda: (folder / "checkpoint.npz").exists(), what="a first checkpoint")
    time.sleep(2)
    job_id = next(iter(slurm("squeue", "-h", "-o", "%i").split()))
    slurm("scontrol", "requeue", job_id)
    wait_until(lambda: (folder / "summary.json").exists()
               and summary(folder)["status"] == "completed", what="the requeued run")  # fmt: skip
    wait(sweep)
    final = summary(folder)
    assert final["resumed_from"], final  # resumed, neither from scratch nor refused
    assert "SIGTERM: saving after this block" in (folder / "run.log").read_text()
    same_weights(folder, alone(tmp_path, *job))


def test_a_time_limit_checkpoints_requeues_and_completes_across_attempts(cluster, tmp_path):
    """A one-minute limit for a run that needs longer (250,000 trials): SLURM's warning
    (SIGUSR2, signal_delay_s before the limit; SLURM checks limits about every 30 s, so it may
    come sooner) stops the run at a block boundary, it saves, submitit requeues the job, and the
    next attempt resumes; the run completes, to the uninterrupted run's weights."""
    job = ("experiment=bars_oja", "trainer.epochs=25", "trainer.checkpoint_every=1000", "seed=4")
    sweep_dir = tmp_path / "sweep"
    sweep = start_sweep(
        tmp_path,
        *job,
        "hydra.launcher.timeout_min=1",
        "hydra.launcher.signal_delay_s=30",
        "hydra.launcher.max_num_timeout=10",
        f"hydra.sweep.dir={sweep_dir}",
    )
    output = wait(sweep, limit=900)
    folder = sweep_dir / "0"
    final = summary(folder)
    assert final["status"] == "completed", output[-3000:]
    log = (folder / "run.log").read_text()
    assert "SIGUSR2: saving after this block" in log and "resuming from step" in log
    same_weights(folder, alone(tmp_path, *job))


def test_a_cancelled_job_ends_the_sweep_and_is_reported_as_cancelled(cluster, tmp_path):
    sweep_dir = tmp_path / "sweep"
    sweep = start_sweep(tmp_path, "experiment=bars_oja", "trainer.epochs=20", "seed=5,6",
                        "trainer.checkpoint_every=1000",
                        f"hydra.sweep.dir={sweep_dir}")  # fmt: skip
    wait_until(lambda: all((sweep_dir / job / "checkpoint.npz").exists() for job in "01"),
               what="both jobs learning")  # fmt: skip
    cancelled = next(j for j in slurm("squeue", "-h", "-o", "%i").split() if j.endswith("_1"))
    slurm("scancel", cancelled)
    output = wait(sweep)
    assert sweep.returncode == 1, output[-3000:]
    assert "cancelled" in output
    wait_until(lambda: state(cancelled).startswith("CANCELLED"), what="sacct's record")
    rows = {r["job"]: r["status"] for r in csv_rows(tmp_path, sweep_dir)}
    assert sorted(rows.values()) == ["cancelled", "completed"], rows


def csv_rows(tmp_path: Path, sweep_dir: Path) -> list[dict]:
    import csv

    run_plastic("report", str(sweep_dir), cwd=tmp_path)
    with open(sweep_dir / "sweep.csv") as f:
        return list(csv.DictReader(f))


def test_a_bad_partition_is_one_line_before_anything_is_queued(cluster, tmp_path):
    result = run_plastic("run", "-m", "hydra/launcher=slurm", "hydra.launcher.partition=nosuch",
                         "experiment=smoke/oja", "seed=1,2", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "plastic: error: hydra.launcher.partition=nosuch is not a partition of this cluster; "
        "choose one of: debug"
    ]
    assert slurm("squeue", "-h").strip() == ""
    assert not (tmp_path / "outputs").exists()


def test_another_sbatch_refusal_is_one_line_and_nothing_is_queued(cluster, tmp_path):
    result = run_plastic("run", "-m", "hydra/launcher=slurm", "hydra.launcher.partition=debug",
                         "hydra.launcher.mem_gb=100000", "experiment=smoke/oja", "seed=1,2",
                         cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "sbatch refused the sweep, nothing was queued" in lines[0], lines
    assert "Memory specification" in lines[0]
    assert slurm("squeue", "-h").strip() == ""
