"""`plastic list` covers every config group, its descriptions whole, and any choice's settings;
`plastic run --help` lists the choices, not plastic's internal schemas."""

import pytest

from plastic.cli import main
from plastic.listing import describe_yaml, description


def test_every_group_is_listed_with_whole_descriptions(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.strip()]
    groups = {row[0] for row in rows if row}
    for group in ("model", "dataset", "device", "trainer", "logger", "model/optimizer",
                  "model/target", "experiment", "launcher", "sweeper"):  # fmt: skip
        assert group in groups, group
    # a docstring's first paragraph, not its first line
    assert "the first `train_images` are the training patterns" in " ".join(out.split())


def test_a_paragraph_is_one_line_never_cut():
    assert description("First line\n  goes on here.\n\nNext paragraph.") == (
        "First line goes on here."
    )


def test_a_yaml_comment_paragraph_is_whole(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("# @package _global_\n# one\n# two\n\n# later\nkey: 1\n")
    assert describe_yaml(path) == "one two"


@pytest.mark.parametrize(
    "asked, line",
    [
        ("logger=mlflow", "logger.mlflow.experiment_name = 'plastic'"),
        ("logger=many", "logger.tensorboard.images = True"),
        ("trainer=default", "trainer.epochs = 1"),
        ("model/optimizer=adam", "model.optimizer.name = 'adam'"),
        ("model/target=sines", "model.target.kind = 'sines'"),
        ("device=gpu", "device.dtype = 'float32'"),
        ("viz", "viz.gif_max_frames = 100"),
        ("model=oja", "model.tau_learning = 2000.0"),
    ],
)
def test_any_choice_lists_its_settings(capsys, asked, line):
    assert main(["list", asked]) == 0
    assert line in capsys.readouterr().out


@pytest.mark.parametrize("asked", ["bogus", "logger=nosuch", "model=nosuch"])
def test_an_unknown_choice_is_one_line(capsys, asked):
    assert main(["list", asked]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "choose one of" in err


def test_run_help_lists_choices_not_schemas(cli):
    result = cli("run", "--help")
    assert result.returncode == 0
    assert "model/optimizer: adadelta" in result.stdout
    assert "schema/" not in result.stdout
