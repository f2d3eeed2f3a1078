"""topo_wta: exact to the notebook's loop for every variant, no N x N array, topography emerges."""

import json
import subprocess
import sys

import numpy as np
import pytest
from omegaconf import OmegaConf

from benchmarks.reference import topo_wta as reference
from plastic.backend import make_backend
from plastic.datasets import tapestry
from plastic.kernels import topo_wta_cpu
from plastic.models import topo_wta
from plastic.testing import check_rule
from tests.conftest import REPO

CPU = make_backend(OmegaConf.create({"name": "cpu", "dtype": "float64"}), 0)


def build(n_inputs=36, **overrides):
    cfg = OmegaConf.merge(OmegaConf.structured(topo_wta.Config), overrides)
    return topo_wta.TopoWTA(cfg, CPU, n_inputs, np.random.default_rng(1)), cfg


VARIANTS = {
    "notebook": {},
    "clip": {"boundary": "clip"},
    "wrap": {"boundary": "wrap"},
    "normalized": {"normalized": True, "strength": 0.5},
    "output is c": {"output": "competition"},
    "no error clip": {"clip_error": False},
    "weights clipped": {"clip_weights": True, "learning_rate": 0.1},
    "ema output": {"ema_rate": 0.5},
    "wrap, normalized, ema, radius 3": {
        "boundary": "wrap",
        "normalized": True,
        "ema_rate": 0.5,
        "radius": 3,
        "strength": 0.5,
    },
    "no lateral excitation": {"strength": 0.0, "n_winners": 3},
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_compiled_kernel_equals_the_reference_for_every_variant(variant):
    # the kit holds the CPU kernel to the reference (the array code), state and responses
    settings = {"kx": 8, "ky": 7, "n_winners": 3, **VARIANTS[variant]}
    check_rule(topo_wta.TopoWTA, settings, checks=("kernels",))


@pytest.mark.parametrize("variant", VARIANTS)
def test_equals_the_notebook_loop_after_200_steps(variant):
    model, cfg = build(kx=12, ky=12, **VARIANTS[variant])
    inputs = np.random.default_rng(0).random((200, 36))
    start = model.weights.copy()
    lateral = reference.lateral_matrix(
        12, 12, cfg.radius, cfg.strength, cfg.boundary, cfg.normalized
    )
    want = reference.train(
        start,
        inputs,
        lateral,
        cfg.n_winners,
        cfg.learning_rate,
        cfg.epsilon,
        cfg.output,
        cfg.clip_error,
        cfg.clip_weights,
        cfg.ema_rate,
    )
    model.learn(inputs)
    assert np.abs(want - start).max() > 1e-3  # the weights did learn
    np.testing.assert_allclose(model.weights, want, rtol=0, atol=1e-10)


@pytest.mark.parametrize("variant", ["notebook", "ema output", "weights clipped"])
def test_a_block_learned_in_parts_has_the_same_winners_and_weights_to_rounding(variant):
    # the drives of the next steps come from one product from each block's start: cuts that
    # fall inside such a stretch (37, 160 are not multiples of it) group the sums otherwise
    inputs = np.random.default_rng(2).random((300, 36))
    whole, _ = build(kx=12, ky=12, **VARIANTS[variant])
    parts, _ = build(kx=12, ky=12, **VARIANTS[variant])
    whole.learn(inputs)
    for block in (inputs[:37], inputs[37:160], inputs[160:]):
        parts.learn(block)
    np.testing.assert_array_equal(parts.wins, whole.wins)  # every step, the same winners
    np.testing.assert_allclose(parts.weights, whole.weights, rtol=0, atol=1e-13)
    np.testing.assert_allclose(parts.ema_output, whole.ema_output, rtol=0, atol=1e-13)


def test_lateral_excitation_equals_the_dense_matrix():
    p = np.random.default_rng(0).random(7 * 5)
    out, rows = np.empty_like(p), np.empty((5, 7))
    for boundary, index in (("reference", 0), ("clip", 1), ("wrap", 2)):
        for normalized in (False, True):
            lateral = reference.lateral_matrix(7, 5, 1, 0.3, boundary, normalized)
            topo_wta_cpu.lateral_excitation(p, out, 7, 5, 1, 0.3, index, normalized, rows)
            np.testing.assert_allclose(out, lateral @ p, atol=1e-14)


def test_no_n_by_n_array_at_10000_units():
    # a dense lateral matrix alone would take 800 MB at N = 10,000: measure the process's peak
    # memory, in a process that finds the loop compiled (compiling takes memory of its own)
    code = (
        "import sys, numpy as np, resource; from omegaconf import OmegaConf;"
        "from plastic.backend import make_backend; from plastic.models import topo_wta;"
        "be = make_backend(OmegaConf.create({'name': 'cpu', 'dtype': 'float64'}), 0);"
        "side = int(sys.argv[1]);"
        "cfg = OmegaConf.merge(OmegaConf.structured(topo_wta.Config), {'kx': side, 'ky': side});"
        "m = topo_wta.TopoWTA(cfg, be, 16, np.random.default_rng(0));"
        "m.learn(np.random.default_rng(1).random((50, 16)));"
        "d = type('D', (), {'test': np.random.default_rng(2).random((50, 16))});"
        "d.image_shape = (4, 4); m.analyse(d());"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )

    def peak_mb(side):
        out = subprocess.run(
            [sys.executable, "-c", code, str(side)],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
        return int(out.stdout.strip()) / 1024

    small = peak_mb(3)  # compiles (or loads numba's cache) and fills the cache
    small = peak_mb(3)
    large = peak_mb(100)
    assert large - small < 200, f"{large:.0f} MB at N = 10,000 against {small:.0f} MB at N = 9"


@pytest.fixture(scope="module")
def video():
    cfg = OmegaConf.merge(
        OmegaConf.structured(tapestry.Config),
        {"seed": 0, "digits_source": "sample", "n_frames": 5000, "test_frames": 1000},
    )
    return tapestry.load(cfg)


def test_topography_emerges_with_lateral_excitation(video):
    figures = {}
    for strength in (0.0, 0.1):
        model, _ = build(n_inputs=400, kx=10, ky=10, strength=strength, boundary="clip")
        model.learn(video.train)
        figures[strength] = model.analyse(video).figures
    assert figures[0.1]["topographic_error"] < figures[0.0]["topographic_error"] - 0.05
    assert figures[0.1]["cowinner_distance"] < figures[0.0]["cowinner_distance"] / 1.5
    assert figures[0.1]["reconstruction_mse"] < 0.1 and figures[0.1]["units_used"] > 50


def test_tapestry_video(video):
    assert video.train.shape == (5000, 400) and video.test.shape == (1000, 400)
    assert video.train.min() >= 0 and video.train.max() <= 1
    digits = np.arange(9 * 28 * 28, dtype=float).reshape(9, 28, 28)
    image = tapestry.mosaic(digits, 3)
    np.testing.assert_array_equal(image[-28:], image[:28])  # the last row of tiles repeats
    np.testing.assert_array_equal(image[:, -28:], image[:, :28])
    # on an image whose pixel says where it is, the window moves at most 3 px per frame
    ramp = np.add.outer(np.arange(900) * 1000.0, np.arange(900))
    frames = tapestry.glide(ramp, 400, 20, 20, 3.0, 812, np.random.default_rng(0))
    y, x = frames[:, 0] // 1000, frames[:, 0] % 1000
    step = lambda a: np.minimum(np.abs(np.diff(a)), 812 - np.abs(np.diff(a)))  # noqa: E731
    assert step(y).max() <= 3 and step(x).max() <= 3 and step(x).max() > 0


def test_smoke_run_draws_the_map_pictures(cli):
    result = cli("run", "experiment=smoke/topo_wta", "hydra.run.dir=run")
    assert result.returncode == 0, result.stderr
    run = cli.cwd / "run"
    for name in ("receptive_fields.gif", "activity.gif", "reconstructions.png", "fields.png"):
        assert (run / name).stat().st_size > 0, name
    metrics = json.loads((run / "summary.json").read_text())["metrics"]
    for name in (
        "reconstruction_mse",
        "units_used",
        "win_entropy",
        "topographic_error",
        "cowinner_distance",
    ):
        assert name in metrics


def test_wrap_needs_a_box_that_fits(cli):
    result = cli("run", "model=topo_wta", "model.kx=4", "model.boundary=wrap", "model.radius=2")
    assert result.returncode == 2 and "model.radius=2" in result.stderr


def test_looking_at_the_map_changes_nothing(video):
    model, _ = build(n_inputs=400, kx=6, ky=6, ema_rate=0.5)
    model.learn(video.train[:200])
    before = model.state_dict()
    model.analyse(video)
    model.encode(video.test[:20])
    after = model.state_dict()
    for name in before:  # the held-out frames neither learn nor count as wins
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)


def test_too_many_winners_for_the_gpu_kernel_is_one_line():
    from plastic.backend import Backend
    from plastic.errors import UserError

    gpu = Backend("gpu", np, np.dtype("float32"), "a GPU, as the model sees it")
    cfg = OmegaConf.merge(OmegaConf.structured(topo_wta.Config), {"n_winners": 33})
    with pytest.raises(UserError, match="model.n_winners=33 .* at most 32"):
        topo_wta.TopoWTA(cfg, gpu, 16, np.random.default_rng(0))


class HostKernel:
    """Stands in for the fused kernel's launcher (its interface, the host loop's arithmetic),
    with a `fault` to make it wrong: the checks of the GPU path around the kernel, without one
    (the real kernel: test_topo_wta_kernel.py)."""

    fault = None

    def __init__(self, n_units, n_winners, xp):
        self.n_winners = n_winners

    def __call__(self, weights_t, inputs, ema, wins, rule_arguments):
        assert weights_t.flags.c_contiguous and inputs.flags.c_contiguous  # as the kernel's
        weights = np.ascontiguousarray(weights_t.T)
        n, m = weights.shape
        records = (np.zeros((0, m)), np.zeros((0, n)), np.zeros((0, self.n_winners), np.int64))
        topo_wta_cpu.run_steps(
            weights, inputs, ema, wins, *rule_arguments, True, self.n_winners, False,
            *records, np.zeros((0, 2), np.int64),
        )  # fmt: skip
        weights_t[...] = weights.T
        if self.fault is not None:
            self.fault(weights_t, ema, wins)


def gpu_and_cpu_models(monkeypatch, fault):
    from plastic.backend import Backend
    from plastic.kernels import topo_wta_cuda

    monkeypatch.setattr(HostKernel, "fault", staticmethod(fault) if fault else None)
    monkeypatch.setattr(topo_wta_cuda, "FusedSteps", HostKernel)
    gpu = Backend("gpu", np, np.dtype("float64"), "a GPU, as the model sees it")
    cfg = OmegaConf.merge(OmegaConf.structured(topo_wta.Config), {"kx": 6, "ky": 6})
    return [topo_wta.TopoWTA(cfg, b, 36, np.random.default_rng(1)) for b in (gpu, CPU)]


def test_the_gpu_path_checks_its_kernel_and_then_learns(monkeypatch):
    gpu, cpu = gpu_and_cpu_models(monkeypatch, None)
    frames = np.random.default_rng(0).random((30, 36))
    for block in np.split(frames, 3):  # the check at the first launch changes nothing
        gpu.learn(block)
        cpu.learn(block)
    for name, value in cpu.state_dict().items():
        np.testing.assert_allclose(gpu.state_dict()[name], value, atol=1e-12, err_msg=name)


def _miscount_a_win(weights_t, ema, wins):
    wins[0] += 1.0


def _nudge_a_weight(weights_t, ema, wins):
    weights_t[3, 5] += 1e-6


def _overflow(weights_t, ema, wins):
    weights_t[...] = np.nan


@pytest.mark.parametrize(
    "fault, what",
    [(_miscount_a_win, "wins"), (_nudge_a_weight, "weights"), (_overflow, "weights")],
)
def test_a_kernel_that_disagrees_with_the_cpu_loop_is_one_line(monkeypatch, fault, what):
    from plastic.errors import UserError

    gpu, _ = gpu_and_cpu_models(monkeypatch, fault)
    start = gpu.weights.copy()
    with pytest.raises(UserError, match=f"disagrees with the CPU loop .* first 8 steps \\({what}"):
        gpu.learn(np.random.default_rng(0).random((20, 36)))
    np.testing.assert_array_equal(gpu.weights, start)  # it learned nothing
