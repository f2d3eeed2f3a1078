"""The free-energy attractor network (Spisak & Friston, arXiv 2505.22749): nodes with
activations s in [-1, 1], couplings J (J[i, j] from j to i, starting at 0), the data clamped as
biases b = evidence * pattern, inverse temperature beta. One synchronous step:

    h = J s                                   input potential (old s, no bias)
    s = sample_CB(beta (b + h))               stochastic; deterministic: s = L(beta (b + h))
    J = J + lr (s s^T - L(h) s^T)             new s on both sides; L(h) without beta and b;
                                              the diagonal is left unchanged

L(x) = coth(x) - 1/x is the Langevin function, the mean of the continuous Bernoulli on [-1, 1]
with density proportional to exp(x s); it is sampled by inverting its CDF:
s = log(exp(-x) + u (exp(x) - exp(-x))) / x, u ~ U(0, 1), uniform for x ~ 0, x clipped to +-500.
Fed a sequence, J grows asymmetric: its symmetric part holds the patterns as attractors, its
antisymmetric part replays the order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from plastic.config import setting
from plastic.kernels.attractor_cpu import CLIP, free_energy, mean_response, run_steps, settle_steps
from plastic.rule import PATTERNS, Analysis, DynamicalSystem
from plastic.state import generator, host_array, number, rows
from plastic.views import Matrices, Mosaic, Movie, Table, Traces

DIAGNOSTICS = ("step", "complexity", "accuracy", "vfe", "weight_change")


@dataclass
class Config:
    beta: float = setting(1.0, gt=0, help="inverse temperature")
    learning_rate: float = setting(0.001, ge=0, help="lambda (0: no learning)")
    evidence: float = setting(1.0, ge=0, help="patterns are clamped as evidence * pattern")
    steps_per_pattern: int = setting(1, gt=0, help="steps each presentation stays clamped")
    stochastic: bool = True  # false: the deterministic (least-action) update s = L(beta (b + h))
    retrieval_snr: float = setting(1.0, gt=0, help="pattern std / noise std of the probes")
    retrieval_signal: float = setting(0.1, gt=0, help="probes are signal * evidence * pattern")
    retrieval_trials: int = setting(100, gt=0, help="noisy probes for each Delta R^2")
    retrieval_steps: int = setting(100, gt=0, help="stochastic steps averaged for a response")
    retrieval_beta: float | None = setting(1.0, gt=0, help="beta of the probes (null: beta)")
    analysis_beta: float = setting(1.0, gt=0, help="beta of the deterministic attractor search")
    diagnostics_every: int = setting(
        0, ge=0, help="steps between the per-step VFE, complexity, accuracy, weight change (0: off)"
    )


def langevin_array(x, xp=np):
    """L(x) elementwise in the namespace xp (numpy or cupy), the series near 0."""
    x = xp.asarray(x) if xp is not np else np.asarray(x, dtype=np.float64)
    small = xp.abs(x) < 1e-4
    safe = xp.where(small, 1.0, x)
    return xp.where(small, x / 3 - x**3 / 45, 1 / xp.tanh(safe) - 1 / safe)


def sample_cb_array(xp, x, u):
    """`sample_cb` elementwise in the namespace xp, in a form that cannot overflow in float32:
    for x > 0, log(e^-x + u (e^x - e^-x)) / x = 1 + log(u + (1 - u) e^-2x) / x, and its mirror
    image for x < 0."""
    x = xp.clip(x, -CLIP, CLIP)
    flat = xp.abs(x) <= 1e-8
    a = xp.where(flat, 1.0, xp.abs(x))
    decay = xp.exp(-2 * a)
    positive = 1 + xp.log(u + (1 - u) * decay) / a
    negative = -1 - xp.log((1 - u) + u * decay) / a
    return xp.where(flat, 2 * u - 1, xp.where(x > 0, positive, negative))


def diagnostics(couplings, state, bias):
    """The reference's per-step figures: complexity, accuracy, VFE = complexity - accuracy."""
    complexity, accuracy = free_energy(couplings, state, np.asarray(bias, dtype=np.float64))
    return {"complexity": complexity, "accuracy": accuracy, "vfe": complexity - accuracy}


@dataclass
class State:
    # kept on the host, where the analyses read them; on a device the steps run on copies
    # there (the reference keeps them between blocks), and these are refreshed per block
    couplings: Any = host_array()  # J
    state: Any = host_array()  # s
    bias: Any = host_array(learned=False)  # the last presentation's evidence
    steps: Any = number()
    watched: Any = rows()  # step, complexity, accuracy, VFE, weight change, per watched step
    rng: Any = generator()  # the sampler's uniforms


class Attractor(DynamicalSystem):
    """Free-energy attractor network: local learning of asymmetric couplings (Spisak & Friston)."""

    Config = Config
    State = State
    # the block in one compiled call (a step: a few microseconds, where an array step costs tens)
    kernels = {"presentations": {"cpu": "plastic.kernels.attractor_cpu:presentations"}}
    kernel_tolerance = 1e-9
    learns_from = (PATTERNS,)
    metric_names = ("vfe", "complexity", "accuracy", "asymmetry")
    figure_names = (
        "asymmetry",
        "num_attractors",
        "sequence_order_score",
        "delta_r2_retrieval",
        "delta_r2_generalization",
        "orthogonality_attractors",
        "orthogonality_data",
    )
    metric_goals = {
        "vfe": "min",
        "sequence_order_score": "max",
        "delta_r2_retrieval": "max",
        "delta_r2_generalization": "max",
    }

    @classmethod
    def state_bytes(cls, cfg, n_inputs, itemsize):
        return 2 * n_inputs**2 * 8  # J on the host (float64) and, on a device, its copy

    @property
    def steps_per_record(self) -> int:
        """A step is `steps_per_pattern` network steps of a few microseconds each, and a record
        (the guard, the VFE, the asymmetry, the copy) costs about ten of them: records come at
        least 300 network steps apart, so that a run spends 95 % of its time learning."""
        return 100 * -(-3 // self.cfg.steps_per_pattern)

    def __init__(self, cfg, backend, n_inputs, rng):
        super().__init__(cfg, backend, n_inputs, rng)
        # the reference's copies of (couplings, state) in the array namespace, kept between
        # blocks with the host arrays they copy: a loaded state is copied anew
        self.device_state = None
        self.couplings = np.zeros((n_inputs, n_inputs))
        self.state = np.zeros(n_inputs)
        self.bias = np.zeros(n_inputs)
        self.rng = np.random.default_rng([int(rng.integers(2**32)), 0xA77])
        self.steps = 0
        self.watched = []  # rows of step, complexity, accuracy, VFE, weight change

    def learn(self, block):
        """Each row clamped for steps_per_pattern steps (the uniforms are drawn at once: the
        same stream as drawing them pattern by pattern)."""
        cfg = self.cfg
        biases = cfg.evidence * np.asarray(self.backend.to_host(block), dtype=np.float64)
        uniforms = self.rng.random((len(biases) * cfg.steps_per_pattern, self.n_inputs))
        self.presentations(biases, uniforms)
        self.steps += len(uniforms)
        self.bias = biases[-1]

    def presentations(self, biases, uniforms):
        """The reference: the steps in the array namespace, one at a time (each a product J s
        and a rank-one update of J), the per-step figures every `diagnostics_every` steps.
        Between blocks the arrays stay on the device; the host copies of the couplings and the
        state, which the analyses read, are refreshed after the block."""
        cfg, xp, backend = self.cfg, self.xp, self.backend
        copies = self.device_state
        if copies is None or copies[2] is not self.couplings or copies[3] is not self.state:
            copies = backend.asarray(self.couplings), backend.asarray(self.state)
        couplings, state = copies[:2]
        diagonal = xp.arange(self.n_inputs)
        for p, bias in enumerate(backend.asarray(biases)):
            for t in range(cfg.steps_per_pattern):
                row = p * cfg.steps_per_pattern + t
                h = couplings @ state
                x = cfg.beta * (bias + h)
                u = backend.asarray(uniforms[row])
                state = sample_cb_array(xp, x, u) if cfg.stochastic else langevin_array(x, xp)
                before = couplings.copy() if self._watching(row) else None
                if cfg.learning_rate > 0:
                    kept = couplings[diagonal, diagonal].copy()  # self-connections do not learn
                    couplings += cfg.learning_rate * xp.outer(state - langevin_array(h, xp), state)
                    couplings[diagonal, diagonal] = kept
                if before is not None:
                    host = backend.to_host(couplings)
                    complexity, accuracy = free_energy(
                        host, backend.to_host(state).astype(np.float64), biases[p]
                    )
                    change = float(((host - backend.to_host(before)) ** 2).sum())
                    count = self.steps + row + 1
                    self.watched.append(
                        np.array([count, complexity, accuracy, complexity - accuracy, change])
                    )
        self.couplings = backend.to_host(couplings).astype(np.float64)
        self.state = backend.to_host(state).astype(np.float64)
        self.device_state = couplings, state, self.couplings, self.state

    def _watching(self, row):
        every = self.cfg.diagnostics_every
        return bool(every) and (self.steps + row + 1) % every == 0

    def snapshot(self):
        return self.couplings.copy()  # row i: the couplings into node i, drawn as an image

    def trace(self):
        """The per-step diagnostics (model.diagnostics_every): step, complexity, accuracy,
        VFE and weight change, one row per watched step."""
        rows = np.array(self.watched, dtype=np.float64).reshape(-1, len(DIAGNOSTICS))
        return {name: rows[:, k] for k, name in enumerate(DIAGNOSTICS)}

    def run(self, n_steps):
        """Zero bias, no learning: stochastic steps from the present state (host copies),
        drawn from a copy of the random generator (the state, rng included, stays as it is)."""
        import copy

        return {"state": self.free_run(n_steps, rng=copy.deepcopy(self.rng))}

    def metrics(self):
        return {
            **diagnostics(self.couplings, self.state, self.bias),
            "asymmetry": asymmetry(self.couplings),
        }

    # ------------------------------------------------------------------ analyses
    def settle(self, couplings, start, bias, steps=1000, tol=1e-12):
        """Deterministic steps without learning from `start` until the VFE changes by < tol,
        compiled; the reference draws (and ignores) a row of uniforms a step, and so does this:
        the generator moves on as there, for the analyses that follow."""
        state = start.copy()
        taken = settle_steps(couplings, state, bias, self.cfg.beta, steps, tol)
        self.rng.random((taken, len(state)))
        return state

    def attractors(self, patterns):
        """Deterministic attractors of the symmetric part: one start per training pattern,
        L(0.1 * evidence * pattern), zero bias, until the VFE settles (as the reference)."""
        symmetric = (self.couplings + self.couplings.T) / 2
        zero = np.zeros(self.n_inputs)
        beta, self.cfg.beta = self.cfg.beta, self.cfg.analysis_beta
        try:
            ends = [
                self.settle(symmetric, langevin_array(0.1 * self.cfg.evidence * p), zero)
                for p in patterns
            ]
        finally:
            self.cfg.beta = beta
        return np.unique(np.round(ends, 2), axis=0)

    def free_run(self, steps=100, rng=None):
        """Zero bias, no learning, stochastic steps from the trained state: (steps, n)."""
        rng = self.rng if rng is None else rng
        state, zero, frames = self.state.copy(), np.zeros(self.n_inputs), []
        for _ in range(steps):
            run_steps(
                self.couplings,
                state,
                zero,
                rng.random((1, self.n_inputs)),
                self.cfg.beta,
                0.0,
                True,
            )
            frames.append(state.copy())
        return np.array(frames)

    def delta_r2(self, probe_state, patterns, sample):
        """Median over trials of R^2(mean response, pattern) - R^2(noisy probe, pattern), as the
        reference's evaluate_reconstruction_accuracy: the pattern (evidence * signal * image)
        plus Gaussian noise of its std / snr is clamped as the bias for `retrieval_steps`
        stochastic steps without learning; the network state runs on from trial to trial
        (`probe_state`, in place); the patterns in turn, or drawn at random (`sample`); each
        R^2 rounded to 3 decimals as there."""
        cfg, gains = self.cfg, []
        beta = cfg.beta if cfg.retrieval_beta is None else cfg.retrieval_beta
        for trial in range(cfg.retrieval_trials):
            index = self.rng.integers(len(patterns)) if sample else trial % len(patterns)
            clean = cfg.evidence * cfg.retrieval_signal * patterns[index]
            noisy = clean + self.rng.normal(0, clean.std() / cfg.retrieval_snr, len(clean))
            uniforms = self.rng.random((cfg.retrieval_steps, self.n_inputs))
            response = mean_response(
                self.couplings, probe_state, noisy, uniforms, beta, cfg.stochastic
            )
            gains.append(round(_r2(response, clean), 3) - round(_r2(noisy, clean), 3))
        return float(np.median(gains))

    def analyse(self, dataset):
        patterns = (
            dataset.patterns if dataset.patterns is not None else np.unique(dataset.train, axis=0)
        )
        found = self.attractors(patterns)
        probe_state = self.state.copy()  # the probes start from the trained state, as there
        run = self.free_run()
        best = nearest_patterns(run, np.ascontiguousarray(patterns, dtype=np.float64))
        moves = [(a, b) for a, b in zip(best[:-1], best[1:], strict=True) if a != b]
        in_order = sum(b == (a + 1) % len(patterns) for a, b in moves)
        figures = {
            "asymmetry": asymmetry(self.couplings),
            "num_attractors": float(len(found)),
            "sequence_order_score": in_order / len(moves) if moves else float("nan"),
            "delta_r2_retrieval": self.delta_r2(probe_state, patterns, sample=False),
            "orthogonality_attractors": orthogonality(found),
            "orthogonality_data": orthogonality_as_reference(self.cfg.evidence * patterns),
        }
        if dataset.test is not None:
            figures["delta_r2_generalization"] = self.delta_r2(probe_state, dataset.test, True)
        return Analysis(figures, self._views(dataset.image_shape, found, run))

    def _views(self, image_shape, found, run):
        """The per-step diagnostics (when watched), J and its two parts, the attractors, and
        the free run."""
        views = []
        if self.watched:  # model.diagnostics_every: the reference's per-step learning curves
            trace = self.trace()
            views.append(Table("diagnostics", DIAGNOSTICS, np.array(self.watched)))
            views.append(
                Traces(
                    "diagnostics",
                    trace["step"],
                    {name: trace[name] for name in DIAGNOSTICS[1:]},
                    log_scale=("weight_change",) if (trace["weight_change"] > 0).all() else (),
                    xlabel="step",
                )
            )
        J = self.couplings
        views.append(
            Matrices(
                "couplings",
                {
                    f"J\nasymmetry {asymmetry(J):.3f}": J,
                    "symmetric (J + J^T) / 2": (J + J.T) / 2,
                    "antisymmetric (J - J^T) / 2": (J - J.T) / 2,
                },
            )
        )
        if len(found):
            title = f"{len(found)} deterministic attractors of the symmetric part"
            views.append(Mosaic("attractors", found, tuple(image_shape), title))
        frames = [[s.reshape(image_shape)] for s in run]
        views.append(Movie("free_run", frames, height=16 * max(image_shape)))
        return views


def asymmetry(couplings) -> float:
    norm = np.linalg.norm(couplings)
    return float(np.linalg.norm(couplings - couplings.T) / norm) if norm > 0 else 0.0


def orthogonality(vectors) -> float:
    """Mean |90 degrees - angle| over the pairs of vectors (0: all orthogonal); pairs within a
    degree of 0 or 180 are the same attractor counted twice and are left out (as the reference)."""
    if len(vectors) < 2:
        return float("nan")
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    angles = np.degrees(np.arccos(np.clip(unit @ unit.T, -1, 1)))[np.triu_indices(len(vectors), 1)]
    angles = angles[(angles > 1) & (angles < 179)]
    return float(np.mean(np.abs(90.0 - angles))) if len(angles) else float("nan")


def orthogonality_as_reference(patterns) -> float:
    """The data's figure exactly as the reference computes it: the mean of |90 - angle| over the
    whole n x n matrix of angles, whose diagonal it leaves at 0 degrees (so each pattern's angle
    with itself counts as 90 degrees from orthogonal)."""
    unit = patterns / np.maximum(np.linalg.norm(patterns, axis=1, keepdims=True), 1e-12)
    angles = np.degrees(np.arccos(np.clip(unit @ unit.T, -1, 1)))
    np.fill_diagonal(angles, 0.0)
    return float(np.mean(np.abs(90.0 - angles)))


@numba.njit(cache=True)
def _corr(a, b):
    """Pearson's r of two vectors (0 when either is constant)."""
    n = len(a)
    mean_a, mean_b = a.sum() / n, b.sum() / n
    ab, aa, bb = 0.0, 0.0, 0.0
    for k in range(n):
        da, db = a[k] - mean_a, b[k] - mean_b
        ab += da * db
        aa += da * da
        bb += db * db
    if aa == 0.0 or bb == 0.0:
        return 0.0
    return ab / math.sqrt(aa * bb)


@numba.njit(cache=True)
def _r2(a, b):
    return _corr(a, b) ** 2


@numba.njit(cache=True)
def nearest_patterns(states, patterns):
    """For each state (row), the pattern it correlates with most."""
    best = np.empty(len(states), dtype=np.int64)
    for t in range(len(states)):
        scores = np.array([_corr(states[t], p) for p in patterns])
        best[t] = np.argmax(scores)
    return best
