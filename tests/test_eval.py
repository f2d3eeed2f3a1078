"""`plastic eval RUN [overrides]` measures a finished run's weights again, into a folder of its
own that names the run; the run's folder stays byte for byte as it was."""

import json

import pytest

from plastic.cli import main
from tests.conftest import run_in_process
from tests.test_faults import fingerprint


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A feature learner with a probe (digits), and a dynamical system."""
    cwd = tmp_path_factory.mktemp("runs")
    for name, args in (
        ("hopfield", ["experiment=smoke/hopfield"]),
        ("force", ["experiment=smoke/force"]),
    ):
        done = run_in_process("run", *args, f"hydra.run.dir={name}", cwd=cwd)
        assert done.returncode == 0, done.stderr
    return cwd


def summary(folder):
    return json.loads((folder / "summary.json").read_text())


def test_the_same_weights_on_the_same_data_give_the_runs_figures(runs, tmp_path, capsys):
    run = runs / "hopfield"
    before = fingerprint(run)
    assert main(["eval", str(run), "--out", str(tmp_path / "again")]) == 0
    assert "evaluation folder: " + str(tmp_path / "again") in capsys.readouterr().out
    measured, original = summary(tmp_path / "again"), summary(run)
    assert measured["evaluated_run"] == str(run)
    for name in ("probe_accuracy", "probe_random", "probe_raw_pixels"):
        assert measured["metrics"][name] == original["metrics"][name]
    assert (tmp_path / "again" / ".hydra" / "config.yaml").exists()
    assert fingerprint(run) == before


def test_another_split_changes_what_the_probe_sees(runs, tmp_path):
    out = tmp_path / "split"
    assert (
        main(["eval", str(runs / "hopfield"), "dataset.test_fraction=0.5", "--out", str(out)]) == 0
    )
    measured = summary(out)
    assert measured["overrides"] == ["dataset.test_fraction=0.5"]
    assert (
        measured["metrics"]["probe_accuracy"]
        != summary(runs / "hopfield")["metrics"]["probe_accuracy"]
    )


def test_a_dynamical_system_runs_on_its_own(runs, tmp_path):
    out = tmp_path / "free"
    assert main(["eval", str(runs / "force"), "--steps", "150", "--out", str(out)]) == 0
    lines = (out / "free_run.csv").read_text().splitlines()
    assert lines[0] == "time,z" and len(lines) == 151
    assert (out / "free_run.png").exists()


@pytest.mark.parametrize(
    "args, words",
    [
        (["model.n_units=3"], "model.n_units cannot change"),
        (["seed=4"], "seed cannot change"),
        (["dataset=nosuch"], "dataset=nosuch is not available"),
        (["dataset=bars", "dataset.size=6"], "does not fit the model"),
        (["--steps", "0"], "--steps=0 is not allowed"),
        (["--bogus"], "unknown flag --bogus"),
    ],
)
def test_a_refused_evaluation_is_one_line_and_writes_nothing(runs, tmp_path, capsys, args, words):
    run = runs / "hopfield"
    before = fingerprint(run)
    out = tmp_path / "refused"
    assert main(["eval", str(run), *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1
    assert not out.exists() and fingerprint(run) == before


def test_only_a_completed_run_is_evaluated(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "nowhere")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut" / "summary.json").write_text('{"status": "interrupted"}')
    assert main(["eval", str(tmp_path / "cut")]) == 2
    assert "did not complete (status interrupted)" in capsys.readouterr().err
