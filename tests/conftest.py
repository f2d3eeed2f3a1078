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


def run_in_process(*args: str, cwd: Path, env: dict | None = None, timeout: float | None = None):
    """The console script's `main` called in this process, in `cwd`: its exit code and what it
    printed, as a finished subprocess gives them, without a new interpreter's start-up (a
    second or two a call). For what a command does; a test of the process itself (signals,
    kill -9, output of a sweep's worker processes, modules imported from a folder) runs the
    real console script (`run_plastic`, `cli.process`)."""
    import contextlib
    import io
    import logging
    import traceback

    from hydra.core.global_hydra import GlobalHydra

    from plastic import cli as console_script

    hydra = GlobalHydra.instance()  # a test's own Hydra (a fixture's) waits aside
    held = hydra.hydra if hydra.is_initialized() else None
    hydra.clear()
    out, err = io.StringIO(), io.StringIO()
    environment, folder, path = dict(os.environ), os.getcwd(), list(sys.path)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    os.environ.pop("HYDRA_FULL_ERROR", None)
    os.environ.update(env or {})
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = console_script.main(list(args))
            except SystemExit as end:
                code = end.code if isinstance(end.code, int) else int(end.code is not None)
            except Exception:  # a traceback, as the interpreter would print it
                traceback.print_exc()
                code = 1
    finally:
        os.chdir(folder)
        os.environ.clear()
        os.environ.update(environment)
        sys.path[:] = path
        hydra.clear()
        if held is not None:
            hydra.initialize(held)
        root.handlers[:] = handlers  # Hydra configured logging for the run: undo it
        root.setLevel(level)
    return subprocess.CompletedProcess(["plastic", *args], code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli(tmp_path):
    """Run a command in a fresh folder: cli("run", "experiment=smoke/oja"), in this process;
    cli.process(...) starts the real console script."""

    def call(*args, **kwargs):
        return run_in_process(*args, cwd=tmp_path, **kwargs)

    def process(*args, **kwargs):
        return run_plastic(*args, cwd=tmp_path, **kwargs)

    call.cwd = tmp_path
    call.process = process
    return call
