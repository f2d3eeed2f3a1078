"""Second round of bad inputs: broken plugins, files that are not files, rules whose features
are not finite, SLURM tools that answer nonsense, searches whose trials fail. Each is one line
and its exit status; no run folder is left where the run was refused before it began."""

import os
import stat
import textwrap

import pytest

from tests.test_faults import fingerprint, one_error_line


def folders_with_files(cwd):
    outputs = cwd / "outputs"
    return [p for p in outputs.rglob("*") if p.is_file()] if outputs.exists() else []


# ----------------------------------------------------------------------------- plugins
BROKEN = "raise RuntimeError('this plugin is broken')\n"


def test_a_rule_file_that_fails_to_import_is_one_line(cli):
    (cli.cwd / "badrule.py").write_text(BROKEN)
    (cli.cwd / "conf" / "model").mkdir(parents=True)
    (cli.cwd / "conf" / "model" / "bad.yaml").write_text("_target_: badrule.Bad\n")
    result = cli("run", "--config-dir", "conf", "model=bad")
    one_error_line(result, "model._target_='badrule.Bad' fails to import", "RuntimeError")
    assert not folders_with_files(cli.cwd)


def broken_package(site):
    """An installed distribution whose rule's module raises RuntimeError as it loads."""
    site.mkdir()
    (site / "brokenrule.py").write_text(BROKEN)
    info = site / "brokenrule-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenrule\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[plastic.rules]\nbroken = brokenrule:Broken\n")


def test_an_installed_rule_that_fails_to_import_is_one_line_where_it_is_chosen(cli):
    site = cli.cwd / "site"
    broken_package(site)
    env = {"PYTHONPATH": str(site)}  # the installed plugin: seen by a new process
    listed = cli.process("list", env=env)
    assert listed.returncode == 0 and "cannot be imported" in listed.stdout
    one_error_line(cli.process("list", "model=broken", env=env), "fails to import", "RuntimeError")
    one_error_line(cli.process("run", "model=broken", env=env), "fails to import", "RuntimeError")
    # a run of another rule is not stopped by it, but hears of it, once
    other = cli.process("run", "experiment=smoke/oja", env=env)
    assert other.returncode == 0
    warned = [line for line in other.stderr.splitlines() if "model=broken" in line]
    assert len(warned) == 1 and warned[0].startswith("plastic: warning: model=broken (brokenrule")
    check = cli.process("list", "--check", env=env)
    assert check.returncode == 1 and check.stdout.strip().startswith("plastic: model=broken")
    assert cli.process("list", "--check").returncode == 0  # without it, every plugin imports


# ----------------------------------------------------------------------------- data paths
@pytest.mark.parametrize(
    "args, key",
    [
        (["model=hopfield", "dataset=mnist", "dataset.path=fifo"], "dataset.path='fifo'"),
        (["model=hopfield", "dataset=mnist", "dataset.path=idx"], "dataset.path='idx/train"),
        (["experiment=smoke/force", "model/target=file", "model.target.path=fifo"],
         "model.target.path='fifo'"),
        (["experiment=smoke/topo_wta", "dataset.digits_source=file", "dataset.digits_path=fifo"],
         "dataset.digits_path='fifo'"),
    ],
)  # fmt: skip
def test_a_fifo_as_data_is_one_line_and_never_opened(cli, args, key):
    """Opening a FIFO would wait for a writer for ever: only regular files are read."""
    os.mkfifo(cli.cwd / "fifo")
    (cli.cwd / "idx").mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):  # fmt: skip
        os.mkfifo(cli.cwd / "idx" / name)
    result = cli("run", *args, timeout=120)
    one_error_line(result, key, "is not a regular file")
    assert not folders_with_files(cli.cwd)
    assert stat.S_ISFIFO((cli.cwd / "fifo").stat().st_mode)


# ----------------------------------------------------------------------------- rules
NAN_RULE = textwrap.dedent(
    """
    import numpy as np
    from dataclasses import dataclass
    from plastic.config import setting
    from plastic.rule import FeatureLearner

    @dataclass
    class Config:
        n_units: int = setting(4, gt=0)

    class NanFeatures(FeatureLearner):
        '''Learns nothing; its features are NaN.'''
        Config = Config
        state_names = ("weights",)

        def __init__(self, cfg, backend, n_inputs, rng):
            super().__init__(cfg, backend, n_inputs, rng)
            self.weights = backend.asarray(rng.normal(size=(cfg.n_units, n_inputs)))

        def learn(self, block):
            pass

        def encode(self, x):
            return np.full((len(x), self.cfg.n_units), np.nan)

        def receptive_fields(self):
            return self.backend.to_host(self.weights)
    """
)


def test_non_finite_features_name_the_rule_in_one_line(cli):
    (cli.cwd / "nanrule.py").write_text(NAN_RULE)
    (cli.cwd / "conf" / "model").mkdir(parents=True)
    (cli.cwd / "conf" / "model" / "nanfeat.yaml").write_text("_target_: nanrule.NanFeatures\n")
    result = cli("run", "--config-dir", "conf", "model=nanfeat", "dataset=digits",
                 "hydra.run.dir=run")  # fmt: skip
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert "NanFeatures.encode gave" in lines[0] and "non-finite" in lines[0]
    import json

    summary = json.loads((cli.cwd / "run" / "summary.json").read_text())
    assert summary["status"] == "failed" and "NanFeatures.encode" in summary["reason"]


# ----------------------------------------------------------------------------- launchers
def test_an_sbatch_that_answers_nonsense_is_one_line(cli):
    tools = cli.cwd / "bin"
    tools.mkdir()
    for name in ("sbatch", "srun"):
        (tools / name).write_text("#!/bin/sh\necho 'not a job id at all'\n")
        (tools / name).chmod(0o755)
    env = {"PATH": f"{tools}:{os.environ['PATH']}"}
    result = cli("run", "-m", "hydra/launcher=slurm", "experiment=smoke/oja", "seed=0,1",
                 "hydra.sweep.dir=sweep", env=env)  # fmt: skip
    one_error_line(result, "sbatch's answer cannot be read as a job id", "not a job id at all")


def test_slurm_without_srun_is_one_line(cli):
    tools = cli.cwd / "bin"
    tools.mkdir()
    (tools / "sbatch").write_text("#!/bin/sh\necho 'Submitted batch job 7'\n")
    (tools / "sbatch").chmod(0o755)
    env = {"PATH": str(tools)}  # where SLURM is installed, its srun is not on this PATH
    result = cli("run", "-m", "hydra/launcher=slurm", "experiment=smoke/oja", "seed=0,1",
                 "hydra.sweep.dir=sweep", env=env)  # fmt: skip
    one_error_line(result, "needs SLURM's srun")


# ----------------------------------------------------------------------------- searches
DIVERGING = ["experiment=search/oja_bars", "hydra.sweeper.n_trials=2",
             "model.tau_learning=interval(0.001,0.002)", "dataset.n_samples=300"]  # fmt: skip


@pytest.mark.slow  # seconds of real runs: the slow tier (CI runs it)
def test_a_search_whose_trials_all_fail_ends_in_one_line(cli):
    result = cli("run", "-m", *DIVERGING, "hydra.sweep.dir=search")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1, result.stderr[-2000:]
    assert lines[-1] == (
        "plastic: every trial of the search failed; plastic report on its folder says why"
    )
    assert "Traceback" not in result.stderr
    report = cli("report", "search")
    assert report.returncode == 0 and "diverged" in report.stdout


@pytest.mark.slow  # seconds of real runs: the slow tier (CI runs it)
def test_a_search_stopped_by_its_first_failed_trial_says_how_to_go_on(cli):
    result = cli("run", "-m", *DIVERGING, "hydra.sweeper.max_failure_rate=0.0",
                 "hydra.sweep.dir=search")  # fmt: skip
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert last.startswith("plastic: the search stopped at a failed trial (job 0 did not complete")
    assert "hydra.sweeper.max_failure_rate=1.0" in last


def test_a_refused_search_changes_nothing(cli):
    (cli.cwd / "search").mkdir()
    (cli.cwd / "search" / "notes.txt").write_text("mine")
    before = fingerprint(cli.cwd)
    result = cli("run", "-m", "experiment=search/oja_bars", "model.tau_learning=interval(9,1)",
                 "hydra.sweep.dir=search")  # fmt: skip
    one_error_line(result, "its low end 9.0 is above its high end 1.0")
    assert fingerprint(cli.cwd) == before


# ----------------------------------------------------------------------------- sizes, races
@pytest.mark.parametrize(
    "args, words",
    [
        (["model=attractor", "dataset=fep_digits", "dataset.n_presentations=1000000000"],
         "dataset=fep_digits about"),
        (["experiment=smoke/oja", "dataset.n_samples=1000000000"], "dataset=bars about"),
        (["experiment=smoke/force", "dataset.duration=1e12"], "dataset=timeline about"),
        (["experiment=smoke/topo_wta", "dataset.n_frames=1000000000"], "dataset=tapestry about"),
        (["experiment=smoke/oja", "dataset.size=20000"], "GiB"),
        (["model=hopfield", "dataset=digits", "model.n_units=100000000000"], "model=hopfield"),
    ],
)  # fmt: skip
def test_a_size_that_cannot_fit_is_refused_before_any_folder(cli, args, words):
    result = cli("run", *args)
    one_error_line(result, words, "memory available")
    assert not (cli.cwd / "outputs").exists() or not any((cli.cwd / "outputs").rglob("*.*"))


def test_a_size_beyond_the_address_space_limit_is_refused(cli):
    """ulimit -v: what the process may still map, not only what the machine has free."""
    import subprocess

    from tests.conftest import plastic_exe

    result = subprocess.run(
        ["bash", "-c", f"ulimit -v 8000000; {plastic_exe()} run experiment=smoke/oja "
         "dataset.size=2000"],
        cwd=cli.cwd, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    one_error_line(result, "dataset=bars about", "memory available")


def test_two_sweeps_into_one_folder_at_once(cli):
    """The second stops in one line; the first's records are its own."""
    import subprocess
    import time

    import yaml

    from tests.conftest import plastic_exe

    first = subprocess.Popen(
        [plastic_exe(), "run", "-m", "experiment=smoke/oja", "seed=0,1", "hydra.sweep.dir=both"],
        cwd=cli.cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.time() + 60
    while not (cli.cwd / "both" / "multirun.yaml").exists() and time.time() < deadline:
        time.sleep(0.05)
    second = cli("run", "-m", "experiment=smoke/oja", "seed=5,6", "hydra.sweep.dir=both")
    first.communicate(timeout=240)
    assert first.returncode == 0
    one_error_line(second, "is being written by another plastic sweep")
    for job, seed in (("0", 0), ("1", 1)):
        overrides = yaml.safe_load(
            (cli.cwd / "both" / job / ".hydra" / "overrides.yaml").read_text()
        )
        assert f"seed={seed}" in overrides
    # when the first has ended, another sweep into its folder is refused too
    again = cli("run", "-m", "experiment=smoke/oja", "seed=5,6", "hydra.sweep.dir=both")
    one_error_line(again, "already holds another sweep")


CHECKING_RULE = textwrap.dedent(
    """
    from dataclasses import dataclass
    from plastic.config import setting
    from plastic.rule import FeatureLearner

    @dataclass
    class Config:
        n_units: int = setting(4, gt=0)
        k: int = setting(2, gt=0)

    class Picky(FeatureLearner):
        '''A rule whose check raises a plain ValueError, as a stranger's might.'''
        Config = Config

        @classmethod
        def check(cls, cfg, data=None):
            if cfg.k > cfg.n_units:
                raise ValueError(f"k={cfg.k} must not exceed n_units={cfg.n_units}")
    """
)


def test_a_rules_own_check_is_one_line_whatever_it_raises(cli):
    (cli.cwd / "picky.py").write_text(CHECKING_RULE)
    (cli.cwd / "conf" / "model").mkdir(parents=True)
    (cli.cwd / "conf" / "model" / "picky.yaml").write_text("_target_: picky.Picky\n")
    unlisted = cli("run", "--config-dir", "conf", "model=picky", "model.k=9")
    one_error_line(unlisted, "model.k is a setting of the rule", "+model.k=VALUE")
    result = cli("run", "--config-dir", "conf", "model=picky", "+model.k=9")
    one_error_line(result, "model=Picky refuses these settings: k=9 must not exceed n_units=4")
    assert not (cli.cwd / "outputs").exists() or not any((cli.cwd / "outputs").rglob("*.*"))
