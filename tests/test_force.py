"""force: the RLS step by hand, P symmetric, equality with the seed's loop, targets, studies."""

import json
import math

import numpy as np
import pytest
from omegaconf import OmegaConf

from benchmarks.reference import force as reference
from plastic.backend import make_backend
from plastic.errors import UserError
from plastic.models import force
from plastic.models.force import Force
from plastic.testing import check_rule

CPU = make_backend(OmegaConf.create({"name": "cpu", "dtype": "float64"}), 0)


def build(**overrides):
    cfg = OmegaConf.merge(OmegaConf.structured(force.Config), overrides)
    return force.Force(cfg, CPU, 1, np.random.default_rng(0))


def test_rls_step_matches_hand_computation():
    model = build(n_units=3)
    model.readout = np.zeros(3)
    r = np.array([0.5, -0.5, 1.0])
    size = model._rls(r, 1.0)
    # q = P r = r; q^T r = 1.5; c = 1 / 2.5 = 0.4; P = I - 0.4 r r^T; dw = 0.4 * 1 * r
    np.testing.assert_allclose(model.readout, [0.2, -0.2, 0.4])
    np.testing.assert_allclose(
        model.inverse_correlation, [[0.9, 0.1, -0.2], [0.1, 0.9, 0.2], [-0.2, 0.2, 0.6]]
    )
    assert size == pytest.approx(0.4 * math.sqrt(1.5))


def test_p_stays_symmetric():
    model = build(n_units=80)
    model.learn(np.zeros((200, 1)))
    P = model.inverse_correlation
    np.testing.assert_array_equal(P, P.T)
    assert np.linalg.eigvalsh(P).min() > 0  # and positive definite


def test_reference_integrator_reproduces_the_seed_loop():
    model = build(n_units=100)
    start = model.J.copy(), model.u.copy(), model.readout.copy(), model.x.copy()
    want, readout = reference.simulate(*start, lambda t: math.cos(2 * math.pi * t / 50))
    model.learn(np.zeros((800, 1)))
    got = np.array(model.trace()["z"])
    assert np.abs(got - want).max() < 1e-6
    np.testing.assert_allclose(model.readout, readout, atol=1e-6)
    target = np.cos(2 * np.pi * np.arange(300, 800) / 50)
    rmse = lambda z: np.sqrt(np.mean((z[300:] - target) ** 2))  # noqa: E731
    assert model.metrics()["test_rmse"] == pytest.approx(rmse(want), abs=1e-6)
    assert model.metrics()["test_rmse"] < 0.2  # learned


def test_euler_updates_the_readout_every_k_steps():
    model = build(n_units=50, integrator="euler", dt=0.1, rls_every=2)
    model.learn(np.zeros((20, 1)))
    changed = np.array(model.trace()["dw"]) > 0
    assert changed[::2].all() and not changed[1::2].any()


def test_gain_sets_decay_or_chaos():
    variance = {}
    for g in (0.5, 1.5):
        model = build(n_units=200, g=g, learn=False, dt=0.1)
        model.learn(np.zeros((500, 1)))
        variance[g] = model.analyse(None).figures["activity_variance"]
    assert variance[0.5] < 1e-6 < 1e-2 < variance[1.5]


def lyapunov(**overrides):
    model = build(n_units=200, learn=False, dt=0.1, **overrides)
    model.learn(np.zeros((500, 1)))
    return model.analyse(None).figures["lyapunov_exponent"]


def test_lyapunov_exponent_sees_decay_chaos_and_a_drive_that_suppresses_it():
    # linear around x = 0 for g < 1: the slowest mode of -x + g J x decays at 1 - g
    assert lyapunov(g=0.5) == pytest.approx(-0.5, abs=0.03)
    assert lyapunov(g=2.0) > 0.02  # chaos: nearby trajectories part
    # a strong slow drive entrains the chaotic network (Rajan, Abbott & Sompolinsky 2010)
    assert lyapunov(g=2.0, input_amplitude=5.0, input_frequency=1.0) < -0.1


def test_lyapunov_estimate_survives_a_resume():
    whole = build(n_units=50, learn=False, dt=0.1)
    whole.learn(np.zeros((60, 1)))
    first = build(n_units=50, learn=False, dt=0.1)
    first.learn(np.zeros((25, 1)))
    second = build(n_units=50, learn=False, dt=0.1)
    second.load_state_dict(first.state_dict())
    second.learn(np.zeros((35, 1)))
    assert second.analyse(None).figures["lyapunov_exponent"] == pytest.approx(
        whole.analyse(None).figures["lyapunov_exponent"], rel=1e-6
    )


def test_target_from_a_file(tmp_path):
    values = np.sin(np.arange(100) / 5)
    np.save(tmp_path / "f.npy", values)
    cfg = force.TargetConfig(kind="file", path=str(tmp_path / "f.npy"))
    np.testing.assert_array_equal(
        force.target_values(cfg, np.zeros(3), np.array([0, 99, 100])), values[[0, 99, 0]]
    )


@pytest.mark.parametrize("content", ["a,b\n1,x\n", "1,2\n3,4\n", ""])
def test_malformed_target_file_is_one_line(cli, content):
    (cli.cwd / "bad.csv").write_text(content)
    result = cli("run", "experiment=smoke/force", "model/target=file", "model.target.path=bad.csv")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "model.target.path='bad.csv'" in lines[0]
    assert "Traceback" not in result.stderr
    with pytest.raises(UserError):
        force.read_target_file(str(cli.cwd / "bad.csv"))


def test_smoke_run_draws_the_output(cli):
    result = cli("run", "experiment=smoke/force", "hydra.run.dir=run")
    assert result.returncode == 0, result.stderr
    run = cli.cwd / "run"
    assert (run / "output.png").exists() and (run / "output.gif").exists()
    metrics = json.loads((run / "summary.json").read_text())["metrics"]
    assert {"train_rmse", "test_rmse", "dw_norm", "final_readout_norm"} <= set(metrics)


@pytest.mark.parametrize("integrator", ["reference", "euler"])
def test_the_compiled_kernel_equals_the_reference_with_either_integrator(integrator):
    # the kit holds the CPU kernel to the reference (the array code the GPU runs), for the
    # default integrator; here for both, every other step learning and with a drive
    settings = dict(n_units=60, integrator=integrator, rls_every=2, input_amplitude=0.5)
    check_rule(Force, {**settings, "train_until": 50.0}, checks=("kernels",))
