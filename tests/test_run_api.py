"""`plastic.app.run`: one run, whole, called in this process on a config that Hydra composed,
as the Hydra task calls it: its result says how it ended; the folder is as the CLI writes it."""

import json

from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig

from plastic import app
from plastic._paths import conf_dir
from plastic.config import register_configs
from plastic.errors import RunDiverged
from tests.test_faults import fingerprint


def composed(overrides, run_dir):
    app.register_resolvers()
    register_configs()
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        cfg = compose("config", [*overrides, f"hydra.run.dir={run_dir}"], return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)  # the interpolations that read the command's choices
    return cfg


def test_a_run_in_process_returns_how_it_ended(tmp_path):
    run_dir = tmp_path / "run"
    cfg = composed(["experiment=smoke/oja", "optimize_metric=bar_coverage"], run_dir)
    result = app.run(cfg, app.Invocation(run_dir))
    assert result.status == "completed" and result.exit_code == 0 and result.error is None
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert result.metric == summary["metrics"]["bar_coverage"]
    assert (run_dir / "weights.npz").exists() and (run_dir / "metrics.csv").exists()


def test_a_diverged_run_is_a_result_not_an_exception(tmp_path):
    run_dir = tmp_path / "run"
    cfg = composed(["experiment=smoke/oja", "model.tau_learning=0.001"], run_dir)
    result = app.run(cfg, app.Invocation(run_dir))
    assert result.status == "diverged" and isinstance(result.error, RunDiverged)
    assert result.exit_code == 3
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "diverged"
    before = fingerprint(run_dir)
    again = app.run(cfg, app.Invocation(run_dir, multirun=True))  # a sweep's finished job
    assert again.status == "kept"
    refused = app.run(cfg, app.Invocation(run_dir))  # never over a finished run
    assert refused.status == "refused" and refused.exit_code == 2
    assert "already holds a run" in refused.error.message
    assert fingerprint(run_dir) == before
