"""Oja's rule with lateral inhibition: the update against hand computation and the reference."""

import numpy as np
import pytest
from omegaconf import OmegaConf

from benchmarks.reference.oja import simulate
from plastic.backend import make_backend
from plastic.datasets.bars import make_bars
from plastic.kernels import bind
from plastic.models.oja import Config, Oja

PATHS = ["reference", "compiled"]  # Oja.trials, and the kernel registered for the CPU


def one_step(path, *arrays):
    ff, lat, rates, x = (np.array(a, dtype=float) for a in arrays)
    # dt/tau 0.1, dt/tau_w 0.01, alphas 2 and 0.5, one Euler step a trial
    settings = dict(tau=10.0, tau_learning=100.0, alpha_feedforward=2.0, alpha_lateral=0.5)
    model = build(n_inputs=len(x), n_units=len(rates), steps_per_trial=1, **settings)
    if path == "reference":
        bind(model, {})
    model.feedforward, model.lateral = ff, lat
    model.trials(x[None, :], rates, np.zeros((1, len(rates))), True, True)
    return ff, lat, rates


@pytest.mark.parametrize("path", PATHS)
def test_one_euler_step_matches_hand_computation(path):
    # 2 units, 3 inputs; the numbers below were worked out by hand from the docstring's equations
    ff, lat, rates = one_step(
        path, [[0.5, 0.0, 0.25], [0.0, 1.0, 0.5]], [[0, 0.5], [0.25, 0]], [0.2, 0.4], [1, 0, 1]
    )
    # r = r + 0.1 (w x - v r_prev - r) = [0.2 + 0.1(0.75 - 0.2 - 0.2), 0.4 + 0.1(0.5 - 0.05 - 0.4)]
    np.testing.assert_allclose(rates, [0.235, 0.405], rtol=1e-12)
    # w_ji += 0.01 (x_i r_j - 2 r_j^2 w_ji)
    np.testing.assert_allclose(
        ff, [[0.50179775, 0.0, 0.252073875], [0.00405, 0.9967195, 0.50240975]], rtol=1e-12
    )
    # v_jk += 0.01 (r_k r_j - 0.5 r_j^2 v_jk), no self-connection
    np.testing.assert_allclose(lat, [[0.0, 0.5008136875], [0.25074671875, 0.0]], rtol=1e-12)


@pytest.mark.parametrize("path", PATHS)
def test_rates_and_weights_are_clipped_at_zero(path):
    # unit 0 is inhibited below zero: its rate clips to 0 and its weights stay as they were
    ff, lat, rates = one_step(
        path, [[0.1, 0.1], [1.0, 1.0]], [[0, 5.0], [0.0, 0]], [0.0, 1.0], [1, 1]
    )
    assert rates[0] == 0.0 and rates[1] > 0
    np.testing.assert_array_equal(ff[0], [0.1, 0.1])
    # a weight driven below zero by the decay term is clipped at 0
    ff, _, _ = one_step(path, [[0.0, 1e-6]], [[0.0]], [20.0], [0.0, 0.0])  # 0.01*2*18^2 > 1
    assert ff[0, 1] == 0.0


def build(dtype="float64", n_inputs=64, **overrides):
    backend = make_backend(OmegaConf.create({"name": "cpu", "dtype": dtype}), 0)
    cfg = OmegaConf.merge(OmegaConf.structured(Config), overrides)
    return Oja(cfg, backend, n_inputs, np.random.default_rng(3))


def test_compiled_loop_equals_the_reference_transcription():
    images, _ = make_bars(40, 8, 0.125, np.random.default_rng(1))
    model = build()
    ref = simulate(images, model.feedforward, model.lateral, model.rates)
    model.learn(images)
    for got, want in zip((model.feedforward, model.lateral, model.rates), ref, strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert not np.diag(model.lateral).any()


def test_encode_is_the_trial_mean_without_learning():
    model = build()
    before = model.feedforward.copy()
    images, _ = make_bars(5, 8, 0.125, np.random.default_rng(0))
    responses = model.encode(images)
    assert responses.shape == (5, 32) and (responses >= 0).all()
    np.testing.assert_array_equal(model.feedforward, before)
    np.testing.assert_array_equal(model.encode(images), responses)  # from rest each time


def test_state_dict_round_trip():
    a, b = build(), build()
    a.learn(make_bars(5, 8, 0.125, np.random.default_rng(0))[0])
    b.load_state_dict(a.state_dict())
    for name, value in a.state_dict().items():
        np.testing.assert_array_equal(getattr(b, name), value)


def test_without_lateral_inhibition_the_lateral_weights_stay_zero():
    model = build(lateral_inhibition=False)
    model.learn(make_bars(10, 8, 0.125, np.random.default_rng(0))[0])
    assert not model.lateral.any()
