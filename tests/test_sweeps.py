"""Sweeps through Hydra's own launchers and sweeper, and `plastic report` with its page."""

import csv
import json
import re
import shutil
import subprocess

import pytest
import yaml


def summaries(folder):
    return {p.parent.name: json.loads(p.read_text()) for p in folder.glob("*/summary.json")}


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """A 2 x 2 grid through the joblib launcher (parallel processes), then its report."""
    from tests.conftest import run_in_process

    cwd = tmp_path_factory.mktemp("grid")
    result = run_in_process(
        "run",
        "-m",
        "hydra/launcher=joblib",
        "experiment=smoke/oja",
        "seed=0,1",
        "model.tau_learning=1000,2000",
        "hydra.sweep.dir=sweep",
        cwd=cwd,
    )
    assert result.returncode == 0, result.stderr
    report = run_in_process("report", "sweep", "--sort", "bar_coverage", cwd=cwd)
    assert report.returncode == 0, report.stderr
    return cwd / "sweep", report


def test_joblib_runs_four_jobs_each_in_its_own_folder(grid):
    sweep, _ = grid
    done = summaries(sweep)
    assert sorted(done) == ["0", "1", "2", "3"]
    assert all(s["status"] == "completed" for s in done.values())
    assert len({s["run_dir"] for s in done.values()}) == 4
    overrides = [
        yaml.safe_load((sweep / j / ".hydra" / "overrides.yaml").read_text()) for j in sorted(done)
    ]
    assert len({tuple(o) for o in overrides}) == 4


def test_report_writes_the_table_heat_maps_and_page(grid):
    sweep, report = grid
    rows = list(csv.DictReader((sweep / "sweep.csv").open()))
    assert len(rows) == 4 and {"model.tau_learning", "seed", "bar_coverage"} <= set(rows[0])
    coverage = [float(r["bar_coverage"]) for r in rows]
    assert coverage == sorted(coverage, reverse=True)  # sorted by the chosen metric
    # the seeds are replicates: a figure per metric against the one condition key
    assert "<svg" in (sweep / "metric_mean_best_cosine.svg").read_text()
    conditions = list(csv.DictReader((sweep / "conditions.csv").open()))
    assert [(c["model.tau_learning"], c["n"]) for c in conditions] == [("1000", "2"), ("2000", "2")]
    page = (sweep / "index.html").read_text()
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert any(s.endswith("receptive_fields.gif") for s in sources)
    assert all(not s.startswith("/") and (sweep / s).exists() for s in sources)  # offline
    assert "conditions: mean ± sd over the replicates (seed)" in report.stdout


def test_submitit_local_runs_two_jobs(cli):
    result = cli(
        "run",
        "-m",
        "hydra/launcher=submitit_local",
        "experiment=smoke/oja",
        "seed=0,1",
        "hydra.sweep.dir=sweep",
    )
    assert result.returncode == 0, result.stderr
    assert [s["status"] for _, s in sorted(summaries(cli.cwd / "sweep").items())] == [
        "completed",
        "completed",
    ]


def test_optuna_drives_the_runs_through_their_returned_metric(cli):
    result = cli(
        "run",
        "-m",
        "experiment=search/oja_bars",
        "hydra.sweeper.n_trials=4",
        "dataset.n_samples=500",
        "hydra.sweep.dir=search",
    )
    assert result.returncode == 0, result.stderr
    best = yaml.safe_load((cli.cwd / "search" / "optimization_results.yaml").read_text())
    done = summaries(cli.cwd / "search")
    assert len(done) == 4
    assert best["best_value"] == max(s["metrics"]["bar_coverage"] for s in done.values())
    assert set(best["best_params"]) == {
        "model.tau_learning",
        "model.alpha_feedforward",
        "model.alpha_lateral",
    }


def test_a_failing_job_does_not_stop_the_others_and_the_report_says_why(cli):
    result = cli(
        "run", "-m", "experiment=smoke/oja", "model.n_units=8,0,16", "hydra.sweep.dir=sweep"
    )
    assert result.returncode == 1 and "model.n_units=0 is not allowed" in result.stderr
    assert "1 of 3 jobs did not complete" in result.stderr
    done = summaries(cli.cwd / "sweep")
    assert [done[j]["status"] for j in ("0", "1", "2")] == ["completed", "failed", "completed"]
    report = cli("report", "sweep")
    assert report.returncode == 0, report.stderr
    assert "job 1 failed: model.n_units=0 is not allowed" in " ".join(report.stdout.split())
    page = (cli.cwd / "sweep" / "index.html").read_text()
    assert 'class="failed"' in page and "must be &gt; 0" in page


def test_report_of_one_run(cli):
    assert cli("run", "experiment=smoke/oja", "hydra.run.dir=one").returncode == 0
    report = cli("report", "one")
    assert report.returncode == 0, report.stderr
    page = (cli.cwd / "one" / "index.html").read_text()
    assert 'src="receptive_fields.gif"' in page and 'src="curves.png"' in page
    assert cli("report", "nowhere").returncode == 2


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_the_page_renders_in_headless_chromium(grid, tmp_path):
    import numpy as np
    from PIL import Image

    sweep, _ = grid
    shot = tmp_path / "page.png"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1200,2400",
            f"--screenshot={shot}",
            (sweep / "index.html").as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert pixels.shape[:2] == (2400, 1200)
    # the table's text and the pictures: many distinct colours, not a blank page
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200
    # the grey receptive-field mosaics and the viridis heat maps put colour well below the top
    lower = pixels[600:]
    assert (np.abs(lower - 255).sum(axis=2) > 60).mean() > 0.05


def test_the_report_overlays_a_sweeps_runs_and_compares_runs_from_anywhere(cli):
    sweep = cli(
        "run", "-m", "experiment=smoke/oja", "model.tau=8,12", "model.alpha_lateral=0.3,1.0",
        "seed=0,1", "hydra.sweep.dir=three",
    )  # fmt: skip
    assert sweep.returncode == 0, sweep.stderr
    report = cli("report", "three", "--sort", "mean_best_cosine")
    assert report.returncode == 0, report.stderr
    folder = cli.cwd / "three"
    for name in ("bar_coverage", "mean_best_cosine", "weight_change"):
        assert (folder / f"overlay_{name}.svg").stat().st_size > 0
    assert (folder / "heatmap_mean_best_cosine.svg").stat().st_size > 0  # two condition keys
    page = (folder / "index.html").read_text()
    assert 'id="runs"' in page and "addEventListener" in page  # the sortable table
    assert 'src="overlay_mean_best_cosine.svg"' in page

    for name, tau in (("a", "8"), ("b", "20")):
        done = cli(
            "run", "experiment=smoke/oja", f"model.tau={tau}", f"hydra.run.dir=elsewhere/{name}"
        )
        assert done.returncode == 0, done.stderr
    compare = cli("report", "--compare", "elsewhere/a", "elsewhere/b", "three/0", "--out", "side")
    assert compare.returncode == 0, compare.stderr
    page = (cli.cwd / "side" / "index.html").read_text()
    assert "model.tau" in page and (cli.cwd / "side" / "overlay_bar_coverage.svg").exists()
    # the links are relative and lead to the runs' own files
    assert 'src="../elsewhere/a/receptive_fields.gif"' in page
    assert (cli.cwd / "side" / "../elsewhere/a/receptive_fields.gif").exists()
    assert cli("report", "--compare", "elsewhere/a", "nowhere", "--out", "x").returncode == 2
