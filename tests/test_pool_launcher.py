"""hydra/launcher=pool, the default for -m: worker processes that run job after job, and configs
composed once per shape of job. Its jobs must equal the same jobs run alone, and what it
composes must equal what Hydra composes."""

import json
import signal

import numpy as np
import pytest
import yaml
from hydra.errors import ConfigCompositionException

from tests.test_faults import LONG, start, wait_for_checkpoint

GRID = ["experiment=smoke/attractor", "dataset.n_presentations=200"]


@pytest.fixture(scope="module")
def hydra_loader():
    """Hydra's own config loader for plastic's config tree, and a sweep's master config."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from plastic import app
    from plastic._paths import conf_dir
    from plastic.config import register_configs

    app.register_resolvers()
    register_configs(())
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        master = compose("config", overrides=["hydra.job.name=plastic"], return_hydra_config=True)
        yield GlobalHydra.instance().config_loader(), master


@pytest.mark.parametrize(
    "overrides",
    [
        ["experiment=attractor_grid", "model.beta=0.1", "model.evidence=3"],
        ["model.evidence=20", "experiment=attractor_grid", "model.beta=1"],  # values first
        ["model=bcm", "model.memory_factor=0.3", "seed=3", "trainer.epochs=2"],
        ["model=bcm", "model/optimizer=sgd", "seed=4"],  # a nested group is part of the shape
        ["experiment=smoke/oja", "seed=1", "hydra.job.name=other"],  # so is a hydra key
        ["experiment=smoke/oja", "viz.pictures=false", "dataset.bar_probability=0.1"],
        ["model=hopfield", "model.n_units=3", "+model.extra=1"],  # so is an addition
    ],
)
def test_the_reusing_loader_composes_what_hydra_composes(hydra_loader, overrides):
    from omegaconf import OmegaConf

    from plastic.launchers import ReusingConfigLoader

    loader, master = hydra_loader
    reusing = ReusingConfigLoader(loader)
    # the first job composes the shape; the second reuses it with other values
    other = [o.replace("=3", "=5").replace("=0.1", "=0.2") for o in overrides]
    for job in (overrides, other):
        expected = OmegaConf.to_container(loader.load_sweep_config(master, job))
        assert OmegaConf.to_container(reusing.load_sweep_config(master, job)) == expected
    assert len(reusing.composed) == 1


def test_a_bad_value_is_refused_as_hydra_refuses_it(hydra_loader):
    from plastic.launchers import ReusingConfigLoader

    loader, master = hydra_loader
    reusing = ReusingConfigLoader(loader)
    reusing.load_sweep_config(master, ["experiment=smoke/oja", "seed=1"])
    with pytest.raises(ConfigCompositionException):
        reusing.load_sweep_config(master, ["experiment=smoke/oja", "seed=abc"])
    with pytest.raises(ConfigCompositionException):
        reusing.load_sweep_config(master, ["experiment=smoke/oja", "no_such_key=1"])


def _job(folder):
    weights = np.load(folder / "weights.npz")
    summary = json.loads((folder / "summary.json").read_text())
    config = yaml.safe_load((folder / ".hydra" / "config.yaml").read_text())
    return {name: weights[name] for name in weights.files}, summary["metrics"], config


def test_pool_jobs_equal_the_same_jobs_run_alone(cli):
    # a process of its own: its worker processes print each job's line to its output
    sweep = cli.process("run", "-m", *GRID, "model.beta=0.5,2", "seed=3", "hydra.sweep.dir=pool")
    assert sweep.returncode == 0, sweep.stderr
    assert "worker processes" in sweep.stdout
    # a line a job, and the end of the sweep (the tables are plastic report's)
    assert "job 0 completed (" in sweep.stdout and "job 1 completed (" in sweep.stdout
    assert "2 jobs completed in pool: compare them with plastic report pool" in sweep.stdout
    assert "run folder:" not in sweep.stdout
    for job, beta in (("0", "0.5"), ("1", "2")):
        alone = cli("run", *GRID, f"model.beta={beta}", "seed=3", f"hydra.run.dir=alone{job}")
        assert alone.returncode == 0, alone.stderr
        pooled, single = _job(cli.cwd / "pool" / job), _job(cli.cwd / f"alone{job}")
        for name in single[0]:
            np.testing.assert_array_equal(pooled[0][name], single[0][name], err_msg=name)
        assert pooled[1] == single[1]
        assert pooled[2] == single[2]  # the resolved config, as the job ran it
    report = cli("report", "pool")
    assert report.returncode == 0, report.stderr
    assert (cli.cwd / "pool" / "sweep.csv").read_text().count("\n") == 3


def test_sigterm_stops_a_pool_sweep_in_order_and_the_same_command_finishes_it(cli):
    sweep = ["-m", *LONG, "trainer.max_steps=150000", "seed=0,1,2,3", "hydra.launcher.n_workers=2"]
    process = start(cli.cwd, *sweep, "hydra.sweep.dir=cut")
    wait_for_checkpoint(cli.cwd / "cut" / "0")
    wait_for_checkpoint(cli.cwd / "cut" / "1")
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "sweep interrupted by SIGTERM: 2 of 4 jobs not started" in err, err
    for job in ("0", "1"):
        summary = json.loads((cli.cwd / "cut" / job / "summary.json").read_text())
        assert summary["status"] == "interrupted", summary
        assert f"job {job} interrupted" in err
    for job in ("2", "3"):
        assert not (cli.cwd / "cut" / job / "summary.json").exists()
    again = cli("run", *sweep, "hydra.sweep.dir=cut", timeout=600)
    assert again.returncode == 0, again.stderr
    for job in ("0", "1", "2", "3"):
        summary = json.loads((cli.cwd / "cut" / job / "summary.json").read_text())
        assert summary["status"] == "completed", summary
        assert (summary["resumed_from"] is not None) == (job in ("0", "1")), summary
