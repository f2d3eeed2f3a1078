"""What bcm and hopfield share, as the `plasticity` library does it: weights W (K x d) from an
initialiser, whole shuffled minibatches, an update dW that is ascended through an optimizer,
weight decay, optional symmetric orthogonalisation after each epoch, and an early stop once
the rule's per-unit progress figure (theta) has been stable for some epochs.

    dW <- update(X) - decay W          (the rule's own update, then weight decay)
    W  <- optimizer.step(W, -dW)       (ascended: the optimizer sees -dW as its gradient)
    end of epoch: W <- U V^T from W = U S V^T (if orthogonalize)

A rule whose update leaves most units alone returns only the rows it changes; plain SGD
without weight decay then steps only those rows (any other optimizer gets the full matrix).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from plastic.config import setting
from plastic.errors import UserError
from plastic.optim import Optimizer, OptimizerConfig
from plastic.rule import FeatureLearner
from plastic.state import array, host_array, number, part, rows

INITIALIZERS = (
    "normal",
    "uniform",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "lecun_uniform",
    "orthogonal",
    "zeros",
)


@dataclass
class MinibatchConfig:
    n_units: int = setting(100, gt=0, help="K, the number of hidden units")
    batch_size: int = setting(1000, gt=0, help="samples per update")
    init: str = setting("normal", choices=INITIALIZERS)
    init_scale: float = setting(
        1.0, gt=0, help="std of normal, half-width of uniform, gain of orthogonal"
    )
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    weight_decay: float = setting(0.0, ge=0, help="dW -= weight_decay * W")
    precision: float = setting(1e-30, gt=0, help="guards divisions by zero")
    orthogonalize: bool = False
    epochs_for_convergence: int | None = setting(
        None, gt=0, help="stop once theta is stable this long"
    )
    convergence_atol: float = setting(0.01, gt=0)


def initial_weights(name: str, scale: float, shape: tuple[int, int], rng: np.random.Generator):
    """The initialisers, with the fan-in d and fan-out K of a (K x d) matrix."""
    fan_out, fan_in = shape
    if name == "normal":
        return rng.normal(0.0, scale, shape)
    if name == "uniform":
        return rng.uniform(-scale, scale, shape)
    if name == "glorot_normal":
        return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), shape)
    if name == "glorot_uniform":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, shape)
    if name == "he_normal":
        return rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
    if name == "he_uniform":
        return rng.uniform(-np.sqrt(6.0 / fan_in), np.sqrt(6.0 / fan_in), shape)
    if name == "lecun_uniform":
        return rng.uniform(-np.sqrt(3.0 / fan_in), np.sqrt(3.0 / fan_in), shape)
    if name == "orthogonal":
        u, _, vt = np.linalg.svd(rng.normal(0.0, 1.0, shape), full_matrices=False)
        return scale * (u if u.shape == shape else vt)
    return np.zeros(shape)


def orthogonalized(xp, weights):
    """Symmetric orthogonalisation: U V^T from the thin SVD, so that W W^T = I (K <= d)."""
    u, _, vt = xp.linalg.svd(weights, full_matrices=False)
    return u @ vt


STABLE_CHANGE = 0.01  # a unit whose weights moved less than 1 % over an epoch is stable


@dataclass
class MinibatchState:
    weights: Any = array()  # W (K x d)
    epoch_theta: Any = array(learned=False)  # theta summed over this epoch's batches
    epoch_start: Any = array(learned=False)  # W at the epoch's start (the stable units)
    counters: Any = host_array("int64", learned=False)  # [batches this epoch, epochs done]
    stable_units: Any = number()
    history: Any = rows()  # the mean theta of the last epochs (the convergence test)
    optimizer: Any = part()  # its buffers, rate and iteration count


class MinibatchRule(FeatureLearner):
    """The shared loop; a rule implements `respond(X)` and `update(X) -> (dW, theta, rows)`:
    rows None when dW is the whole K x d matrix, else the units (ascending) of dW's rows."""

    State = MinibatchState
    metric_names = ("stable_units",)
    figure_names = ()

    def __init__(self, cfg, backend, n_inputs, rng):
        super().__init__(cfg, backend, n_inputs, rng)
        shape = (cfg.n_units, n_inputs)
        self.weights = backend.asarray(initial_weights(cfg.init, cfg.init_scale, shape, rng))
        self.optimizer = Optimizer(cfg.optimizer, self.xp, shape, backend.dtype)
        self.history = deque(maxlen=cfg.epochs_for_convergence or 1)
        self.epoch_theta = self.xp.zeros(cfg.n_units, dtype=backend.dtype)
        self.counters = np.zeros(2, dtype=np.int64)  # [batches this epoch, epochs done]
        self.epoch_start = self.weights.copy()  # for the share of stable units
        self.stable_units = 0.0

    @property
    def samples_per_update(self) -> int:
        return self.cfg.batch_size

    @classmethod
    def state_bytes(cls, cfg, n_inputs, itemsize):
        # weights, the epoch's start, up to two optimizer buffers, and a batch of responses
        return (4 * cfg.n_units * n_inputs + 2 * cfg.n_units * cfg.batch_size) * itemsize

    @classmethod
    def check(cls, cfg, data=None) -> None:
        if data is not None and cfg.batch_size > data.n_train:
            raise UserError(
                f"model.batch_size={cfg.batch_size} is not allowed: the "
                f"dataset has {data.n_train} training samples"
            )

    def learn(self, block):
        for start in range(0, len(block) - self.cfg.batch_size + 1, self.cfg.batch_size):
            batch = block[start : start + self.cfg.batch_size]
            update, theta, rows = self.update(batch)
            if rows is not None and (self.cfg.weight_decay or not self.optimizer.steps_rows):
                update, rows = self._whole(update, rows), None
            if self.cfg.weight_decay:
                update -= self.cfg.weight_decay * self.weights
            # ascended: the optimizer descends -dW
            self.optimizer.step(self.weights, -update, rows)
            self.epoch_theta += theta
            self.counters[0] += 1

    def _whole(self, update, rows):
        """The K x d update of which `update` holds the rows `rows` (the rest 0)."""
        whole = self.xp.zeros_like(self.weights)
        whole[rows] = update
        return whole

    def end_epoch(self) -> str | None:
        """After each epoch: record theta, stop once converged (why), else orthogonalise."""
        batches = int(self.counters[0])
        self.history.append(self.backend.to_host(self.epoch_theta / max(batches, 1)))
        self.epoch_theta[:] = 0.0
        self.counters[0] = 0  # batches this epoch
        self.counters[1] += 1  # epochs done
        epochs_done = int(self.counters[1])
        self.optimizer.end_epoch(epochs_done)
        xp = self.xp
        moved = xp.linalg.norm(self.weights - self.epoch_start, axis=1)
        size = xp.maximum(xp.linalg.norm(self.epoch_start, axis=1), self.cfg.precision)
        self.stable_units = float((moved / size < STABLE_CHANGE).mean())
        if self.cfg.epochs_for_convergence and len(self.history) == self.history.maxlen:
            last = self.history[-1]
            if all(np.allclose(h, last, atol=self.cfg.convergence_atol) for h in self.history):
                return (
                    f"converged after {epochs_done} epochs (theta stable for "
                    f"{self.cfg.epochs_for_convergence})"
                )
        if self.cfg.orthogonalize:
            self.weights = orthogonalized(self.xp, self.weights)
        self.epoch_start = self.weights.copy()
        return None

    def metrics(self):
        return {"stable_units": self.stable_units}

    def receptive_fields(self):
        return self.backend.to_host(self.weights)

    def encode(self, x):
        out = []
        for start in range(0, len(x), 1000):  # in chunks: K x B currents stay small
            out.append(
                self.backend.to_host(self.respond(self.backend.asarray(x[start : start + 1000])))
            )
        return np.concatenate(out)
