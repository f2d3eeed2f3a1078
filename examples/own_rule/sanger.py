"""Sanger's generalized Hebbian algorithm (Sanger 1989): a rule that plastic does not ship,
written as any user would write one. Its k units learn the leading k principal components
of their inputs, in order.

For a minibatch X (B x d) of inputs centred by their running mean, weights W (k x d):

    Y  = X W^T                                    responses (B x k)
    dW = lr / B (Y^T X - LT(Y^T Y) W)             LT: the lower triangle, diagonal included

Unit i learns Oja's rule on the input left once units 1..i-1 have explained theirs, so the
rows of W converge to the unit-length eigenvectors of the input covariance, largest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from plastic.config import setting
from plastic.rule import Analysis, FeatureLearner
from plastic.state import array, number


@dataclass
class SangerConfig:
    n_components: int = setting(8, gt=0, help="k, the principal components to learn")
    learning_rate: float = setting(0.05, gt=0, help="lr")
    batch_size: int = setting(10, gt=0, help="samples per update")
    init_scale: float = setting(0.1, gt=0, help="W ~ N(0, init_scale^2)")
    center: bool = True  # subtract the running mean of the inputs (PCA's centring)


@dataclass
class SangerState:
    weights: Any = array()  # W (k x d)
    mean: Any = array()  # the running mean of the inputs
    seen: Any = number()  # samples in the running mean


class Sanger(FeatureLearner):
    """Sanger's generalized Hebbian algorithm: the leading principal components, in order."""

    Config = SangerConfig
    State = SangerState
    metric_names = ("orthonormality_error",)
    figure_names = ("orthonormality_error",)

    def __init__(self, cfg, backend, n_inputs, rng):
        super().__init__(cfg, backend, n_inputs, rng)
        # drawn on the host, so that every device starts from the same weights
        shape = (self.cfg.n_components, n_inputs)
        self.weights = backend.asarray(rng.normal(0.0, self.cfg.init_scale, shape))
        self.mean = backend.xp.zeros(n_inputs, dtype=backend.dtype)
        self.seen = 0  # samples in the running mean

    @property
    def samples_per_update(self) -> int:
        return self.cfg.batch_size

    def learn(self, block):
        xp, cfg = self.xp, self.cfg
        for start in range(0, len(block) - cfg.batch_size + 1, cfg.batch_size):
            x = block[start : start + cfg.batch_size]
            if cfg.center:
                self.seen += len(x)
                self.mean += (x.mean(axis=0) - self.mean) * (len(x) / self.seen)
                x = x - self.mean
            y = x @ self.weights.T
            self.weights += cfg.learning_rate / len(x) * (y.T @ x - xp.tril(y.T @ y) @ self.weights)

    def encode(self, x):
        x = self.backend.asarray(x)
        return self.backend.to_host((x - self.mean) @ self.weights.T)

    def receptive_fields(self):
        return self.backend.to_host(self.weights)

    def metrics(self):
        w = self.backend.to_host(self.weights)
        return {"orthonormality_error": float(np.abs(w @ w.T - np.eye(len(w))).max())}

    def analyse(self, dataset):
        return Analysis(figures=self.metrics())
