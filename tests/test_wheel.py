"""A built wheel carries conf/ and experiments/: installed into a fresh venv it runs a recipe."""

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_runs_a_smoke_recipe(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(REPO),
        ],
        check=True,
    )
    (wheel,) = (tmp_path / "dist").glob("plastic-*.whl")
    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    fresh_python = venv / "bin" / "python"
    site = subprocess.run(
        [fresh_python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # the dependencies come from the test environment (no download); plastic from the wheel
    Path(site.strip(), "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [fresh_python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("HYDRA_FULL_ERROR", "PYTHONPATH")}
    where = subprocess.run(
        [venv / "bin" / "python", "-c", "import plastic._paths as p; print(p.conf_dir())"],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        check=True,
    ).stdout
    assert str(venv) in where  # the wheel's own conf/, not the checkout's
    result = subprocess.run(
        [venv / "bin" / "plastic", "run", "experiment=smoke/oja", "hydra.run.dir=run"],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((work / "run" / "summary.json").read_text())["status"] == "completed"
