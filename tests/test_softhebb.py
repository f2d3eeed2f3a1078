"""SoftHebb: the layer against the transcription of the authors' code, the stack's schedules,
the paper's readout, CIFAR-10 files, and the refusals of its settings."""

import json
import pickle

import numpy as np
import pytest
from omegaconf import OmegaConf

from benchmarks.reference import softhebb as reference
from plastic.backend import make_backend, strict_backend
from plastic.datasets import cifar10
from plastic.errors import UserError
from plastic.evaluate import ProbeConfig, linear_readout
from plastic.models.softhebb import (
    BATCH_NORM_EPS,
    Config,
    LayerConfig,
    SoftHebb,
    SoftHebbConv,
    parse_pool,
)

CPU = make_backend(OmegaConf.create({"name": "cpu", "dtype": "float64"}), 0)

# (input channels, kernel, padding, units, t_invert, rate, triangle power, pooling)
GEOMETRIES = [
    (1, 5, 2, 8, 1.0, 0.08, 0.7, "max_4_2_1"),  # the paper's first block
    (4, 3, 1, 6, 0.65, 0.005, 1.4, "max_4_2_1"),  # its second
    (3, 3, 1, 5, 0.25, 0.01, 1.0, "avg_2_2_0"),  # its third, on colour
    (2, 3, 0, 4, 2.0, 0.05, 1.0, "none"),
]


def layer(geometry, backend=CPU, side=10, batch=4):
    channels, kernel, padding, units, t_invert, rate, power, pool = geometry
    cfg = LayerConfig(
        channels=units,
        kernel=kernel,
        padding=padding,
        t_invert=t_invert,
        learning_rate=rate,
        triangle_power=power,
        pool=pool,
        batch_size=batch,
    )
    shape = (channels, side, side)
    return SoftHebbConv(
        cfg, backend, int(np.prod(shape)), np.random.default_rng(1), input_shape=shape
    )


def reference_weights(conv):
    """plastic's (K, k k C) weights in PyTorch's (K, C, k, k) layout."""
    k, channels = conv.cfg.kernel, conv.input_shape[0]
    return CPU.to_host(conv.weights).reshape(-1, k, k, channels).transpose(0, 3, 1, 2)


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=lambda g: f"C{g[0]}k{g[1]}{g[7]}")
def test_a_learning_step_equals_the_transcription_of_the_authors_code(geometry):
    """Three batches in a row: the block's output (batch norm, convolution, triangle, pooling)
    and the weights after each SoftHebb step equal the reference's to rounding."""
    conv = layer(geometry)
    weights = reference_weights(conv)
    rng = np.random.default_rng(7)
    pool = parse_pool(geometry[7])  # "none" is an average over 1 x 1 for the reference
    for _ in range(3):
        x = rng.random((4, geometry[0], 10, 10))
        out = conv.forward(x.copy(), learn=True)
        want, weights = reference.block(
            x, weights, geometry[2], geometry[6], pool, learn=(geometry[4], geometry[5])
        )
        np.testing.assert_allclose(out, want, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(reference_weights(conv), weights, rtol=1e-12, atol=1e-14)


def test_the_update_moves_the_weights_and_they_head_for_unit_norm():
    """Not a step that changes nothing: many batches bring every unit's norm toward 1."""
    conv = layer(GEOMETRIES[0], side=12, batch=10)
    x = np.random.default_rng(0).random((400, 1, 12, 12))
    start = np.abs(conv.metrics()["norm_mean"] - 1)
    for i in range(0, 400, 10):
        conv.forward(x[i : i + 10], learn=True)
    assert np.abs(conv.metrics()["norm_mean"] - 1) < start / 2


def small_config(**changes):
    settings = dict(
        channels=[6, 8],
        kernel=[3, 3],
        padding=[1, 1],
        t_invert=[1.0, 0.65],
        learning_rate=[0.08, 0.01],
        triangle_power=[0.7, 1.0],
        pool=["max_2_2_0", "avg_2_2_0"],
        batch_size=5,
    )
    settings.update(changes)
    return Config(**settings)


def stack(**changes):
    return SoftHebb(
        small_config(**changes), CPU, 64, np.random.default_rng(0), input_shape=(1, 8, 8)
    )


def test_greedy_learns_one_layer_per_epoch_and_then_stops():
    net = stack(mode="greedy")
    data = CPU.asarray(np.random.default_rng(0).random((50, 64)))
    start = net.state_dict()
    net.learn(data)
    first = net.state_dict()
    assert not np.array_equal(first["layer0_weights"], start["layer0_weights"])
    np.testing.assert_array_equal(first["layer1_weights"], start["layer1_weights"])
    assert net.end_epoch() is None  # the second layer's turn
    net.learn(data)
    second = net.state_dict()
    np.testing.assert_array_equal(second["layer0_weights"], first["layer0_weights"])
    assert not np.array_equal(second["layer1_weights"], first["layer1_weights"])
    assert "all 2 layers have learned (one after another" in net.end_epoch()
    net.learn(data)  # nothing learns any more
    np.testing.assert_array_equal(net.state_dict()["layer1_weights"], second["layer1_weights"])
    assert SoftHebb.epochs_needed(small_config(mode="greedy", epochs_per_layer=2)) == 4


def test_consecutive_learns_every_layer_from_each_batch():
    net = stack(mode="consecutive")
    start = net.state_dict()
    net.learn(CPU.asarray(np.random.default_rng(0).random((50, 64))))
    for name in ("layer0_weights", "layer1_weights"):
        assert not np.array_equal(net.state_dict()[name], start[name])
    assert "all at once" in net.end_epoch()
    assert SoftHebb.epochs_needed(small_config(mode="consecutive")) == 1


def test_the_encoding_is_the_last_layers_output_and_the_same_on_the_strict_device():
    x = np.random.default_rng(1).random((7, 64))
    host = stack().encode(x)
    assert host.shape == (7, 8 * 2 * 2)  # 8 units on 8 -> 4 (max 2/2) -> 2 (avg 2/2)
    strict = SoftHebb(
        small_config(), strict_backend(), 64, np.random.default_rng(0), input_shape=(1, 8, 8)
    ).encode(x)
    np.testing.assert_array_equal(host, strict)


def test_the_untrained_network_is_the_network_as_built_whatever_is_encoded_beside():
    """The control the paper's 'Random' baseline is: batch norms at their initial mean 0 and
    variance 1 (not the statistics of the images encoded together), so an image's features are
    the same alone and among others; once a layer has learned, its running averages rule."""
    x = np.random.default_rng(2).random((9, 64))
    untrained = stack()
    together = untrained.encode(x)
    np.testing.assert_allclose(untrained.encode(x[:1]), together[:1], rtol=1e-12)
    first, images = untrained.layers[0], CPU.asarray(x[:3].reshape(3, 1, 8, 8))
    as_built = first.forward(images)  # normalised by mean 0 and variance 1 (+ eps)
    first.running_mean, first.running_var = CPU.asarray([0.5]), CPU.asarray([4.0])
    shifted = images * np.sqrt((4 + BATCH_NORM_EPS) / (1 + BATCH_NORM_EPS)) + 0.5
    np.testing.assert_allclose(first.forward(shifted), as_built, rtol=1e-9)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"kernel": [3]}, "model.kernel has 1 values, model.channels has 2"),
        ({"channels": [6, 0]}, r"model.channels\[1\]=0 is not allowed: must be > 0"),
        ({"pool": ["max_2_2_0", "mean_2_2_0"]}, "pool 'mean_2_2_0' is not allowed"),
        ({"kernel": [9, 3]}, "layer 1: model.kernel=9"),
    ],
)
def test_settings_that_cannot_make_a_network_are_refused_in_one_line(changes, message):
    from plastic.datasets import Dataset

    data = Dataset("tiny", np.zeros((20, 64)), (8, 8), "test")
    with pytest.raises(UserError, match=message):
        SoftHebb.check(small_config(padding=[0, 1], **changes), data)


def test_pool_notation_is_the_codes_own():
    assert parse_pool("max_4_2_1") == ("max", 4, 2, 1)
    assert parse_pool("avg_2_2_0") == ("avg", 2, 2, 0)
    assert parse_pool("none") == ("none", 1, 1, 0)
    for bad in ("max_4_2", "max_0_2_1", "max_a_2_1"):
        with pytest.raises(UserError):
            parse_pool(bad)


def test_the_papers_readout_learns_and_is_reproducible():
    """On the bundled digits' pixels the dropout readout reaches what a linear model does
    there (~0.95); the same seed gives the same accuracy."""
    from plastic.datasets import digits

    data = digits.load(OmegaConf.merge(OmegaConf.structured(digits.Config), {"seed": 0}))
    probe = ProbeConfig(classifier="linear", epochs=100)
    args = (data.train, data.train_labels, data.test, data.test_labels, probe)
    accuracy = linear_readout(*args, seed=0)
    assert accuracy > 0.9
    assert linear_readout(*args, seed=0) == accuracy


# ----------------------------------------------------------------------------- CIFAR-10
def fake_cifar(n_train=20, n_test=10, seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 256, (n_train, 32, 32, 3), dtype=np.uint8),
        rng.integers(0, 10, (n_train, 1), dtype=np.uint8),  # keras keeps labels as (n, 1)
        rng.integers(0, 256, (n_test, 32, 32, 3), dtype=np.uint8),
        rng.integers(0, 10, (n_test, 1), dtype=np.uint8),
    )


def cifar_cfg(**kw):
    cfg = OmegaConf.structured(cifar10.Config)
    cfg.seed = 0
    return OmegaConf.merge(cfg, kw)


def test_cifar_from_keras_arrays_and_from_the_python_batches_agree(tmp_path):
    x_train, y_train, x_test, y_test = fake_cifar(n_train=50, n_test=10)
    np.savez(tmp_path / "cifar.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    planar = x_train.transpose(0, 3, 1, 2).reshape(50, -1)  # the python version's rows
    for i in range(5):
        rows = slice(10 * i, 10 * i + 10)
        batch = {b"data": planar[rows], b"labels": list(y_train[rows, 0])}
        (folder / f"data_batch_{i + 1}").write_bytes(pickle.dumps(batch))
    test = {b"data": x_test.transpose(0, 3, 1, 2).reshape(10, -1), b"labels": list(y_test[:, 0])}
    (folder / "test_batch").write_bytes(pickle.dumps(test))

    from_npz = cifar10.load(cifar_cfg(path=str(tmp_path / "cifar.npz")))
    from_batches = cifar10.load(cifar_cfg(path=str(folder)))
    assert from_npz.input_shape == (3, 32, 32) and from_npz.n_inputs == 3072
    for name in ("train", "train_labels", "test", "test_labels"):
        np.testing.assert_array_equal(getattr(from_npz, name), getattr(from_batches, name))
    # a sample is the red plane, then the green, then the blue
    np.testing.assert_allclose(
        from_npz.train[0, 1024:2048].reshape(32, 32), x_train[0, :, :, 1] / 255
    )


def test_cifar_files_that_are_not_cifar_are_refused_in_one_line(tmp_path):
    np.savez(
        tmp_path / "wrong.npz",
        x_train=np.zeros((5, 28, 28)),
        y_train=np.zeros(5),
        x_test=np.zeros((5, 28, 28)),
        y_test=np.zeros(5),
    )
    with pytest.raises(UserError, match=r"x_train has shape \(5, 28, 28\)"):
        cifar10.load(cifar_cfg(path=str(tmp_path / "wrong.npz")))
    (tmp_path / "batches").mkdir()
    with pytest.raises(UserError, match="lacks data_batch_1"):
        cifar10.check(cifar_cfg(path=str(tmp_path / "batches")))


def test_softhebb_runs_on_a_cifar_file_through_the_console_script(cli):
    x_train, y_train, x_test, y_test = fake_cifar(n_train=60, n_test=20)
    path = cli.cwd / "cifar.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    result = cli(
        "run",
        "experiment=smoke/softhebb",
        "dataset=cifar10",
        f"dataset.path={path}",
        "probe.epochs=2",
        "trainer.progress=off",
        "hydra.run.dir=run",
    )
    assert result.returncode == 0, result.stdout[-1500:] + result.stderr[-1500:]
    summary = json.loads((cli.cwd / "run" / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert {"probe_accuracy", "probe_random"} <= set(summary["metrics"])
    assert (cli.cwd / "run" / "fields_layer1.png").exists()


def test_too_few_epochs_for_the_greedy_schedule_are_refused(cli):
    result = cli("run", "experiment=smoke/softhebb", "trainer.epochs=1", "hydra.run.dir=run")
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .endswith("its schedule takes 2 passes over the data; set trainer.epochs=2")
    )
    assert not (cli.cwd / "run").exists()


def test_a_greedy_stack_keeps_the_runners_promises():
    """The conformance kit on the greedy schedule (the kit's list runs the consecutive one):
    resume and checkpoints carry which layer learns and for how long."""
    from plastic.testing import check_rule
    from tests.test_conformance import RULES

    settings = {**RULES["plastic.models.softhebb:SoftHebb"], "mode": "greedy"}
    check_rule(SoftHebb, config=settings, checks=("round_trip", "resume", "divergence"))


def test_a_checkpoint_taken_in_the_second_layers_turn_resumes_there():
    data = CPU.asarray(np.random.default_rng(0).random((50, 64)))
    net = stack(mode="greedy")
    net.learn(data)
    net.end_epoch()
    net.learn(data[:25])
    resumed = stack(mode="greedy")
    resumed.load_state_dict(net.state_dict())
    for model in (net, resumed):
        model.learn(data[25:])
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[key], value)
    assert resumed.end_epoch() is not None  # the second layer's epoch ends the schedule
