"""A conformance kit for learning rules, in the spirit of scikit-learn's `check_estimator`.

A rule's author calls it in their own tests:

    from plastic.testing import check_rule

    def test_my_rule_keeps_plastics_promises():
        check_rule(MyRule, config={"n_units": 8})

Each check is a promise the runner relies on (`rule_checks` lists them, to run one by one):

- same_seed: the same seed builds and trains the same state, bit for bit (and `snapshot`
  returns a copy, which learning does not change);
- round_trip: `state_dict` / `load_state_dict` carry everything that learning depends on;
- split: learning a block in two parts equals learning it whole (where `splits_exactly`);
- borrowed_block: `learn` leaves its block as it was and keeps no reference to it (the trainer
  gathers a shuffled run's blocks into one buffer, overwritten block after block);
- resume: a run interrupted through the trainer and resumed from its checkpoint ends, bit for
  bit, as the uninterrupted one, metrics included;
- divergence: a NaN in any state array is caught, and the trainer stops as diverged with a
  finite last checkpoint;
- strict_device: the whole run (learn, records, encode and probes, analysis, every picture)
  on a strict stand-in for a GPU that, as CuPy does, refuses implicit conversion to numpy and
  the mixing of host and device arrays;
- kernels: every fast path the rule registers for the CPU (plastic.kernels) ends, on the same
  start and data, where the reference (the rule's own methods, in the array namespace) ends,
  its state and responses within the rule's `kernel_tolerance`; the CUDA kernels are held to
  it under numba's CUDA simulator by the suite's slow tier;
- run_leaves_state (dynamical systems): `run` continues the dynamics without changing the state.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from plastic.backend import Backend, make_backend, strict_backend
from plastic.config import TrainerConfig, VizConfig, typed_section
from plastic.datasets import Dataset
from plastic.kernels import bind, every_registered, resolve
from plastic.rule import (
    IMAGES,
    PATTERNS,
    TIMELINE,
    DynamicalSystem,
    FeatureLearner,
    Rule,
    build,
)

# small data of each kind, for a rule that brings none: (dataset, its settings)
SMALL_DATA = {
    IMAGES: ("bars", {"n_samples": 240}),
    TIMELINE: ("timeline", {"duration": 80.0}),
    PATTERNS: ("fep_digits", {"n_presentations": 80, "presentation": "sequence"}),
}


def check_rule(
    rule: type | str,
    config: dict | None = None,
    dataset: Dataset | None = None,
    checks: tuple[str, ...] | None = None,
) -> None:
    """Run every check (or those named) on `rule` (a class, or "module:Class"), built with
    its defaults and the `config` overrides, on `dataset` (else small data of its kind).
    Raises AssertionError naming the check and what broke."""
    for name, check in rule_checks(rule, config, dataset):
        if checks is None or name in checks:
            check()


def rule_checks(
    rule: type | str, config: dict | None = None, dataset: Dataset | None = None
) -> list[tuple[str, Callable[[], None]]]:
    """(name, check) for each check that applies to the rule."""
    kit = _Kit(_rule_class(rule), config or {}, dataset)
    names = CHECKS + (DYNAMICAL_CHECKS if issubclass(kit.cls, DynamicalSystem) else ())
    return [(name, getattr(kit, name)) for name in names]


# the checks every rule passes, and those for dynamical systems only
CHECKS = (
    "same_seed",
    "round_trip",
    "split",
    "borrowed_block",
    "resume",
    "divergence",
    "strict_device",
    "kernels",
)
DYNAMICAL_CHECKS = ("run_leaves_state",)


def _rule_class(rule: type | str) -> type:
    if isinstance(rule, str):
        from plastic import registry

        rule = registry.import_target(rule, "rule")
    if not (isinstance(rule, type) and issubclass(rule, Rule)):
        raise TypeError(f"{rule!r} is not a plastic.rule.Rule subclass")
    return rule


def small_dataset(cls: type) -> Dataset:
    """Small data of the first kind the rule learns from."""
    from plastic import registry

    name, settings = SMALL_DATA[cls.learns_from[0]]
    source = registry.dataset_source(name)
    cfg = OmegaConf.merge(OmegaConf.structured(source.Config), {**settings, "seed": 0})
    return source.load(cfg)


class _Kit:
    def __init__(self, cls: type, config: dict, dataset: Dataset | None):
        self.cls, self.dataset = cls, dataset or small_dataset(cls)
        self.settings = OmegaConf.to_object(
            typed_section(cls.Config, OmegaConf.create(config), "model")
        )
        cls.check(self.settings, self.dataset)
        self.cpu = make_backend(OmegaConf.create({"name": "cpu", "dtype": "float64"}), 0)
        unit = max(1, self._build().samples_per_update)
        # two blocks of whole updates, the second as long as the first
        half = max(unit, (self.dataset.n_train // 2) // unit * unit)
        self.blocks = (self.dataset.train[:half], self.dataset.train[half : 2 * half])
        self.unit = unit

    def _build(self, backend: Backend | None = None, seed: int = 0):
        backend = backend or self.cpu
        return build(self.cls, self.settings, backend, self.dataset, np.random.default_rng(seed))

    def _learned(self, *parts, backend=None):
        model = self._build(backend)
        for part in parts:
            model.learn(model.backend.asarray(part))
        return model

    # ------------------------------------------------------------------ the checks
    def same_seed(self):
        _assert_same(self._build().state_dict(), self._build().state_dict(), "same_seed (built)")
        # the recorder keeps a snapshot without copying it: it must be the rule's own copy
        model = self._build()
        snapshot = model.snapshot()
        kept = snapshot.copy()
        model.learn(model.backend.asarray(self.blocks[0]))
        assert np.array_equal(snapshot, kept, equal_nan=True), (
            "same_seed: snapshot() returned a view of the live state; it must return a copy"
        )
        a, b = self._learned(self.blocks[0]), self._learned(self.blocks[0])
        _assert_same(a.state_dict(), b.state_dict(), "same_seed (after a block)")

    def round_trip(self):
        a = self._learned(self.blocks[0])
        b = self._build()
        b.load_state_dict(a.state_dict())
        _assert_same(a.state_dict(), b.state_dict(), "round_trip (loaded)")
        for model in (a, b):
            model.learn(model.backend.asarray(self.blocks[1]))
        _assert_same(a.state_dict(), b.state_dict(), "round_trip (a block after loading)")

    def split(self):
        if not self.cls.splits_exactly:
            return
        block = self.blocks[0]
        cut = max(self.unit, len(block) // 2 // self.unit * self.unit)
        whole, parts = self._learned(block), self._learned(block[:cut], block[cut:])
        _assert_same(whole.state_dict(), parts.state_dict(), "split (two parts vs whole)")

    def borrowed_block(self):
        first, second = self.blocks
        expected = self._learned(first, second)
        model = self._build()
        buffer = np.array(first, dtype=model.backend.dtype)
        model.learn(buffer)
        assert np.array_equal(buffer, np.asarray(first, dtype=buffer.dtype)), (
            "borrowed_block: learn changed its block; it must leave the data as it was"
        )
        buffer[...] = np.nan  # what the trainer's next gather does to the same memory
        model.learn(model.backend.asarray(second))
        _assert_same(
            expected.state_dict(),
            model.state_dict(),
            "borrowed_block (a reference kept to a block)",
        )

    def resume(self):
        with tempfile.TemporaryDirectory() as folder:
            folder = Path(folder)
            (folder / "whole").mkdir()
            (folder / "cut").mkdir()
            whole, outcome = self._fit(folder / "whole")
            assert outcome.status == "completed", f"resume: the run ended {outcome.status}"
            cut, outcome = self._fit(folder / "cut", stop_at=self._total() // 2)
            assert outcome.status == "interrupted", f"resume: the stop ended {outcome.status}"
            resumed, outcome = self._fit(folder / "cut", resume=True)
            assert outcome.status == "completed", f"resume: the resumed run {outcome.status}"
            _assert_same(
                whole.model.state_dict(), resumed.model.state_dict(), "resume (final state)"
            )
            _assert_same(
                _rows(whole.recorder.rows), _rows(resumed.recorder.rows), "resume (metrics)"
            )

    def divergence(self):
        model = self._learned(self.blocks[0])
        state = model.state_dict()
        for name in model.state_names:
            if name not in state:  # state that these settings do not have
                continue
            if not np.issubdtype(state[name].dtype, np.floating) or state[name].size == 0:
                continue
            poisoned = {k: v.copy() for k, v in state.items()}
            poisoned[name].flat[0] = np.nan
            model.load_state_dict(poisoned)
            found = model.nonfinite_state()
            assert found and name in found, f"divergence: a NaN in '{name}' was not caught"
        model.load_state_dict(state)
        assert model.nonfinite_state() is None, "divergence: a finite state was called diverged"
        self._diverges_through_the_trainer()

    def strict_device(self):
        """The whole run on the strict stand-in: learn, records, final figures, pictures."""
        from plastic import pictures
        from plastic.pictures import curves, fields
        from plastic.views import Table

        with tempfile.TemporaryDirectory() as folder:
            folder = Path(folder)
            trainer, outcome = self._fit(folder, backend=strict_backend())
            assert outcome.status == "completed", f"strict_device: the run {outcome.status}"
            final, views = trainer.evaluator.final(
                trainer.model, initial_model=self._build(strict_backend())
            )
            assert all(np.isfinite(v) or np.isnan(v) for v in final.values())
            from plastic.evaluate import EVALUATOR_NAMES

            declared = self.cls.figure_names
            known = {*EVALUATOR_NAMES, *trainer.model.metric_names, *(declared or ())}
            undeclared = set(final) - known
            assert declared is None or not undeclared, (
                f"strict_device: analyse returned figures not in figure_names: {sorted(undeclared)}"
            )
            viz = VizConfig(gif_max_frames=3)
            recorder = trainer.recorder
            layout = trainer.model.layout(self.dataset.image_shape)
            fields.draw(folder, "fields", recorder.gif_frames(), recorder.last_fields, layout, viz)
            names = [c for c in recorder.columns if c not in ("step", "epoch")]
            curves.draw(folder / "curves.png", recorder.rows, names)
            for view in views:
                if not isinstance(view, Table):
                    pictures.draw(view, folder, viz)
            if isinstance(trainer.model, FeatureLearner):
                responses = trainer.model.encode(self.dataset.train[:5])
                assert isinstance(responses, np.ndarray), "strict_device: encode must return host"

    def kernels(self, devices: tuple[str, ...] = ("cpu",)):
        """Each registered kernel alone in place of its method, against the reference."""
        tolerance = self.cls.kernel_tolerance
        for operation, device, path in every_registered(self.cls):
            if device not in devices:
                continue
            check = f"kernels ({path} for {operation} on device={device})"
            reference, fast = self._build(), self._build()
            bind(reference, {})
            bind(fast, {operation: resolve(path)})
            for part in self.blocks:
                for model in (reference, fast):
                    model.learn(model.backend.asarray(part))
            _assert_close(reference.state_dict(), fast.state_dict(), tolerance, check)
            if isinstance(reference, FeatureLearner):
                probe = self.dataset.train[: min(16, len(self.dataset.train))]
                responses = {"responses": reference.encode(probe)}
                _assert_close(responses, {"responses": fast.encode(probe)}, tolerance, check)

    def run_leaves_state(self):
        model = self._learned(self.blocks[0])
        before = model.state_dict()
        series = model.run(5)
        assert series and all(len(v) == 5 for v in series.values()), "run: 5 rows per series"
        _assert_same(before, model.state_dict(), "run_leaves_state")

    # ------------------------------------------------------------------ through the trainer
    def _total(self) -> int:
        return len(self.blocks[0]) + len(self.blocks[1])

    def _fit(self, folder, stop_at=None, resume=False, backend=None, model=None, blocks_apart=1):
        from plastic.evaluate import Evaluator
        from plastic.trainer import Trainer

        model = model or self._build(backend)
        every = max(self.unit, self._total() // 8 // self.unit * self.unit)
        cfg = TrainerConfig(  # records and checkpoints (and the guard) every `blocks_apart`
            block_size=every,
            record_every=every * blocks_apart,
            checkpoint_every=every * blocks_apart,
            max_steps=self._total(),
            progress="off",
        )
        evaluator = Evaluator.for_model(self.dataset, model, 0)
        trainer = Trainer(
            cfg, model, self.dataset, evaluator, model.backend, folder, 0, max_frames=3
        )
        if resume:
            trainer.load_checkpoint(Path(folder) / "checkpoint.npz")
        stop = _StopAt(trainer, stop_at) if stop_at is not None else None
        return trainer, trainer.fit(stop=stop)

    def _diverges_through_the_trainer(self):
        name = self._build().state_names[0]  # a stack names its state per instance
        kit = self

        class Poisoned(self.cls):
            """The rule, its first state array made NaN once half the run has been learned."""

            def learn(self, block):
                super().learn(block)
                self.learned = getattr(self, "learned", 0) + len(block)
                if self.learned >= kit._total() // 2:
                    state = self.state_dict()
                    state[name] = np.full_like(state[name], np.nan, dtype=np.float64)
                    self.load_state_dict(state)

        with tempfile.TemporaryDirectory() as folder:
            poisoned = build(
                Poisoned, self.settings, self.cpu, self.dataset, np.random.default_rng(0)
            )
            # the guard comes before records: the rule learns on from its NaN state a block
            # or two first, and must not crash doing so
            trainer, outcome = self._fit(folder, model=poisoned, blocks_apart=3)
            assert outcome.status == "diverged", (
                f"divergence: a NaN '{name}' ended the run {outcome.status}"
            )
            from plastic.artifacts import read_npz

            kept = read_npz(Path(folder) / "checkpoint.npz")
            assert all(np.isfinite(v).all() for k, v in kept.items() if k.startswith("model/")), (
                "divergence: the last checkpoint is not finite"
            )


class _StopAt:
    """A stop request that turns true once the trainer has passed `step`."""

    by = "plastic.testing's stop request"

    def __init__(self, trainer, step: int):
        self.trainer, self.step = trainer, step

    @property
    def requested(self) -> bool:
        return self.trainer.step >= self.step


def _rows(rows: list[dict]) -> dict[str, np.ndarray]:
    columns = sorted({key for row in rows for key in row})
    return {c: np.array([row.get(c, np.nan) for row in rows], dtype=float) for c in columns}


def _assert_same(a: dict[str, Any], b: dict[str, Any], check: str) -> None:
    assert sorted(a) == sorted(b), f"{check}: the state's keys differ: {sorted(a)} vs {sorted(b)}"
    for key in a:
        x, y = np.asarray(a[key]), np.asarray(b[key])
        same = x.shape == y.shape and (
            np.array_equal(x, y, equal_nan=True) if x.dtype.kind in "fc" else np.array_equal(x, y)
        )
        if not same:
            gap = np.nanmax(np.abs(x - y)) if x.shape == y.shape and x.dtype.kind in "fiu" else "-"
            raise AssertionError(f"{check}: '{key}' differs (largest difference {gap})")


def _assert_close(a: dict[str, Any], b: dict[str, Any], tolerance: float, check: str) -> None:
    """`a` and `b` equal within `tolerance` (relative and absolute; 0: bit for bit)."""
    if tolerance == 0:
        return _assert_same(a, b, check)
    assert sorted(a) == sorted(b), f"{check}: the state's keys differ: {sorted(a)} vs {sorted(b)}"
    for key in a:
        x, y = np.asarray(a[key]), np.asarray(b[key])
        if x.dtype.kind not in "fc":  # counts, generator words: exactly
            _assert_same({key: x}, {key: y}, check)
            continue
        if x.shape != y.shape or not np.allclose(x, y, rtol=tolerance, atol=tolerance):
            gap = np.nanmax(np.abs(x - y)) if x.shape == y.shape else "-"
            raise AssertionError(
                f"{check}: '{key}' differs from the reference by {gap} (allowed: {tolerance:g})"
            )
