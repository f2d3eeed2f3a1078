"""The trainer's blocks: a shuffled run learns exactly its epochs' samples, in order, gathered
into one reused buffer, on the CPU and on the strict stand-in for a GPU alike."""

import subprocess
import sys

import numpy as np
from omegaconf import OmegaConf

from plastic import registry
from plastic import trainer as trainer_module
from plastic.backend import make_backend, strict_backend
from plastic.config import TrainerConfig
from plastic.evaluate import Evaluator
from plastic.models.bcm import BCM
from plastic.trainer import Trainer

EPOCHS, BLOCK = 3, 100
CPU = make_backend(OmegaConf.create({"name": "cpu", "dtype": "float64"}), 0)


def digits():
    source = registry.dataset_source("digits")
    return source.load(OmegaConf.merge(OmegaConf.structured(source.Config), {"seed": 0}))


def build(backend, data):
    settings = OmegaConf.merge(OmegaConf.structured(BCM.Config), {"n_units": 6, "batch_size": 50})
    return BCM(OmegaConf.to_object(settings), backend, data.n_inputs, np.random.default_rng(0))


def shuffled_run(backend, data, folder):
    model = build(backend, data)
    cfg = TrainerConfig(epochs=EPOCHS, block_size=BLOCK, record_every=200, progress="off")
    evaluator = Evaluator(data, model.metric_names)
    trainer = Trainer(cfg, model, data, evaluator, backend, folder, 0, shuffle=True)
    assert trainer.fit().status == "completed"
    return trainer


def test_a_shuffled_run_learns_each_epochs_samples_in_its_order(tmp_path):
    data = digits()
    trainer = shuffled_run(CPU, data, tmp_path)
    by_hand = build(CPU, data)
    orders = [drawn(epoch, data.n_train, trainer.epoch_length) for epoch in range(EPOCHS)]
    assert not np.array_equal(orders[0], orders[1])  # shuffled anew each epoch
    for order in orders:
        samples = data.train[order]  # a fresh copy for each block: nothing shared
        for start in range(0, len(samples), BLOCK):
            by_hand.learn(samples[start : start + BLOCK].copy())
        by_hand.end_epoch()
    learned, expected = trainer.model.state_dict(), by_hand.state_dict()
    for name in expected:
        np.testing.assert_array_equal(learned[name], expected[name], err_msg=name)


def drawn(epoch: int, n: int, length: int, seed: int = 0) -> np.ndarray:
    """An epoch's shuffle as the trainer documents it: the (seed, epoch) draw's first whole
    batches."""
    return np.random.default_rng([seed, epoch]).permutation(n)[:length]


def test_each_epochs_order_is_its_own_draw_however_far_ahead_they_are_drawn(tmp_path, monkeypatch):
    data = digits()
    cfg = TrainerConfig(epochs=12, block_size=BLOCK, record_every=200, progress="off")
    model = build(CPU, data)
    evaluator = Evaluator(data, model.metric_names)
    # a window of five epochs' orders, so that a run draws them in several bursts
    monkeypatch.setattr(trainer_module, "ORDER_BYTES", 8 * data.n_train * 5)
    trainer = Trainer(cfg, model, data, evaluator, CPU, tmp_path, 7, shuffle=True)
    for epoch in (0, 4, 5, 11, 3, 3, 9):  # forwards, backwards (a resume), repeated
        expected = drawn(epoch, data.n_train, trainer.epoch_length, seed=7)
        np.testing.assert_array_equal(trainer.order(epoch), expected, err_msg=f"epoch {epoch}")
    unshuffled = Trainer(cfg, model, data, evaluator, CPU, tmp_path, 7, shuffle=False)
    np.testing.assert_array_equal(unshuffled.order(2), np.arange(unshuffled.epoch_length))


def test_a_shuffled_run_is_the_same_on_the_strict_device(tmp_path):
    data = digits()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "strict").mkdir()
    on_cpu = shuffled_run(CPU, data, tmp_path / "cpu").model.state_dict()
    on_strict = shuffled_run(strict_backend(), data, tmp_path / "strict").model.state_dict()
    for name in on_cpu:
        np.testing.assert_array_equal(on_strict[name], on_cpu[name], err_msg=name)


def test_the_guards_largest_magnitude_sees_nan_infinity_and_either_sign():
    strict = strict_backend()
    for backend in (CPU, strict):
        here = backend.asarray
        assert backend.largest_magnitude(here(np.array([1.0, -3.0, 2.0]))) == 3.0
        assert np.isnan(backend.largest_magnitude(here(np.array([1.0, np.nan, -np.inf]))))
        assert backend.largest_magnitude(here(np.array([[-np.inf, 1.0]]))) == np.inf
        assert backend.largest_magnitude(here(np.zeros(0))) == 0.0
    # on the host, in place: a strided view, a scalar, integers
    assert CPU.largest_magnitude(np.arange(12.0).reshape(3, 4)[:, ::3]) == 11.0
    assert CPU.largest_magnitude(np.float64(-2.5)) == 2.5
    assert CPU.largest_magnitude(np.array([3, -7])) == 7.0


def test_records_are_spaced_by_the_rules_steps_per_record():
    from plastic.models.attractor import Attractor
    from plastic.trainer import cadence

    def attractor(steps_per_pattern):
        settings = OmegaConf.merge(
            OmegaConf.structured(Attractor.Config), {"steps_per_pattern": steps_per_pattern}
        )
        return Attractor(OmegaConf.to_object(settings), CPU, 64, np.random.default_rng(0))

    plain = TrainerConfig()
    # a presentation of one network step is cheap: records 300 apart; of ten, 100 apart
    assert cadence(plain, attractor(1), 5_000)[0] == 300
    assert cadence(plain, attractor(10), 5_000)[0] == 100
    assert cadence(plain, attractor(1), 100_000)[0] == 300 * 10  # a long run: ~100 at most
    assert cadence(TrainerConfig(record_every=7), attractor(1), 5_000)[0] == 7  # the config's
    data = digits()
    assert cadence(plain, build(CPU, data), 20_000)[0] == 200  # the default spacing, 2 updates


def test_load_compiler_sets_numba_up_before_a_run_counts_its_training_time():
    # in a fresh process: in this one, an earlier test may have loaded it already
    script = (
        "from plastic.trainer import _change_and_size, load_compiler\n"
        "assert not _change_and_size.signatures\n"
        "load_compiler().join()\n"
        "assert _change_and_size.signatures, 'nothing loaded'\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
