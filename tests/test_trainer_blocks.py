"""The trainer's blocks: a shuffled run learns exactly its epochs' samples, in order, gathered
into one reused buffer, on the CPU and on the strict stand-in for a GPU alike."""

import numpy as np
from omegaconf import OmegaConf

from plastic import registry
from plastic.backend import make_backend, strict_backend
from plastic.config import TrainerConfig
from plastic.evaluate import Evaluator
from plastic.models.bcm import BCM
from plastic.trainer import Trainer

EPOCHS, BLOCK = 3, 100


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
    cpu = make_backend(OmegaConf.create({"name": "cpu", "dtype": "float64"}), 0)
    trainer = shuffled_run(cpu, data, tmp_path)
    by_hand = build(cpu, data)
    orders = [trainer.order(epoch) for epoch in range(EPOCHS)]
    assert not np.array_equal(orders[0], orders[1])  # shuffled anew each epoch
    for order in orders:
        samples = data.train[order]  # a fresh copy for each block: nothing shared
        for start in range(0, len(samples), BLOCK):
            by_hand.learn(samples[start : start + BLOCK].copy())
        by_hand.end_epoch()
    learned, expected = trainer.model.state_dict(), by_hand.state_dict()
    for name in expected:
        np.testing.assert_array_equal(learned[name], expected[name], err_msg=name)


def test_a_shuffled_run_is_the_same_on_the_strict_device(tmp_path):
    data = digits()
    cpu = make_backend(OmegaConf.create({"name": "cpu", "dtype": "float64"}), 0)
    (tmp_path / "cpu").mkdir()
    (tmp_path / "strict").mkdir()
    on_cpu = shuffled_run(cpu, data, tmp_path / "cpu").model.state_dict()
    on_strict = shuffled_run(strict_backend(), data, tmp_path / "strict").model.state_dict()
    for name in on_cpu:
        np.testing.assert_array_equal(on_strict[name], on_cpu[name], err_msg=name)
