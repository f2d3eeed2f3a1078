"""The tracking store can be browsed: in a fresh environment with the full `mlflow` package (the
UI) and plastic's wheel, a run's store is read back through MLflow's own server, the pair the
`ui` extra installs (MLflow's client and UI of one version)."""

import json
import os
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_the_ui_package_reads_the_store_a_run_wrote(tmp_path):
    venv = tmp_path / "ui"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", "mlflow>=3"], capture_output=True, text=True
    )
    if install.returncode != 0:
        pytest.skip(f"the mlflow package cannot be installed here: {install.stderr[-300:]}")
    # plastic from its wheel; its other dependencies from the test environment, after the
    # fresh environment's own packages (so MLflow's client there is the UI's own version)
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    Path(site, "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(REPO)],
        check=True,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("plastic-*.whl")
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True)
    client_version = subprocess.run(
        [python, "-c", "import importlib.metadata as m; print(m.version('mlflow-skinny'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    ui_version = subprocess.run(
        [python, "-c", "import importlib.metadata as m; print(m.version('mlflow'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert client_version == ui_version

    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("HYDRA_FULL_ERROR", "PYTHONPATH")}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    ran = subprocess.run(
        [venv / "bin" / "plastic", "run", "experiment=smoke/oja", "logger=mlflow"],
        capture_output=True, text=True, cwd=work, env=env, timeout=300,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr

    port = free_port()
    store = f"sqlite:///{work / 'outputs' / 'mlflow.db'}"
    server = subprocess.Popen(
        [venv / "bin" / "mlflow", "ui", "--backend-store-uri", store, "--host", "127.0.0.1",
         "--port", str(port)],
        cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                found = call(
                    f"{base}/api/2.0/mlflow/experiments/get-by-name?experiment_name=plastic"
                )
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    server.kill()
                    raise AssertionError(server.stdout.read()[-2000:]) from None
                time.sleep(1)
        experiment = found["experiment"]["experiment_id"]
        runs = call(f"{base}/api/2.0/mlflow/runs/search", {"experiment_ids": [experiment]})
        (run,) = runs["runs"]
        assert run["info"]["status"] == "FINISHED"
        assert any(m["key"] == "final/bar_coverage" for m in run["data"]["metrics"])
        with urllib.request.urlopen(base + "/", timeout=10) as page:
            assert page.status == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
