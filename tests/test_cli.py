"""The console script end to end: the real `plastic` executable in a fresh folder."""

import csv
import json

import imageio.v3 as iio
import numpy as np
import pytest
import yaml

import plastic
from tests.conftest import REPO


def test_version(cli):
    result = cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"plastic {plastic.__version__}"


def test_list_names_models_datasets_experiments(cli):
    out = cli("list").stdout
    for word in (
        "oja",
        "bcm",
        "hopfield",
        "digits",
        "bars",
        "mnist",
        "bars_oja",
        "digits_oja",
        "mnist_bcm",
        "mnist_hopfield",
        "mnist_krotov",
        "smoke/bcm",
        "smoke/oja",
        "gpu",
    ):
        assert word in out


def test_hydra_flags_still_work(cli):
    cfg = cli("run", "experiment=bars_oja", "--cfg", "job")
    assert cfg.returncode == 0
    job = yaml.safe_load(cfg.stdout)
    assert job["dataset"]["name"] == "bars" and job["trainer"]["record_every"] == 10
    helped = cli("run", "--help")
    assert helped.returncode == 0 and "plastic run" in helped.stdout
    assert not (cli.cwd / "outputs").exists()


def test_config_dir_adds_the_users_own_choices(cli):
    own = cli.cwd / "myconf" / "dataset"
    own.mkdir(parents=True)
    (own / "tinybars.yaml").write_text(
        "defaults:\n  - /schema/dataset/bars@_here_\n  - _self_\nn_samples: 40\n"
    )
    result = cli("run", "--config-dir", "myconf", "dataset=tinybars", "hydra.run.dir=run")
    assert result.returncode == 0, result.stderr
    assert json.loads((cli.cwd / "run" / "summary.json").read_text())["steps"] == 40


SMOKE_RECIPES = sorted(p.stem for p in (REPO / "experiments" / "smoke").glob("*.yaml"))
GENERIC_FILES = [
    ".hydra/config.yaml",
    "weights.npz",
    "checkpoint.npz",
    "metrics.csv",
    "summary.json",
    "receptive_fields.gif",
    "fields.png",
    "run.log",
]
SMOKE_FILES = [
    *GENERIC_FILES,
    ".hydra/overrides.yaml",
    ".hydra/hydra.yaml",
    "curves.png",
    "state.png",
]


def test_smoke_run_writes_a_complete_run_folder(cli):
    result = cli("run", "experiment=smoke/oja")
    assert result.returncode == 0, result.stderr
    (run,) = list((cli.cwd / "outputs").glob("*/*_oja-bars"))
    for name in SMOKE_FILES:
        assert (run / name).is_file() and (run / name).stat().st_size > 0, name
    assert not list(run.glob(".*.tmp"))  # no half-written file left behind
    assert "run folder:" in result.stdout and str(run) in result.stdout

    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["steps"] == 300
    assert set(summary["metrics"]) == {
        "bar_coverage",
        "bar_coverage_random",
        "selective_units",
        "mean_best_cosine",
        "duplicate_fields",
    }
    assert summary["steps_per_second"] > 0 and summary["wall_seconds"] > 0
    assert summary["data_source"].startswith("generated") and summary["device"].startswith("cpu")
    for package in ("python", "numpy", "cupy", "plastic"):
        assert package in summary["versions"]

    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert [int(r["step"]) for r in rows] == [0, 50, 100, 150, 200, 250, 300]
    assert list(rows[0]) == [
        "step",
        "epoch",
        "weight_change",
        "bar_coverage",
        "selective_units",
        "mean_best_cosine",
    ]
    assert float(rows[-1]["bar_coverage"]) == summary["metrics"]["bar_coverage"]

    weights = np.load(run / "weights.npz")
    assert weights["feedforward"].shape == (32, 64) and weights["lateral"].shape == (32, 32)
    frames = iio.imread(run / "receptive_fields.gif", index=None)
    assert len(frames) == 7 and min(frames.shape[1:3]) >= 4 * 48  # 8x8 tiles upscaled to 48 px
    assert yaml.safe_load((run / ".hydra/overrides.yaml").read_text()) == ["experiment=smoke/oja"]


@pytest.mark.parametrize("recipe", SMOKE_RECIPES)
def test_every_smoke_recipe_runs_through_the_console_script(cli, recipe):
    result = cli("run", f"experiment=smoke/{recipe}", "hydra.run.dir=run")
    assert result.returncode == 0, result.stderr
    for name in GENERIC_FILES:
        assert (cli.cwd / "run" / name).is_file(), name
    assert json.loads((cli.cwd / "run" / "summary.json").read_text())["status"] == "completed"


def test_multirun_gives_one_folder_per_job(cli):
    result = cli("run", "-m", "experiment=smoke/oja", "seed=0,1")
    assert result.returncode == 0, result.stderr
    (sweep,) = list((cli.cwd / "outputs" / "multirun").glob("*/*"))
    summaries = [json.loads((sweep / job / "summary.json").read_text()) for job in ("0", "1")]
    assert [s["status"] for s in summaries] == ["completed", "completed"]
    w0, w1 = (np.load(sweep / job / "weights.npz")["feedforward"] for job in ("0", "1"))
    assert not np.array_equal(w0, w1)  # two seeds, two runs


def test_an_existing_run_folder_is_never_overwritten(cli):
    first = cli("run", "experiment=smoke/oja", "hydra.run.dir=mine")
    assert first.returncode == 0
    before = (cli.cwd / "mine" / "summary.json").read_bytes()
    second = cli("run", "experiment=smoke/oja", "hydra.run.dir=mine", "seed=4")
    assert second.returncode == 2 and "never overwrites" in second.stderr
    assert (cli.cwd / "mine" / "summary.json").read_bytes() == before


def test_two_runs_in_the_same_second_get_two_folders(tmp_path):
    from plastic.app import collecting_outcomes, unique_run_dir

    base = str(tmp_path / "21-00-00_oja-bars")
    with collecting_outcomes():  # one command: the name resolves to one folder, every time
        first = unique_run_dir(base)
        assert unique_run_dir(base) == first
    with collecting_outcomes():  # another command (in this process or another)
        second = unique_run_dir(base)
    assert first == base and second == base + "_2"


def test_a_bare_run_learns_the_bars_and_says_so(cli):
    result = cli("run", "dataset.n_samples=3000")
    assert result.returncode == 0, result.stderr
    (run,) = list((cli.cwd / "outputs").glob("*/*_oja-bars"))
    summary = json.loads((run / "summary.json").read_text())
    assert summary["metrics"]["bar_coverage"] > summary["metrics"]["bar_coverage_random"] == 0
    assert summary["verdict"].startswith("bar coverage ")
    assert "/16 vs 0/16 untrained: better than the untrained network" in summary["verdict"]
    assert f"verdict: {summary['verdict']}" in " ".join(result.stdout.split())
    assert "plastic report" in result.stdout and "receptive_fields.gif" in result.stdout


def test_digits_run_reports_the_probe(cli):
    result = cli("run", "experiment=digits_oja", "trainer.max_steps=300")
    assert result.returncode == 0, result.stderr
    (run,) = list((cli.cwd / "outputs").glob("*/*_oja-digits"))
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 300  # max_steps caps the run
    assert 0.1 < summary["metrics"]["probe_accuracy"] <= 1.0
    assert summary["metrics"]["probe_raw_pixels"] > 0.9
    assert 0.1 < summary["metrics"]["probe_random"] <= 1.0  # the untrained network, same seed
    assert summary["verdict"].startswith("features ") and "untrained" in summary["verdict"]


def test_list_shows_a_rules_settings_from_its_dataclass(cli):
    listed = cli("list", "model=bcm")
    assert listed.returncode == 0, listed.stderr
    assert "model.optimizer.learning_rate = 0.02" in listed.stdout
    assert "[sgd | momentum | nesterov" in listed.stdout and "model.n_units = 100" in listed.stdout
    assert "dataset.test_fraction = 0.25" in cli("list", "dataset=digits").stdout
    wrong = cli("list", "model=nosuch")
    assert wrong.returncode == 2 and "oja" in wrong.stderr


@pytest.mark.parametrize("pictures", ["true", "false"])
def test_a_rules_tables_are_written_and_its_pictures_only_when_asked(cli, pictures):
    result = cli("run", "experiment=smoke/attractor", "model.diagnostics_every=10",
                 f"viz.pictures={pictures}", "hydra.run.dir=run")  # fmt: skip
    assert result.returncode == 0, result.stderr
    run = cli.cwd / "run"
    assert (run / "diagnostics.csv").stat().st_size > 0 and (run / "metrics.csv").exists()
    drawn = sorted(p.name for p in run.iterdir() if p.suffix in (".png", ".gif"))
    if pictures == "true":
        assert {"diagnostics.png", "couplings.png", "free_run.gif", "fields.png"} <= set(drawn)
    else:
        assert drawn == []
