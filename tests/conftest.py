import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # benchmarks.reference: the yardstick loops


def plastic_exe() -> str:
    """The real console script of the environment running the tests."""
    beside = Path(sys.executable).with_name("plastic")
    return str(beside) if beside.exists() else shutil.which("plastic")


def run_plastic(*args: str, cwd: Path, timeout: float = 240, env: dict | None = None):
    environment = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    environment.update(env or {})
    return subprocess.run(
        [plastic_exe(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
    )


def has_gpu() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def pytest_collection_modifyitems(config, items):
    if has_gpu():
        return
    skip = pytest.mark.skip(reason="needs cupy and an NVIDIA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def cli(tmp_path):
    """Run the console script in a fresh folder: cli("run", "experiment=smoke/oja")."""

    def call(*args, **kwargs):
        return run_plastic(*args, cwd=tmp_path, **kwargs)

    call.cwd = tmp_path
    return call
