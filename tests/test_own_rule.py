"""The worked example, examples/own_rule/, runs both ways from a copy outside the repository:
from its folder with --config-dir, and installed (its entry point) from any folder."""

import hashlib
import json
import shutil
import subprocess
import sys

from tests.conftest import REPO, run_plastic

EXAMPLE = REPO / "examples" / "own_rule"


def copy_of_the_example(tmp_path):
    folder = tmp_path / "own_rule"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__", "outputs"))
    return folder


def summary_of(folder):
    (path,) = folder.glob("outputs/*/*/summary.json")
    return json.loads(path.read_text())


def test_from_its_folder_with_config_dir(tmp_path):
    folder = copy_of_the_example(tmp_path)
    args = ("run", "--config-dir", "conf", "model=sanger", "dataset=digits", "trainer.epochs=2")
    result = run_plastic(*args, cwd=folder)
    assert result.returncode == 0, result.stderr
    summary = summary_of(folder)
    assert summary["status"] == "completed" and summary["model"] == "sanger"
    assert summary["metrics"]["probe_accuracy"] > summary["metrics"]["probe_random"]
    assert (next(folder.glob("outputs/*/*")) / "receptive_fields.gif").exists()
    # a file of one's own is traced by its hash
    rule = summary["rule"]
    assert rule["class"] == "sanger.Sanger" and rule["distribution"] is None
    assert rule["sha256"] == hashlib.sha256((folder / "sanger.py").read_bytes()).hexdigest()

    typo = run_plastic("run", "--config-dir", "conf", "model=sanger", "model.n_component=3",
                       cwd=folder)  # fmt: skip
    assert typo.returncode == 2 and len(typo.stderr.strip().splitlines()) == 1
    assert "model.n_component is not a setting" in typo.stderr and "n_components" in typo.stderr
    bad = run_plastic("run", "--config-dir", "conf", "model=sanger", "model.learning_rate=-1",
                      cwd=folder)  # fmt: skip
    assert bad.returncode == 2 and "must be > 0" in bad.stderr


def test_installed_from_any_folder(tmp_path):
    folder = copy_of_the_example(tmp_path)
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--no-build-isolation", "--target", str(site), str(folder)],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PYTHONPATH": str(site)}
    listed = run_plastic("list", cwd=elsewhere, env=env)
    assert "sanger" in listed.stdout and "plastic-sanger 0.1.0" in listed.stdout
    recipe = [line for line in listed.stdout.splitlines() if "sanger/digits" in line]
    assert recipe and "plastic-sanger 0.1.0" in recipe[0]  # a recipe the package ships
    shipped = run_plastic("run", "experiment=sanger/digits", "trainer.epochs=1",
                          "hydra.run.dir=recipe", cwd=elsewhere, env=env)  # fmt: skip
    assert shipped.returncode == 0, shipped.stderr
    assert json.loads((elsewhere / "recipe" / "summary.json").read_text())["model"] == "sanger"
    result = run_plastic(
        "run", "model=sanger", "dataset=digits", "trainer.epochs=1", cwd=elsewhere, env=env
    )
    assert result.returncode == 0, result.stderr
    (summary,) = [json.loads(p.read_text()) for p in elsewhere.glob("outputs/*/*/summary.json")]
    assert summary["status"] == "completed"
    assert (summary["rule"]["distribution"], summary["rule"]["version"]) == (
        "plastic-sanger",
        "0.1.0",
    )
