"""attractor: the Langevin function and its sampler, one step by hand, equality with the
per-node reference, and the seed's sequence result."""

import math

import numpy as np
import pytest
from omegaconf import OmegaConf

from benchmarks.reference import attractor as reference
from plastic.backend import make_backend
from plastic.datasets import fep_digits
from plastic.kernels import attractor_cpu as compiled
from plastic.models import attractor
from plastic.testing import check_rule

CPU = make_backend(OmegaConf.create({"name": "cpu", "dtype": "float64"}), 0)


def coth_minus_inverse(x):
    return math.cosh(x) / math.sinh(x) - 1 / x


@pytest.mark.parametrize("x", [-30.0, -2.0, -0.3, 0.001, 0.7, 5.0, 400.0])
def test_langevin_function(x):
    assert compiled.langevin(x) == pytest.approx(
        coth_minus_inverse(x) if abs(x) < 700 else 1.0, rel=1e-9
    )


def test_langevin_series_near_zero():
    assert compiled.langevin(0.0) == 0.0
    for x in (1e-12, 1e-6, 9.9e-5):
        assert compiled.langevin(x) == pytest.approx(x / 3 - x**3 / 45, rel=1e-12)
    # the series and the closed form meet smoothly at the switch
    assert compiled.langevin(1e-4 * (1 - 1e-9)) == pytest.approx(compiled.langevin(1e-4), rel=1e-6)


@pytest.mark.parametrize("x", [-3.0, 0.0, 0.5, 2.0])
def test_sampler_mean_is_the_langevin_function(x):
    u = np.random.default_rng(0).random(200_000)
    samples = np.array([compiled.sample_cb(x, v) for v in u])
    assert samples.min() >= -1 and samples.max() <= 1
    assert samples.mean() == pytest.approx(compiled.langevin(x), abs=0.01)


def test_one_learning_step_by_hand():
    J = np.array([[0.0, 0.5], [-0.25, 0.0]])
    s = np.array([0.2, -0.4])
    run = compiled.run_steps
    run(J, s, np.array([1.0, -1.0]), np.zeros((1, 2)), 2.0, 0.1, False)
    # h = J s_old = [-0.2, -0.05]; s = L(2 (b + h)) = [L(1.6), L(-2.1)]
    s0, s1 = coth_minus_inverse(1.6), coth_minus_inverse(-2.1)
    np.testing.assert_allclose(s, [s0, s1], rtol=1e-12)
    # J_ij += 0.1 (s_i s_j - L(h_i) s_j), the diagonal untouched
    want01 = 0.5 + 0.1 * (s0 * s1 - coth_minus_inverse(-0.2) * s1)
    want10 = -0.25 + 0.1 * (s1 * s0 - coth_minus_inverse(-0.05) * s0)
    np.testing.assert_allclose(J, [[0.0, want01], [want10, 0.0]], rtol=1e-10)


@pytest.mark.parametrize("stochastic", [False, True])
def test_equals_the_per_node_reference(stochastic):
    n, steps, seed = 16, 100, 7
    patterns = np.random.default_rng(1).normal(0, 2.0, (4, n))[np.arange(steps) % 4]
    want_s, want_J = reference.run(patterns, 1, 0.8, 0.01, not stochastic, seed)
    J, s = np.zeros((n, n)), np.zeros(n)
    rng = np.random.default_rng(seed)
    for t, pattern in enumerate(patterns):
        compiled.run_steps(J, s, pattern, rng.random((1, n)), 0.8, 0.01, stochastic)
        np.testing.assert_allclose(s, want_s[t], atol=1e-9)
        np.testing.assert_allclose(J, want_J[t], atol=1e-9)
    assert np.abs(J).max() > 0.05  # it learned


@pytest.mark.parametrize("stochastic", [False, True])
def test_the_transposed_loops_equal_the_row_step_to_the_last_bit(stochastic):
    n, steps = 64, 3
    rng = np.random.default_rng(5)
    biases, uniforms = rng.normal(0, 3, (40, n)), rng.random((120, n))
    J, s = np.zeros((n, n)), np.zeros(n)
    compiled.run_presentations(J, s, biases, uniforms, steps, 0.7, 0.01, stochastic)
    want_J, want_s, h = np.zeros((n, n)), np.zeros(n), np.empty(n)
    for t, u in enumerate(uniforms):
        compiled.step(want_J, want_s, biases[t // steps], u, 0.7, 0.01, stochastic, h, False, False)
    np.testing.assert_array_equal(J, want_J)
    np.testing.assert_array_equal(s, want_s)
    # and without learning (the probes): the mean of the states
    response = compiled.mean_response(J, s.copy(), biases[0], uniforms[:50], 0.5, stochastic)
    total = np.zeros(n)
    for u in uniforms[:50]:
        compiled.step(want_J, want_s, biases[0], u, 0.5, 0.0, stochastic, h, False, False)
        total += want_s
    np.testing.assert_array_equal(response, total / 50)


def test_per_step_diagnostics_equal_the_reference():
    n, steps, seed = 16, 60, 3
    patterns = np.random.default_rng(2).normal(0, 2.0, (4, n))[np.arange(steps) % 4]
    _, _, want = reference.run(patterns, 1, 0.8, 0.01, False, seed, watch=True)
    J, s, rows = np.zeros((n, n)), np.zeros(n), np.empty((steps // 3 + 1, 5))
    uniforms = np.random.default_rng(seed).random((steps, n))
    written = compiled.run_presentations_watched(
        J, s, patterns, uniforms, 1, 0.8, 0.01, True, 0, 3, rows
    )
    assert written == steps // 3
    np.testing.assert_array_equal(rows[:written, 0], np.arange(3, steps + 1, 3))
    # complexity, accuracy, VFE, weight change after steps 3, 6, 9, ... as the reference's
    np.testing.assert_allclose(rows[:written, 1:], want[2::3], rtol=1e-9, atol=1e-12)


def test_diagnostics_on_leave_the_learning_unchanged_and_survive_a_resume():
    data = np.random.default_rng(4).normal(0, 1, (30, 64))
    settings = {"learning_rate": 0.01, "steps_per_pattern": 4}
    watched, plain = (
        attractor.Attractor(
            OmegaConf.merge(OmegaConf.structured(attractor.Config), settings, extra),
            CPU,
            64,
            np.random.default_rng(0),
        )
        for extra in ({"diagnostics_every": 5}, {})
    )
    watched.learn(data[:13])
    resumed = attractor.Attractor(watched.cfg, CPU, 64, np.random.default_rng(0))
    resumed.load_state_dict(watched.state_dict())
    resumed.learn(data[13:])
    plain.learn(data)
    np.testing.assert_array_equal(resumed.couplings, plain.couplings)
    steps = np.array(resumed.watched)[:, 0]
    np.testing.assert_array_equal(steps, np.arange(5, 121, 5))  # across the resume


def test_the_seed_sequence_grows_asymmetric_couplings_that_replay_the_order():
    data = fep_digits.load(
        OmegaConf.merge(
            OmegaConf.structured(fep_digits.Config),
            {"seed": 0, "patterns": [1, 2, 3], "presentation": "sequence", "n_presentations": 2000},
        )
    )
    cfg = OmegaConf.merge(
        OmegaConf.structured(attractor.Config),
        {"beta": 1.0, "learning_rate": 0.001, "evidence": 20.0},
    )
    model = attractor.Attractor(cfg, CPU, 64, np.random.default_rng(0))
    model.learn(data.train)
    figures = model.analyse(data).figures
    assert figures["asymmetry"] > 0.9
    assert figures["num_attractors"] == 3
    assert figures["sequence_order_score"] > 0.8


def test_digits_preparation():
    prepared = fep_digits.prepare(np.arange(2 * 64, dtype=float).reshape(2, 64))
    np.testing.assert_allclose(prepared.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(prepared.std(axis=1), 1)


def test_the_paper_digits_network_retrieves_and_generalises():
    # Simulation 2 at the paper's size (50,000 steps: a fraction of a second compiled)
    data = fep_digits.load(
        OmegaConf.merge(
            OmegaConf.structured(fep_digits.Config), {"seed": 0, "n_presentations": 5000}
        )
    )
    cfg = OmegaConf.merge(
        OmegaConf.structured(attractor.Config),
        {"beta": 0.1668, "learning_rate": 0.001, "evidence": 11.0, "steps_per_pattern": 10},
    )
    trained = attractor.Attractor(cfg, CPU, 64, np.random.default_rng(0))
    trained.learn(data.train)
    figures = trained.analyse(data).figures
    # the paper: median Delta R^2 0.29 (retrieval), 0.07 (generalisation), 10 attractors,
    # a little asymmetry only: the symmetric part holds most of J
    assert 0.2 < figures["delta_r2_retrieval"] < 0.4
    assert 0.02 < figures["delta_r2_generalization"] < 0.15
    assert figures["num_attractors"] >= 7
    assert figures["asymmetry"] < 0.5
    # without couplings the same probes are not cleaned up at all
    untrained = attractor.Attractor(cfg, CPU, 64, np.random.default_rng(0))
    assert untrained.delta_r2(np.zeros(64), data.patterns, sample=False) < 0


def test_the_cb_sampler_in_array_form_equals_the_compiled_one():
    x = np.array([-600.0, -40.0, -3.0, -1e-9, 0.0, 1e-9, 0.2, 7.0, 480.0])
    u = np.random.default_rng(5).random(len(x))
    want = [compiled.sample_cb(a, b) for a, b in zip(x, u, strict=True)]
    np.testing.assert_allclose(attractor.sample_cb_array(np, x, u), want, rtol=1e-12, atol=1e-12)
    # and it stays finite in float32, where exp(500) overflows
    x32, u32 = x.astype(np.float32), u.astype(np.float32)
    assert np.isfinite(attractor.sample_cb_array(np, x32, u32)).all()


@pytest.mark.parametrize("stochastic", [False, True])
def test_the_compiled_kernel_equals_the_reference(stochastic):
    # the kit holds the CPU kernel to the reference (the array code the GPU runs), per-step
    # figures included; here with three steps a pattern, either way of sampling
    settings = {"learning_rate": 0.01, "steps_per_pattern": 3, "stochastic": stochastic,
                "diagnostics_every": 4, "retrieval_trials": 4}  # fmt: skip
    check_rule(attractor.Attractor, settings, checks=("kernels",))


def test_the_generator_is_checkpointed_as_numbers_and_old_text_checkpoints_still_load():
    """The stochastic network's generator travels in a checkpoint as six uint64 words; a
    checkpoint of plastic 0.2.0 (the state as text) resumes the same."""
    cfg = OmegaConf.structured(attractor.Config)
    data = np.random.default_rng(1).normal(size=(6, 64))
    model = attractor.Attractor(cfg, CPU, 64, np.random.default_rng(0))
    model.learn(data)
    state = model.state_dict()
    assert state["rng"].dtype == np.uint64 and state["rng"].shape == (6,)
    legacy = dict(state, rng=np.frombuffer(repr(model.rng.bit_generator.state).encode(), np.uint8))
    for saved in (state, legacy):
        resumed = attractor.Attractor(cfg, CPU, 64, np.random.default_rng(7))
        resumed.load_state_dict(saved)
        resumed.learn(data)
        reference_model = attractor.Attractor(cfg, CPU, 64, np.random.default_rng(0))
        reference_model.load_state_dict(state)
        reference_model.learn(data)
        np.testing.assert_array_equal(resumed.couplings, reference_model.couplings)
    assert not np.array_equal(
        attractor.Attractor(cfg, CPU, 64, np.random.default_rng(0)).couplings, model.couplings
    )
