"""logger=mlflow and logger=tensorboard, read back with MLflow's client and TensorBoard's event
reader and compared with metrics.csv; a sweep as a parent run; a failing logger costs a line."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mlflow")
pytest.importorskip("tensorboard")


def metrics_csv(run):
    with (run / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


def client(cwd):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{cwd / 'outputs' / 'mlflow.db'}")


def runs_of(mlflow_client):
    experiment = mlflow_client.get_experiment_by_name("plastic")
    return mlflow_client.search_runs([experiment.experiment_id])


def test_both_loggers_hold_what_metrics_csv_holds(cli):
    result = cli("run", "experiment=smoke/oja", "logger=many", "hydra.run.dir=outputs/one")
    assert result.returncode == 0, result.stderr
    assert "failed" not in result.stdout + result.stderr
    run = cli.cwd / "outputs" / "one"
    rows = metrics_csv(run)
    summary = json.loads((run / "summary.json").read_text())

    mlflow_client = client(cli.cwd)
    (logged,) = runs_of(mlflow_client)
    assert logged.info.status == "FINISHED"
    assert logged.data.params["model.n_units"] == "32"
    assert logged.data.params["dataset.n_samples"] == "300"
    history = mlflow_client.get_metric_history(logged.info.run_id, "mean_best_cosine")
    assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == [
        (int(r["step"]), float(r["mean_best_cosine"])) for r in rows
    ]
    for name, value in summary["metrics"].items():
        assert logged.data.metrics[f"final/{name}"] == pytest.approx(value)
    artifacts = {a.path for a in mlflow_client.list_artifacts(logged.info.run_id)}
    assert {"fields.png", "receptive_fields.gif", "weights.npz", "metrics.csv"} <= artifacts

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    scalars = events.Scalars("mean_best_cosine")
    assert [(s.step, round(s.value, 5)) for s in scalars] == [
        (int(r["step"]), round(float(r["mean_best_cosine"]), 5)) for r in rows
    ]
    assert len(events.Images("receptive_fields")) == len(rows)
    assert "config" in events.Tags()["tensors"]


def test_a_sweep_is_a_parent_run_with_a_child_per_job(cli):
    result = cli("run", "-m", "experiment=smoke/oja", "logger=mlflow", "seed=0,1")
    assert result.returncode == 0, result.stderr
    mlflow_client = client(cli.cwd)
    runs = runs_of(mlflow_client)
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    parents = [r for r in runs if r not in children]
    assert len(children) == 2 and len(parents) == 1
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
    # the sweep ended as it did; each job is named by its overrides and traced to its code
    assert parents[0].info.status == "FINISHED"
    names = sorted(r.data.tags["mlflow.runName"] for r in children)
    assert names == [
        "experiment=smoke/oja logger=mlflow seed=0",
        "experiment=smoke/oja logger=mlflow seed=1",
    ]
    import plastic

    for run in children:
        tags = run.data.tags
        assert tags["plastic.recipe"] == "smoke/oja"
        assert tags["plastic.version"] == plastic.__version__
        assert tags["plastic.rule"] == "plastic.models.oja.Oja"
        assert tags["plastic.rule_distribution"] == f"plastic {plastic.__version__}"
        assert tags["plastic.verdict"].startswith("bar coverage")
        summary = json.loads((Path(tags["plastic.run_dir"]) / "summary.json").read_text())
        assert (
            tags.get("mlflow.source.git.commit") == summary["git_commit"]
            or not summary["git_commit"]
        )
        artifacts = {a.path for a in mlflow_client.list_artifacts(run.info.run_id)}
        assert {"config.yaml", "run.log", "summary.json", "metrics.csv"} <= artifacts


@pytest.mark.slow  # seconds of real runs: the slow tier (CI runs it)
@pytest.mark.parametrize("stop", ["SIGTERM", "Ctrl-C"])
def test_a_stopped_run_keeps_every_record_and_its_sweep_ends_killed(cli, stop):
    """SIGTERM to a sweep, or Ctrl-C (SIGINT to every process of the terminal's group): each
    job saves and its records reach the store whole; the job's run and the sweep's parent run
    end KILLED."""
    import os
    import signal
    import time

    from tests.conftest import plastic_exe
    from tests.test_faults import LONG, wait_for_checkpoint

    process = subprocess.Popen(
        [plastic_exe(), "run", "-m", *LONG, "logger=mlflow", "seed=0",
         "hydra.launcher.n_workers=1", "hydra.sweep.dir=cut"],
        cwd=cli.cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )  # fmt: skip
    wait_for_checkpoint(cli.cwd / "cut" / "0")
    time.sleep(1.0)  # records on the way to the store
    if stop == "SIGTERM":
        process.send_signal(signal.SIGTERM)
    else:
        os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=180)
    assert process.returncode == 130, err
    rows = metrics_csv(cli.cwd / "cut" / "0")
    assert len(rows) >= 2
    mlflow_client = client(cli.cwd)
    runs = runs_of(mlflow_client)
    (child,) = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    (parent,) = [r for r in runs if r is not child and r.info.run_id != child.info.run_id]
    assert (child.info.status, parent.info.status) == ("KILLED", "KILLED")
    history = mlflow_client.get_metric_history(child.info.run_id, "mean_best_cosine")
    assert sorted(m.step for m in history) == [int(r["step"]) for r in rows]


@pytest.mark.slow  # seconds of real runs: the slow tier (CI runs it)
def test_a_killed_run_is_ended_killed_by_its_tracking_process(cli):
    """kill -9 leaves the tracking process alone with what it received: it ends the run."""
    import signal
    import time

    from tests.test_faults import LONG, start, wait_for_checkpoint

    process = start(cli.cwd, *LONG, "logger=mlflow", "hydra.run.dir=gone")
    wait_for_checkpoint(cli.cwd / "gone")
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    deadline = time.time() + 120
    while time.time() < deadline:
        runs = runs_of(client(cli.cwd))
        if runs and runs[0].info.status == "KILLED":
            break
        time.sleep(0.5)
    assert runs[0].info.status == "KILLED"


def test_an_unreachable_server_costs_one_line_and_not_the_run(cli):
    result = cli(
        "run",
        "experiment=smoke/oja",
        "logger=mlflow",
        "logger.mlflow.tracking_uri=http://127.0.0.1:9",
        "hydra.run.dir=lonely",
        env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "2"},
    )
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stdout.splitlines() if "logger=mlflow failed" in line]
    assert len(warnings) == 1 and "the run goes on without it" in warnings[0]
    summary = json.loads((cli.cwd / "lonely" / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert (cli.cwd / "lonely" / "receptive_fields.gif").exists()


def test_without_the_extra_choosing_a_logger_is_one_line(cli):
    code = (
        "import sys; sys.modules['mlflow'] = None\n"
        "from plastic.cli import main\n"
        "sys.exit(main(['run', 'experiment=smoke/oja', 'logger=mlflow']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=cli.cwd, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        "plastic: error: logger=mlflow needs mlflow, which is not installed: "
        "pip install 'plastic[tracking]'"
    )


def test_a_store_that_cannot_be_written_costs_one_line_and_not_the_run(cli):
    """As a full disk does: the logger's writes fail, the run goes on and its folder is whole."""
    result = cli(
        "run",
        "experiment=smoke/oja",
        "logger=mlflow",
        "logger.mlflow.tracking_uri=sqlite:////proc/no/such/place/mlflow.db",
        "hydra.run.dir=unwritable",
    )
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stdout.splitlines() if "logger=mlflow failed" in line]
    assert len(warnings) == 1
    run = cli.cwd / "unwritable"
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"
    assert (run / "weights.npz").exists() and (run / "fields.png").exists()


def test_a_refused_run_leaves_the_store_as_it_was(cli):
    """The tracking process opens an existing store before the config is checked: for
    reading only, so a refused run changes nothing."""
    from tests.test_faults import fingerprint

    assert cli("run", "experiment=smoke/oja", "logger=mlflow").returncode == 0
    before = fingerprint(cli.cwd / "outputs")
    refused = cli("run", "experiment=smoke/oja", "logger=mlflow", "model.tau=-1")
    assert refused.returncode == 2 and "model.tau=-1.0 is not allowed" in refused.stderr
    assert fingerprint(cli.cwd / "outputs") == before
