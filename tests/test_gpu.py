"""device=gpu: the cupy path gives the CPU path's weights (skipped where there is no GPU)."""

import json

import numpy as np
import pytest
from omegaconf import OmegaConf

from plastic.backend import make_backend
from plastic.datasets.bars import make_bars
from plastic.models.oja import Config, Oja

pytestmark = pytest.mark.gpu


def test_oja_on_gpu_equals_cpu():
    images, _ = make_bars(10, 8, 0.125, np.random.default_rng(0))
    cfg = OmegaConf.structured(Config)
    results = []
    for device in ("cpu", "gpu"):
        backend = make_backend(
            OmegaConf.create({"name": device, "dtype": "float64", "gpu_id": 0}), 0
        )
        model = Oja(cfg, backend, 64, np.random.default_rng(1))
        model.learn(backend.asarray(images))
        results.append(model.state_dict())
    for name in ("feedforward", "lateral", "rates"):
        np.testing.assert_allclose(results[1][name], results[0][name], atol=1e-9)


def test_smoke_recipe_on_gpu(cli):
    result = cli("run", "experiment=smoke/oja", "device=gpu", "hydra.run.dir=run")
    assert result.returncode == 0, result.stderr
    summary = json.loads((cli.cwd / "run" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["device"].startswith("gpu")


@pytest.mark.parametrize(
    "rule, overrides",
    [
        ("bcm", {"activation": "relu", "optimizer": {"name": "adam"}}),
        ("hopfield", {"p": 3.0, "k": 3}),
    ],
)
def test_minibatch_rules_on_gpu_equal_cpu(rule, overrides):

    from plastic import registry

    module = registry.import_target(registry.offers(registry.RULES)[rule].target, rule)
    x = np.random.default_rng(0).random((400, 64))
    cfg = OmegaConf.merge(
        OmegaConf.structured(module.Config), {"n_units": 16, "batch_size": 100, **overrides}
    )
    weights = []
    for device in ("cpu", "gpu"):
        backend = make_backend(
            OmegaConf.create({"name": device, "dtype": "float64", "gpu_id": 0}), 0
        )
        model = module(cfg, backend, 64, np.random.default_rng(1))
        model.learn(backend.asarray(x))
        weights.append(backend.to_host(model.weights))
    np.testing.assert_allclose(weights[1], weights[0], atol=1e-9)


def test_force_on_gpu_equals_cpu():
    from plastic.models import force

    cfg = OmegaConf.merge(OmegaConf.structured(force.Config), {"n_units": 200})
    traces = []
    for device in ("cpu", "gpu"):
        backend = make_backend(
            OmegaConf.create({"name": device, "dtype": "float64", "gpu_id": 0}), 0
        )
        model = force.Force(cfg, backend, 1, np.random.default_rng(0))
        model.learn(np.zeros((400, 1)))
        traces.append(np.array(model.trace()["z"]))
    np.testing.assert_allclose(traces[1], traces[0], atol=1e-8)


def test_attractor_on_gpu_equals_cpu():
    from plastic.models import attractor

    data = np.random.default_rng(2).normal(0, 1, (40, 64))
    cfg = OmegaConf.merge(
        OmegaConf.structured(attractor.Config), {"learning_rate": 0.01, "steps_per_pattern": 5}
    )
    couplings = []
    for device in ("cpu", "gpu"):
        backend = make_backend(
            OmegaConf.create({"name": device, "dtype": "float64", "gpu_id": 0}), 0
        )
        model = attractor.Attractor(cfg, backend, 64, np.random.default_rng(0))
        model.learn(data)
        couplings.append(model.couplings)
    np.testing.assert_allclose(couplings[1], couplings[0], atol=1e-8)


@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-9), ("float32", 2e-5)])
def test_topo_wta_fused_kernel_equals_cpu(dtype, tolerance):
    from plastic.models import topo_wta

    frames = np.random.default_rng(0).random((200, 64))
    weights = []
    for variant in ({}, {"boundary": "wrap", "normalized": True, "strength": 0.5, "ema_rate": 0.5}):
        cfg = OmegaConf.merge(
            OmegaConf.structured(topo_wta.Config), {"kx": 12, "ky": 12, **variant}
        )
        pair = []
        for device in ("cpu", "gpu"):
            backend = make_backend(
                OmegaConf.create({"name": device, "dtype": dtype, "gpu_id": 0}), 0
            )
            model = topo_wta.TopoWTA(cfg, backend, 64, np.random.default_rng(1))
            for block in np.split(frames, 4):  # four launches, the state carried between them
                model.learn(backend.asarray(block))
            pair.append(model.state_dict())
        weights.append(pair)
    for cpu, gpu in weights:
        np.testing.assert_allclose(gpu["weights"], cpu["weights"], atol=tolerance)
        np.testing.assert_array_equal(gpu["wins"], cpu["wins"])


def test_topo_wta_smoke_recipe_on_gpu(cli):
    result = cli("run", "experiment=smoke/topo_wta", "device=gpu", "hydra.run.dir=run")
    assert result.returncode == 0, result.stderr
    summary = json.loads((cli.cwd / "run" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["metrics"]["units_used"] > 0
