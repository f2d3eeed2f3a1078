"""Every kind of user mistake: one line on stderr naming key, value and what is allowed; exit 2;
no traceback; no run folder."""

import pytest

from tests.conftest import has_gpu

CASES = {
    "misspelt key": (["model.n_unit=3"], ["model.n_unit", "n_units"]),
    "misspelt top-level key": (["+sed=3"], ["sed", "seed"]),
    "wrong type": (["model.n_units=many"], ["model.n_units", "'many'", "an integer"]),
    "zero units": (["model.n_units=0"], ["model.n_units=0", "> 0"]),
    "negative learning time constant": (["model.tau_learning=-5"], ["model.tau_learning", "> 0"]),
    "unknown choice": (["device.dtype=float16"], ["device.dtype", "float16", "float32, float64"]),
    "unknown model": (["model=nosuch"], ["model=nosuch", "oja"]),
    "unknown dataset": (["dataset=nosuch"], ["dataset=nosuch", "bars", "digits", "mnist"]),
    "unknown experiment": (["experiment=nosuch"], ["experiment=nosuch", "bars_oja"]),
    "unknown activation": (
        ["model=bcm", "model.activation=swish"],
        ["model.activation", "swish", "relu", "logistic"],
    ),
    "unknown optimizer": (
        ["model=bcm", "model/optimizer=nosuch"],
        ["model/optimizer=nosuch", "adam"],
    ),
    "k above the units": (
        ["model=hopfield", "model.n_units=4", "model.k=5"],
        ["model.k=5", "<= model.n_units"],
    ),
    "a rule on data it cannot learn from": (
        ["model=force"],
        ["dataset=bars", "model=force", "dataset=timeline"],
    ),
    "an image rule on a time line": (
        ["model=oja", "dataset=timeline"],
        ["dataset=timeline", "model=oja", "dataset=digits"],
    ),
    "bad override syntax": (["model.tau=["], ["cannot read the overrides"]),
    "a metric the run will never have": (
        ["optimize_metric=nosuch"],
        ["optimize_metric=nosuch", "bar_coverage", "probe_accuracy"],
    ),
    "bad value in a recipe run": (
        ["experiment=smoke/oja", "trainer.record_every=-1"],
        ["trainer.record_every=-1", "> 0"],
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_user_mistake_is_one_line_and_exit_2(cli, name):
    args, needles = CASES[name]
    result = cli("run", *args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("plastic: error: ")
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert not (cli.cwd / "outputs").exists()  # stopped before any work


@pytest.mark.skipif(has_gpu(), reason="this machine has a GPU")
def test_device_gpu_without_gpu_is_one_clear_line(cli):
    result = cli("run", "experiment=smoke/oja", "device=gpu")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "device=gpu" in lines[0] and "device=cpu" in lines[0]
    assert "Traceback" not in result.stderr


def test_unknown_command(cli):
    result = cli("frobnicate")
    assert result.returncode == 2 and "unknown command" in result.stderr


def test_resume_of_a_folder_that_is_no_run(cli):
    (cli.cwd / "empty").mkdir()
    result = cli("run", "resume=empty")
    assert result.returncode == 2 and "not a plastic run folder" in result.stderr
    # a run killed before its first checkpoint: its config is there, no state to go on from
    (cli.cwd / "early" / ".hydra").mkdir(parents=True)
    (cli.cwd / "early" / ".hydra" / "overrides.yaml").write_text("- experiment=smoke/oja\n")
    result = cli("run", "resume=early")
    assert result.returncode == 2 and "has nothing to resume: start it again" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
