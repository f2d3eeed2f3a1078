"""BCM (Bienenstock-Cooper-Munro) plasticity in minibatches, as the `plasticity` library has it.

For a minibatch X (B x d), weights W (K x d) and lateral interaction strength s:

    Y     = f(M W X^T)                       K x B; M = inverse of (1 on the diagonal, -s off it)
    th_b  = mean over the batch of Y^2       per unit: the sliding threshold
    phi   = Y * (Y - th_b) / (th_b + precision)
    dW    = phi X / B                        ascended through the optimizer
    theta = memory theta + (1 - memory) th_b     (reported; the convergence figure)

Negative s is lateral inhibition (more diverse fields, less stable); s = 0 gives M = I.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from plastic.activations import ACTIVATIONS
from plastic.activations import NAMES as ACTIVATION_NAMES
from plastic.config import setting
from plastic.errors import UserError
from plastic.models._minibatch import MinibatchConfig, MinibatchRule, MinibatchState
from plastic.state import array


@dataclass
class Config(MinibatchConfig):
    activation: str = setting("logistic", choices=ACTIVATION_NAMES)
    interaction_strength: float = setting(0.0, help="s: < 0 inhibits, > 0 excites")
    memory_factor: float = setting(0.5, ge=0, le=1, help="running threshold's memory")


@dataclass
class State(MinibatchState):
    theta: Any = array()  # the sliding threshold


class BCM(MinibatchRule):
    """BCM rule with a sliding threshold and lateral interaction (minibatch, any optimizer)."""

    Config = Config
    State = State
    metric_names = ("theta_mean", *MinibatchRule.metric_names)

    def __init__(self, cfg, backend, n_inputs, rng):
        super().__init__(cfg, backend, n_inputs, rng)
        self.interaction = backend.asarray(
            interaction_matrix(cfg.interaction_strength, cfg.n_units)
        )
        self.activation = ACTIVATIONS[cfg.activation]
        self.theta = self.xp.zeros(cfg.n_units, dtype=backend.dtype)

    @classmethod
    def check(cls, cfg, data=None) -> None:
        super().check(cfg, data)
        check_interaction(cfg.interaction_strength, cfg.n_units)

    def respond(self, x):
        """Y^T = f(M W X^T)^T: (B x K). With s = 0, M = I is skipped (exactly the same)."""
        weights = (
            self.weights if self.cfg.interaction_strength == 0 else self.interaction @ self.weights
        )
        return self.activation(self.xp, x @ weights.T)

    def update(self, x):
        y = self.respond(x).T  # K x B
        theta_batch = (y**2).mean(axis=1)
        self.theta = (
            self.cfg.memory_factor * self.theta + (1 - self.cfg.memory_factor) * theta_batch
        )
        phi = y * (y - theta_batch[:, None]) / (theta_batch[:, None] + self.cfg.precision)
        return phi @ x / len(x), self.theta, None  # every unit's row

    def metrics(self):
        return {"theta_mean": float(self.theta.mean()), **super().metrics()}


def check_interaction(strength: float, n_units: int) -> None:
    """Refuse a singular L (1 on the diagonal, -s off it) without building it: its eigenvalues
    are 1 + s (n - 1 times) and 1 - s (n - 1)."""
    smallest = min(abs(1.0 + strength), abs(1.0 - strength * (n_units - 1)))
    if strength != 0.0 and smallest < 1e-9:
        singular = 1.0 / (n_units - 1) if n_units > 1 else float("nan")
        raise UserError(
            f"model.interaction_strength={strength} is not allowed: the interaction "
            f"matrix is singular (for {n_units} units avoid -1 and {singular:.4g})"
        )


def interaction_matrix(strength: float, n_units: int) -> np.ndarray:
    """M = L^-1 with L = 1 on the diagonal and -strength elsewhere (the identity for 0)."""
    if strength == 0.0:
        return np.eye(n_units)
    check_interaction(strength, n_units)
    lateral = np.full((n_units, n_units), -strength)
    np.fill_diagonal(lateral, 1.0)
    return np.linalg.inv(lateral)
