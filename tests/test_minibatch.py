"""bcm and hopfield: each update by hand, each optimizer's step, orthogonalisation, p-norms,
equality with the library's loop, and resume mid-run."""

import math

import numpy as np
import pytest
from omegaconf import OmegaConf

from benchmarks.reference import plasticity as reference
from plastic.backend import make_backend
from plastic.config import TrainerConfig
from plastic.datasets import digits
from plastic.evaluate import Evaluator
from plastic.models import bcm, hopfield
from plastic.models._minibatch import orthogonalized
from plastic.optim import Optimizer, OptimizerConfig
from plastic.trainer import Trainer

CPU = make_backend(OmegaConf.create({"name": "cpu", "dtype": "float64"}), 0)


def build(module, n_inputs=3, **overrides):
    cfg = OmegaConf.merge(OmegaConf.structured(module.Config), overrides)
    return module(cfg, CPU, n_inputs, np.random.default_rng(0))


def test_bcm_update_matches_hand_computation():
    model = build(bcm.BCM, n_units=2, activation="linear")
    model.weights = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    x = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 1.0]])
    update, theta, rows = model.update(x)
    assert rows is None  # every unit's row
    # Y = W X^T = [[1, 1], [2, 1]]; th_b = [1, 2.5]; phi = [[0, 0], [-0.4, -0.6]]; dW = phi X / 2
    np.testing.assert_allclose(update, [[0, 0, 0], [-0.2, -0.7, -0.3]], atol=1e-12)
    np.testing.assert_allclose(theta, [0.5, 1.25])  # running: 0.5 * 0 + 0.5 * th_b


def test_bcm_interaction_matrix_is_the_inverse_of_the_lateral_one():
    np.testing.assert_allclose(bcm.interaction_matrix(-0.5, 2), [[4 / 3, -2 / 3], [-2 / 3, 4 / 3]])
    np.testing.assert_array_equal(bcm.interaction_matrix(0.0, 3), np.eye(3))


def test_hopfield_update_matches_hand_computation():
    model = build(hopfield.KrotovHopfield, n_inputs=2, n_units=3, k=2, delta=0.4)
    model.weights = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    update, theta, rows = model.update(np.array([[2.0, 1.0], [0.0, 3.0]]))
    assert list(rows) == [0, 1, 2]
    # I = [[2, 0], [1, 3], [1.5, 1.5]]: winners 0 then 1, second-best 2 both times
    # G = [[1, 0], [0, 1], [-0.4, -0.4]]; sum G*I = [2, 3, -1.2]; dW = G X - diag(.) W
    np.testing.assert_allclose(theta, [2.0, 3.0, -1.2])
    np.testing.assert_allclose(update, [[0.0, 1.0], [0.0, 0.0], [-0.2, -1.0]], atol=1e-12)
    assert list(model.wins) == [1, 1, 0]


def test_hopfield_p3_uses_signed_square_weights():
    model = build(hopfield.KrotovHopfield, n_inputs=2, n_units=2, p=3.0, k=1)
    model.weights = np.array([[-2.0, 1.0], [0.5, 0.5]])
    np.testing.assert_allclose(model.respond(np.array([[1.0, 1.0]])), [[-4.0 + 1.0, 0.5]])


G1, G2, LR, EPS6 = 0.5, -0.2, 0.1, 1e-6


def two_steps(name, **extra):
    cfg = OptimizerConfig(name=name, learning_rate=LR, **extra)
    optimizer = Optimizer(cfg, np, (1,), np.float64)
    w = np.array([1.0])
    optimizer.step(w, np.array([G1]))
    optimizer.step(w, np.array([G2]))
    return w[0], optimizer


def test_sgd_momentum_nesterov_steps():
    assert two_steps("sgd")[0] == pytest.approx(1 - LR * G1 - LR * G2)
    # momentum: v1 = -0.05, w = 0.95; v2 = 0.9 v1 + 0.02 = -0.025, w = 0.925
    assert two_steps("momentum", momentum=0.9)[0] == pytest.approx(0.925)
    # nesterov: w = 1 + 0.9 v1 - 0.05 = 0.905; then + 0.9 v2 + 0.02 = 0.9025
    assert two_steps("nesterov", momentum=0.9)[0] == pytest.approx(0.9025)


def test_adaptive_steps():
    c1, c2 = G1**2, G1**2 + G2**2
    want = 1 - LR * G1 / (math.sqrt(c1) + EPS6) - LR * G2 / (math.sqrt(c2) + EPS6)
    assert two_steps("adagrad", epsilon=EPS6)[0] == pytest.approx(want)

    c1 = 0.1 * G1**2
    c2 = 0.9 * c1 + 0.1 * G2**2
    want = 1 - LR * G1 / (math.sqrt(c1) + EPS6) - LR * G2 / (math.sqrt(c2) + EPS6)
    assert two_steps("rmsprop", rho=0.9, epsilon=EPS6)[0] == pytest.approx(want)

    u1 = G1 * math.sqrt(0 + EPS6) / math.sqrt(c1 + EPS6)
    d1 = 0.1 * u1**2
    u2 = G2 * math.sqrt(d1 + EPS6) / math.sqrt(c2 + EPS6)
    assert two_steps("adadelta", rho=0.9, epsilon=EPS6)[0] == pytest.approx(1 - LR * u1 - LR * u2)

    m1, v1 = 0.1 * G1, 0.001 * G1**2
    m2, v2 = 0.9 * m1 + 0.1 * G2, 0.999 * v1 + 0.001 * G2**2
    a1 = LR * math.sqrt(1 - 0.999) / (1 - 0.9)
    a2 = LR * math.sqrt(1 - 0.999**2) / (1 - 0.9**2)
    want = 1 - a1 * m1 / (math.sqrt(v1) + 1e-8) - a2 * m2 / (math.sqrt(v2) + 1e-8)
    assert two_steps("adam")[0] == pytest.approx(want)


def test_learning_rate_decay_as_the_library():
    _, optimizer = two_steps("sgd", decay=0.5)
    assert optimizer.lr == pytest.approx(LR / 1.5 / 2.0)  # lr / (decay t + 1), t = 1 then 2


def test_orthogonalisation_gives_orthonormal_rows():
    w = np.random.default_rng(0).normal(size=(10, 64))
    np.testing.assert_allclose(
        orthogonalized(np, w) @ orthogonalized(np, w).T, np.eye(10), atol=1e-12
    )


@pytest.fixture(scope="module")
def digit_data():
    cfg = OmegaConf.merge(OmegaConf.structured(digits.Config), {"seed": 0})
    return digits.load(cfg)


def batches(n_samples, size, count, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.choice(n_samples, size, replace=False) for _ in range(count)]


def test_bcm_equals_the_library_loop(digit_data):
    x = digit_data.train
    model = build(
        bcm.BCM,
        n_inputs=64,
        n_units=8,
        batch_size=50,
        activation="relu",
        optimizer={"name": "adam", "learning_rate": 0.02},
    )
    start = model.weights.copy()
    plan = batches(len(x), 50, 12)
    for batch in plan:
        model.learn(x[batch])
    want, theta = reference.bcm(x, start, plan, reference.Adam(lr=0.02))
    np.testing.assert_allclose(model.weights, want, rtol=0, atol=1e-10)
    np.testing.assert_allclose(model.theta, theta, atol=1e-10)


@pytest.mark.parametrize("n_units, batch", [(12, 50), (300, 10)])
def test_hopfield_equals_the_library_loop(digit_data, n_units, batch):
    """With 300 units and batches of 10, most units are neither winner nor k-th in a batch:
    the rows left out of the update must be exactly the library's unchanged rows."""
    x = digit_data.train
    model = build(
        hopfield.KrotovHopfield,
        n_inputs=64,
        n_units=n_units,
        batch_size=batch,
        p=3.0,
        k=3,
        delta=0.4,
    )
    start = model.weights.copy()
    plan = batches(len(x), batch, 12)
    for indices in plan:
        model.learn(x[indices])
    want = reference.hopfield(x, start, plan, reference.SGD(lr=0.02), p=3.0, k=3, delta=0.4)
    np.testing.assert_allclose(model.weights, want, rtol=0, atol=1e-10)
    if n_units == 300:
        assert (model.weights == start).all(axis=1).any()  # some rows were never touched


def test_hopfield_sparse_update_under_another_optimizer_steps_the_whole_matrix(digit_data):
    """Momentum moves every weight through its velocity: the rule's rows are made whole."""
    x = digit_data.train[:40]
    settings = dict(n_inputs=64, n_units=50, batch_size=10)
    momentum = {"name": "momentum", "learning_rate": 0.02, "momentum": 0.9}
    model = build(hopfield.KrotovHopfield, optimizer=momentum, **settings)
    rule = build(hopfield.KrotovHopfield, **settings)  # the same start; its update alone
    velocity = np.zeros_like(rule.weights)
    for start in range(0, 40, 10):
        update, _, rows = rule.update(x[start : start + 10])
        velocity *= 0.9
        velocity[rows] += 0.02 * update
        rule.weights += velocity
    model.learn(x)
    np.testing.assert_allclose(model.weights, rule.weights, rtol=0, atol=1e-12)
    assert (velocity[np.setdiff1d(np.arange(50), rows)] != 0).any()  # carried, not re-zeroed


def test_hopfield_cosine_response_is_the_papers_readout():
    """max(cos(W, x), 0)^n: scaling an input or a unit's weights changes nothing."""
    model = build(
        hopfield.KrotovHopfield, n_inputs=2, n_units=2, response="cosine", response_power=4.5
    )
    model.weights = np.array([[3.0, 0.0], [-1.0, 1.0]])
    h = model.respond(np.array([[2.0, 2.0], [0.0, 5.0]]))
    want = [[np.sqrt(0.5) ** 4.5, 0.0], [0.0, np.sqrt(0.5) ** 4.5]]
    np.testing.assert_allclose(h, want, rtol=1e-12, atol=1e-12)


def train(digit_data, module, run_dir, max_steps=None, resume=False, **overrides):
    model = build(module, n_inputs=64, **overrides)
    cfg = OmegaConf.merge(
        OmegaConf.structured(TrainerConfig),
        {
            "epochs": 3,
            "block_size": 100,
            "record_every": 200,
            "checkpoint_every": 400,
            "max_steps": max_steps,
            "progress": "off",
        },
    )
    trainer = Trainer(
        cfg,
        model,
        digit_data,
        Evaluator(digit_data, model.metric_names),
        CPU,
        run_dir,
        seed=0,
        shuffle=True,
    )
    if resume:
        trainer.load_checkpoint(run_dir / "checkpoint.npz")
    return trainer, trainer.fit(), model


@pytest.mark.parametrize(
    "module, overrides",
    [
        (bcm.BCM, {"activation": "relu", "optimizer": {"name": "adam"}}),
        (hopfield.KrotovHopfield, {"p": 3.0, "k": 3, "optimizer": {"name": "momentum"}}),
    ],
)
def test_resume_mid_run_equals_an_uninterrupted_run(digit_data, tmp_path, module, overrides):
    overrides = {"n_units": 10, "batch_size": 100, **overrides}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    whole, outcome, model = train(digit_data, module, tmp_path / "a", **overrides)
    assert outcome.status == "completed" and outcome.step == 3 * 1300  # whole batches only
    train(digit_data, module, tmp_path / "b", max_steps=1600, **overrides)  # checkpoint at 1600
    resumed, _, again = train(digit_data, module, tmp_path / "b", resume=True, **overrides)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(again.state_dict()[name], value, err_msg=name)
    assert resumed.recorder.rows[-1] == whole.recorder.rows[-1]


def test_hopfield_weight_p_norms_approach_one(digit_data):
    model = build(hopfield.KrotovHopfield, n_inputs=64, n_units=16, batch_size=100, p=3.0, k=2)
    x = digit_data.train
    before = model.metrics()["pnorm_mean"]
    rng = np.random.default_rng(0)
    for _ in range(300):
        model.learn(x[rng.permutation(len(x))[:1300]])
    norms = (np.abs(model.weights) ** 3).sum(axis=1) ** (1 / 3)
    # every unit that takes part in the competition ends on the unit 3-norm sphere (a unit
    # that never ranks first or k-th is never updated and keeps its initial norm)
    assert before > 3
    assert np.sum(np.abs(norms - 1) < 0.02) >= 14, norms


def test_convergence_stops_early(digit_data, tmp_path):
    # a vanishing learning rate leaves theta as it is: once the running threshold has settled
    # (epoch 2 onwards), two equal epochs in a row stop the run long before its 20 epochs
    model = build(
        bcm.BCM,
        n_inputs=64,
        n_units=4,
        batch_size=100,
        epochs_for_convergence=2,
        optimizer={"learning_rate": 1e-12},
    )
    cfg = OmegaConf.merge(OmegaConf.structured(TrainerConfig), {"epochs": 20, "progress": "off"})
    trainer = Trainer(cfg, model, digit_data, Evaluator(digit_data), CPU, tmp_path, seed=0)
    outcome = trainer.fit()
    assert outcome.status == "completed" and outcome.reason.startswith("converged after 3 epochs")
    assert outcome.step == 3 * 1300 < outcome.total


def test_probe_on_krotov_features_beats_raw_pixels_on_the_mnist_sample():
    from plastic.datasets import mnist

    data = mnist.load(
        OmegaConf.merge(OmegaConf.structured(mnist.Config), {"seed": 0, "source": "sample"})
    )
    model = build(
        hopfield.KrotovHopfield,
        n_inputs=784,
        n_units=800,
        batch_size=100,
        p=3.0,
        k=7,
        response="rectified",
    )
    rng = np.random.default_rng(1)
    for _ in range(10):
        model.learn(data.train[rng.permutation(len(data.train))])
    metrics, _ = Evaluator(data).final(model)
    assert metrics["probe_accuracy"] > metrics["probe_raw_pixels"] + 0.01, metrics
