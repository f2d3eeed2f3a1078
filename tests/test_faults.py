"""Faults lose nothing and mistakes are one line: damaged checkpoints and summaries, resume
with changed settings, SIGTERM and kill -9, two writers in one folder, a full disk, bad data."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import plastic_exe

LONG = [
    "experiment=smoke/oja",
    "dataset.n_samples=3000000",
    "model.steps_per_trial=10",
    "trainer.block_size=100",
    "trainer.record_every=5000",
    "trainer.checkpoint_every=5000",
    "trainer.progress=log",
]


def start(cwd, *args):
    return subprocess.Popen(
        [plastic_exe(), "run", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def wait_for_checkpoint(folder, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if (folder / "checkpoint.npz").exists() and (folder / "metrics.csv").exists():
            return
        time.sleep(0.05)
    raise AssertionError("no checkpoint appeared")


def python_in(cwd, code: str):
    """`python -c CODE` in `cwd`, as a user's shell would start it (no HYDRA_FULL_ERROR)."""
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, env=env,
        timeout=240,
    )  # fmt: skip


def fingerprint(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".plastic.lock"
    }


def one_error_line(result, *needles):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("plastic: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """A run stopped by SIGTERM (as SLURM stops one), its folder kept as a pristine copy."""
    cwd = tmp_path_factory.mktemp("interrupted")
    process = start(cwd, *LONG, "hydra.run.dir=cut")
    wait_for_checkpoint(cwd / "cut")
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "stopped by SIGTERM" in err and "resume=" in err and len(err.strip().splitlines()) == 1
    return cwd / "cut"


def copy_of(folder, tmp_path):
    import shutil

    target = tmp_path / "run"
    shutil.copytree(folder, target)
    return target


def test_sigterm_is_an_interrupt_and_the_run_resumes(interrupted, cli, tmp_path):
    summary = json.loads((interrupted / "summary.json").read_text())
    assert summary["status"] == "interrupted" and "SIGTERM" in summary["reason"]
    run = copy_of(interrupted, tmp_path)
    result = cli("run", f"resume={run}", "trainer.max_steps=300000", "trainer.progress=off")
    assert result.returncode == 0, result.stderr
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["resumed_from"] > 0


@pytest.mark.parametrize(
    "damage, needle",
    [
        ("truncated", "is damaged"),
        ("empty", "is damaged"),
        ("garbage", "is damaged"),
        ("wrong keys", "is not a plastic checkpoint"),
    ],
)
def test_a_damaged_checkpoint_is_one_line_and_the_folder_stays(
    interrupted, cli, tmp_path, damage, needle
):
    run = copy_of(interrupted, tmp_path)
    checkpoint = run / "checkpoint.npz"
    data = checkpoint.read_bytes()
    if damage == "truncated":
        checkpoint.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        checkpoint.write_bytes(b"")
    elif damage == "garbage":
        checkpoint.write_bytes(os.urandom(4096))
    else:
        np.savez(checkpoint.with_suffix(""), weights=np.zeros(3))
        checkpoint.with_suffix("").with_suffix(".npz").replace(checkpoint)
    before = fingerprint(run)
    one_error_line(cli("run", f"resume={run}"), needle, "left as it is")
    assert fingerprint(run) == before


def rewrite_checkpoint(run, change):
    from plastic.artifacts import read_npz, write_npz

    state = read_npz(run / "checkpoint.npz")
    change(state)
    write_npz(run / "checkpoint.npz", state)


def another_models_state(state):
    for key in [k for k in state if k.startswith("model/")]:
        del state[key]
    state["model/weights"] = np.zeros((4, 64))


def wrong_shapes(state):
    state["model/feedforward"] = np.zeros((3, 64))  # the same keys, another shape


def beyond_the_end(state):
    state["trainer/step"] = np.array(10**12)


def wrong_records(state):
    del state["record/mean_best_cosine"]


@pytest.mark.parametrize(
    "change, extra, needle",
    [
        (another_models_state, [], "holds the state of another model"),
        (wrong_shapes, [], "its 'feedforward' is float64 [3, 64]"),
        (wrong_records, [], "lacks the records of mean_best_cosine"),
        (beyond_the_end, [], "beyond the"),
        (None, ["trainer.max_steps=100"], "beyond the 100 steps"),
    ],
)
def test_a_refused_resume_leaves_every_file_as_it_was(
    interrupted, cli, tmp_path, change, extra, needle
):
    """Refused before Hydra writes anything: .hydra/ and run.log too stay byte for byte."""
    run = copy_of(interrupted, tmp_path)
    if change is not None:
        rewrite_checkpoint(run, change)
    before = fingerprint(run)
    one_error_line(cli("run", f"resume={run}", *extra), needle, "left as it is")
    assert fingerprint(run) == before


def test_a_read_only_run_folder_is_refused_in_one_line(interrupted, cli, tmp_path):
    """A resume of a run whose folder cannot be written, and a run into such a place."""
    from tests.test_report import read_only

    run = copy_of(interrupted, tmp_path)
    before = fingerprint(run)
    (tmp_path / "ro_parent").mkdir()
    place = read_only(tmp_path / "ro_parent")
    import subprocess

    try:
        one_error_line(cli("run", "experiment=smoke/oja", f"hydra.run.dir={place / 'run'}"),
                       "cannot be written")  # fmt: skip
        subprocess.run(["mount", "-o", "remount,rw", str(place)], check=True)
        import shutil

        shutil.copytree(run, place / "run")
        subprocess.run(["mount", "-o", "remount,ro", str(place)], check=True)
        one_error_line(cli("run", f"resume={place / 'run'}"), "cannot be written")
        assert fingerprint(place / "run") == before
    finally:
        subprocess.run(["umount", str(place)], capture_output=True)


@pytest.mark.parametrize(
    "override, needle",
    [("model=bcm", "model would change"), ("model.n_units=64", "model.n_units would change")],
)
def test_resume_refuses_settings_that_change_what_was_learned(
    interrupted, cli, tmp_path, override, needle
):
    run = copy_of(interrupted, tmp_path)
    before = fingerprint(run)
    one_error_line(cli("run", f"resume={run}", override), needle, "trainer.epochs")
    assert fingerprint(run) == before


def test_an_unreadable_summary_is_refused_by_resume_and_reported_by_report(
    interrupted, cli, tmp_path
):
    run = copy_of(interrupted, tmp_path)
    (run / "summary.json").write_text("{not json")
    one_error_line(cli("run", f"resume={run}"), "summary.json cannot be read")
    # a sweep with one unreadable job: that job says so, the others report as usual
    sweep = cli("run", "-m", "experiment=smoke/oja", "seed=0,1", "hydra.sweep.dir=sweep")
    assert sweep.returncode == 0, sweep.stderr
    (cli.cwd / "sweep" / "1" / "summary.json").write_text("[1, 2")
    (cli.cwd / "sweep" / "0" / ".hydra" / "overrides.yaml").write_text("- a: [")
    report = cli("report", "sweep")
    assert report.returncode == 0, report.stderr
    assert "unreadable" in report.stdout and "summary.json cannot be read" in report.stdout


# a new draw each time the suite runs, the same in every worker of one parallel run (which
# must collect the same tests): pytest-xdist names the run
_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID")
MOMENTS = np.random.default_rng(None if _RUN is None else int(_RUN, 16)).uniform(0, 2, 2).round(2)


# a second moment in the slow tier: make test keeps one (each is a real run killed mid-way)
@pytest.mark.parametrize("moment", [MOMENTS[0], pytest.param(MOMENTS[1], marks=pytest.mark.slow)])
def test_kill_9_loses_nothing_that_was_saved(cli, moment):
    """kill -9 at a random moment of the run (a new one each time the suite runs)."""
    process = start(cli.cwd, *LONG, "hydra.run.dir=killed", "trainer.checkpoint_seconds=0.2")
    wait_for_checkpoint(cli.cwd / "killed")
    time.sleep(moment)
    process.kill()
    process.communicate(timeout=60)
    run = cli.cwd / "killed"
    state = np.load(run / "checkpoint.npz")  # whole: written to a temporary name, renamed
    reached = int(state["trainer/step"])  # 0 when killed before the second checkpoint
    # as a kill in the middle of a write leaves it (the killed process's own pid)
    (run / f".weights.npz.{process.pid}.tmp").write_bytes(b"half a file")
    more = f"trainer.max_steps={reached + 10000}"
    result = cli("run", f"resume={run}", more, "trainer.progress=off")
    assert result.returncode == 0, result.stderr  # the lock died with the process
    # a write the kill cut short left its temporary file; the resume swept it away
    assert not list(run.glob(".*.tmp"))


def test_two_writers_in_one_folder(cli):
    process = start(cli.cwd, *LONG, "hydra.run.dir=busy")
    try:
        wait_for_checkpoint(cli.cwd / "busy")
        one_error_line(cli("run", "experiment=smoke/oja", "hydra.run.dir=busy"), "another plastic")
        one_error_line(cli("run", f"resume={cli.cwd / 'busy'}"), "another plastic")
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=120)
    assert json.loads((cli.cwd / "busy" / "summary.json").read_text())["status"] == "interrupted"


def test_a_folder_that_is_not_a_run_is_never_written_over(cli):
    (cli.cwd / "notes").mkdir()
    (cli.cwd / "notes" / "mine.txt").write_text("keep me")
    one_error_line(cli("run", "experiment=smoke/oja", "hydra.run.dir=notes"), "other files")
    assert sorted(p.name for p in (cli.cwd / "notes").iterdir()) == ["mine.txt"]
    (cli.cwd / "afile").write_text("")
    one_error_line(
        cli("run", "experiment=smoke/oja", "hydra.run.dir=afile/run"), "cannot be written"
    )


def small_disk(folder):
    """A 300 KiB tmpfs at `folder`, where this machine lets one be mounted (root); else None."""
    folder.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(folder)], capture_output=True
    )
    return folder if made.returncode == 0 else None


def test_a_full_disk_is_one_line_and_the_run_says_so(cli):
    disk = small_disk(cli.cwd / "disk")
    if disk is None:
        pytest.skip("no tmpfs can be mounted here: the next test makes a write fail instead")
    try:
        args = ("experiment=smoke/topo_wta", f"hydra.run.dir={disk / 'run'}")
        one_error_line(cli("run", *args), "No space left on device", str(disk / "run"))
        assert not list((disk / "run").glob(".*.tmp"))
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def test_a_full_disk_is_one_line_and_leaves_whole_files(cli):
    """A write that fails as a full disk does (ENOSPC) from the third file on."""
    code = (
        "import errno, sys, plastic.artifacts as a, plastic.pictures.primitives as v\n"
        "real, count = a.atomic_write, [0]\n"
        "def failing(path, write, *rest):\n"
        "    count[0] += 1\n"
        "    if count[0] > 2:\n"
        "        raise OSError(errno.ENOSPC, 'No space left on device', str(path))\n"
        "    return real(path, write, *rest)\n"
        "a.atomic_write = v.atomic_write = failing\n"
        "from plastic.cli import main\n"
        "sys.exit(main(['run', 'experiment=smoke/oja', 'hydra.run.dir=full']))\n"
    )
    result = python_in(cli.cwd, code)
    one_error_line(result, "No space left on device", "full")
    run = cli.cwd / "full"
    assert not list(run.glob(".*.tmp"))
    for npz in run.glob("*.npz"):
        assert np.load(npz).files  # what was written is whole


def test_astronomical_weights_diverge_and_the_summary_is_strict_json(cli):
    result = cli("run", "experiment=smoke/bcm", "model.optimizer.learning_rate=1e30",
                 "hydra.run.dir=astro")  # fmt: skip
    assert result.returncode == 3, result.stderr

    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    summary = json.loads((cli.cwd / "astro" / "summary.json").read_text(), parse_constant=refuse)
    assert summary["status"] == "diverged" and "grew beyond" in summary["reason"]


def test_a_size_that_cannot_fit_is_refused_before_allocating(cli):
    one_error_line(cli("run", "experiment=smoke/force", "model.n_units=60000"), "GiB", "more than")


def make_mnist(path, x_train, y_train=None):
    y_train = np.zeros(len(x_train), np.uint8) if y_train is None else y_train
    x_test = np.zeros((10, 28, 28), np.uint8)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=np.zeros(10, np.uint8))


@pytest.mark.parametrize(
    "x_train, y_train, needle",
    [
        (np.zeros((100, 10), np.uint8), None, "x_train has shape (100, 10)"),
        (np.zeros((0, 28, 28), np.uint8), None, "x_train has shape (0, 28, 28)"),
        (np.full((100, 28, 28), np.nan), None, "NaN or infinite"),
        (np.zeros((100, 28, 28), np.uint8), np.zeros(90, np.uint8), "labels has shape (90,)"),
        (np.array([["a"] * 784] * 5), None, "dtype <U1"),
    ],
)
def test_data_of_the_wrong_shape_is_one_line_before_training(cli, x_train, y_train, needle):
    make_mnist(cli.cwd / "data.npz", x_train, y_train)
    args = ("model=hopfield", "dataset=mnist", "dataset.path=data.npz", "model.batch_size=5")
    result = cli("run", *args)
    assert result.returncode == 2, result.stderr
    assert needle in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not list(cli.cwd.glob("outputs/*/*/checkpoint.npz"))  # no training happened


def test_a_force_target_of_strings_is_one_line(cli):
    np.save(cli.cwd / "target.npy", np.array(["a", "b"]))
    result = cli("run", "experiment=smoke/force", "model/target=file",
                 "model.target.path=target.npy")  # fmt: skip
    one_error_line(result, "model.target.path", "cannot be read")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_second_signal_aborts_and_still_records_interrupted(cli, signum):
    process = start(cli.cwd, *LONG, "hydra.run.dir=twice")
    wait_for_checkpoint(cli.cwd / "twice")
    process.send_signal(signum)
    time.sleep(0.01)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    summary = json.loads((cli.cwd / "twice" / "summary.json").read_text())
    assert summary["status"] == "interrupted", summary["reason"]


def test_a_sweep_job_stopped_before_its_first_checkpoint_starts_again(cli):
    """A second Ctrl-C before the first checkpoint leaves a job `interrupted` with no state
    (the untrained one is never written): the sweep launched again runs it from the seed."""
    sweep = ["-m", "experiment=smoke/oja", "seed=0,1", "hydra.sweep.dir=early"]
    assert cli("run", *sweep).returncode == 0
    job = cli.cwd / "early" / "0"
    finished = np.load(job / "weights.npz")
    finished = {name: finished[name] for name in finished.files}
    summary = json.loads((job / "summary.json").read_text())
    reason = "aborted by a second Ctrl-C; before the first checkpoint (seed=0 rebuilds the ...)"
    summary.update(status="interrupted", reason=reason)
    (job / "summary.json").write_text(json.dumps(summary))
    for name in ("checkpoint.npz", "weights.npz", "metrics.csv"):
        (job / name).unlink()
    again = cli("run", *sweep)
    assert again.returncode == 0, again.stderr
    summary = json.loads((job / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["resumed_from"] is None
    rerun = np.load(job / "weights.npz")
    for name, array in finished.items():
        np.testing.assert_array_equal(rerun[name], array, err_msg=name)


@pytest.mark.slow  # a sweep run twice through the console script (about 20 s)
def test_a_preempted_sweep_job_resumes_when_its_sweep_runs_again(cli):
    """What SLURM does to a preempted job (it runs it again in the same folder) and what a user
    does to finish a sweep (the same command again): the interrupted job resumes, bit for bit."""
    sweep = ["-m", *LONG, "trainer.max_steps=150000", "seed=0"]
    whole = cli("run", *sweep, "hydra.sweep.dir=whole")
    assert whole.returncode == 0, whole.stderr
    process = start(cli.cwd, *sweep, "hydra.sweep.dir=cut")
    wait_for_checkpoint(cli.cwd / "cut" / "0")
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130 and "interrupted" in err, err  # stopped, jobs listed
    again = cli("run", *sweep, "hydra.sweep.dir=cut")
    assert again.returncode == 0, again.stderr
    summary = json.loads((cli.cwd / "cut" / "0" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["resumed_from"] > 0
    a, b = (
        np.load(cli.cwd / "whole" / "0" / "weights.npz"),
        np.load(cli.cwd / "cut" / "0" / "weights.npz"),
    )
    for name in ("feedforward", "lateral", "rates"):
        np.testing.assert_array_equal(a[name], b[name])
    # launched a third time, the finished job is kept as it is; another sweep there is refused
    before = fingerprint(cli.cwd / "cut" / "0")
    assert cli("run", *sweep, "hydra.sweep.dir=cut").returncode == 0
    after = fingerprint(cli.cwd / "cut" / "0")
    assert {k: v for k, v in after.items() if k != "run.log" and not k.startswith(".hydra")} == {
        k: v for k, v in before.items() if k != "run.log" and not k.startswith(".hydra")
    }
    other = cli("run", "-m", "experiment=smoke/oja", "seed=5", "hydra.sweep.dir=cut")
    one_error_line(other, "already holds another sweep")


def test_slurms_time_limit_warning_saves_the_run_and_without_submitit_ends_it(cli):
    """SIGUSR2 (what SLURM sends signal_delay_s before a job's limit) stops a run as SIGTERM
    does; with no handler of a launcher's to pass it to, the run simply ends interrupted."""
    process = start(cli.cwd, *LONG, "hydra.run.dir=usr2")
    wait_for_checkpoint(cli.cwd / "usr2")
    process.send_signal(signal.SIGUSR2)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    summary = json.loads((cli.cwd / "usr2" / "summary.json").read_text())
    assert summary["status"] == "interrupted" and "SIGUSR2" in summary["reason"]
    assert summary["slurm_job"] is None  # not run by SLURM


def test_the_time_limit_warning_goes_on_to_the_launchers_handler_after_saving():
    """submitit's handler (here a stand-in) gets SIGUSR2 once plastic has saved."""
    from plastic import launchers

    received = []
    previous = signal.signal(signal.SIGUSR2, lambda signum, frame: received.append(signum))
    try:
        launchers.pass_on_time_limit_warning()
    finally:
        signal.signal(signal.SIGUSR2, previous)
    assert received == [signal.SIGUSR2]


@pytest.mark.parametrize("moment", ["evaluation", "writing"])
def test_the_time_limit_warning_after_training_lets_the_run_complete(cli, moment):
    """SIGUSR2 once every step is done (as SLURM sends it when the limit lands during the
    evaluation or the writing): the run completes; the launcher's handler (submitit's, which
    requeues and exits: a stand-in here) is not called."""
    code = (
        "import os, signal, sys\n"
        "def launchers_handler(signum, frame):\n"
        "    sys.exit(-1)  # what submitit does after requeueing\n"
        "signal.signal(signal.SIGUSR2, launchers_handler)\n"
        "import plastic.evaluate as e, plastic.app as a\n"
        "def warn(real):\n"
        "    def wrapped(*args, **kwargs):\n"
        "        os.kill(os.getpid(), signal.SIGUSR2)\n"
        "        return real(*args, **kwargs)\n"
        "    return wrapped\n"
        f"if {moment!r} == 'evaluation':\n"
        "    e.Evaluator.final = warn(e.Evaluator.final)\n"
        "else:\n"
        "    a._write_pictures = warn(a._write_pictures)\n"
        "from plastic.cli import main\n"
        "sys.exit(main(['run', 'experiment=smoke/oja', 'hydra.run.dir=late']))\n"
    )
    result = python_in(cli.cwd, code)
    assert result.returncode == 0, result.stderr
    assert "came after training" in result.stdout
    summary = json.loads((cli.cwd / "late" / "summary.json").read_text())
    assert summary["status"] == "completed"


def test_a_launchers_exit_before_training_leaves_the_run_resumable(cli):
    """A launcher's handler that exits the process (submitit requeueing a job) is not a fault
    of the run: it is recorded interrupted, and runs again when the job does."""
    code = (
        "import sys, plastic.trainer as t\n"
        "def exit_as_submitit(self, *args, **kwargs):\n"
        "    sys.exit(-1)\n"
        "t.Trainer.fit = exit_as_submitit\n"
        "from plastic.cli import main\n"
        "sys.exit(main(['run', 'experiment=smoke/oja', 'hydra.run.dir=early']))\n"
    )
    python_in(cli.cwd, code)
    summary = json.loads((cli.cwd / "early" / "summary.json").read_text())
    assert summary["status"] == "interrupted" and "SystemExit -1" in summary["reason"]
