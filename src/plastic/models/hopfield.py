"""Krotov-Hopfield competing hidden units ("Unsupervised learning by competing hidden units",
PNAS 2019), in minibatches as the `plasticity` library has it.

For a minibatch X (B x d) and weights W (K x d):

    I  = (sign(W) |W|^(p-1)) X^T             currents, K x B (p = 2: plain W X^T)
    G  = per sample: +1 for the unit with the largest current, -delta for the k-th largest
    dW = G X - diag(sum_b G * I) W           Hebbian for the winner, anti-Hebbian for the k-th
    dW = dW / max|dW|                        (precision guards a zero update)

The weight vectors converge to unit p-norm. The encoding is the currents (the library's
`transform`) or, as Krotov's hidden layer has it, the rectified currents max(I, 0)^n.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from plastic.config import setting
from plastic.errors import UserError
from plastic.models._minibatch import MinibatchConfig, MinibatchRule


@dataclass
class Config(MinibatchConfig):
    p: float = setting(2.0, ge=1, help="the Lebesgue norm the weights converge to")
    k: int = setting(2, ge=1, help="the k-th strongest unit is pushed away")
    delta: float = setting(0.4, ge=0, help="strength of the anti-Hebbian push")
    response: str = setting(
        "currents",
        choices=("currents", "rectified"),
        help="encode: the currents I (the library's), or max(I, 0)^n",
    )
    response_power: float = setting(1.0, gt=0, help="n of the rectified response (Krotov's n)")


class KrotovHopfield(MinibatchRule):
    """Krotov-Hopfield competing hidden units (winner Hebbian, k-th anti-Hebbian)."""

    Config = Config
    metric_names = ("pnorm_mean", "pnorm_std", "silent_units", *MinibatchRule.metric_names)

    @classmethod
    def check(cls, cfg, data=None) -> None:
        super().check(cfg, data)
        if cfg.k > cfg.n_units:
            raise UserError(
                f"model.k={cfg.k} is not allowed: must be <= model.n_units ({cfg.n_units})"
            )

    def __init__(self, cfg, backend, n_inputs, rng):
        super().__init__(cfg, backend, n_inputs, rng)
        self.wins = self.xp.zeros(cfg.n_units, dtype=self.xp.int64)  # this epoch
        self.last_wins = self.xp.ones(cfg.n_units, dtype=self.xp.int64)  # the last full epoch

    def powered(self, weights):
        """sign(W) |W|^(p-1): the weights as the currents see them."""
        p = self.cfg.p
        if p == 2:
            return weights
        return (
            weights * self.xp.abs(weights)
            if p == 3
            else self.xp.sign(weights) * self.xp.abs(weights) ** (p - 1)
        )

    def respond(self, x):
        """The encoding (B x K): the currents I^T, or Krotov's hidden activity max(I, 0)^n."""
        currents = x @ self.powered(self.weights).T
        if self.cfg.response == "currents":
            return currents
        return self.xp.maximum(currents, 0.0) ** self.cfg.response_power

    def update(self, x):
        xp, n_units, batch = self.xp, self.cfg.n_units, len(x)
        currents = self.powered(self.weights) @ x.T  # K x B
        winner, kth = self._ranked(currents)
        samples = xp.arange(batch)
        self.wins += xp.bincount(winner, minlength=n_units)
        # theta_j = sum_b G_jb I_jb, and G X: G has two entries per sample (column), so G X
        # is two scatter-adds of the samples' rows, not a K x B x d product
        k_is_1 = self.cfg.k == 1  # as the library: with k = 1, -delta overrides the winner's +1
        theta = xp.zeros(n_units, dtype=currents.dtype)
        if not k_is_1:
            theta += xp.bincount(winner, weights=currents[winner, samples], minlength=n_units)
        theta -= self.cfg.delta * xp.bincount(
            kth, weights=currents[kth, samples], minlength=n_units
        )
        update = -theta[:, None] * self.weights
        if self.backend.on_device:  # on the GPU one dense product beats atomics
            drive = xp.zeros_like(currents)
            drive[winner, samples] = 0.0 if k_is_1 else 1.0
            drive[kth, samples] = -self.cfg.delta
            update += drive @ x
        else:  # a sparse K x B matrix with 2 entries per column: O(B d) work
            from scipy.sparse import csr_matrix

            rows = kth if k_is_1 else np.concatenate([winner, kth])
            values = np.full(len(rows), -self.cfg.delta)
            values[: 0 if k_is_1 else batch] = 1.0
            columns = np.tile(samples, len(rows) // batch)
            update += csr_matrix((values, (rows, columns)), shape=(n_units, batch)) @ x
        update /= max(float(xp.abs(update).max()), self.cfg.precision)
        return update, theta

    def _ranked(self, currents):
        """Row of the largest and of the k-th largest current, per sample (column)."""
        n, k = self.cfg.n_units, self.cfg.k
        if self.backend.on_device:
            order = self.xp.argsort(currents, axis=0)
            return order[-1], order[-k]
        # a partial sort (O(K) per sample) puts exactly those two ranks in place
        order = self.xp.argpartition(currents, sorted({n - k, n - 1}), axis=0)
        return order[n - 1], order[n - k]

    def end_epoch(self):
        self.last_wins, self.wins = self.wins, self.xp.zeros_like(self.wins)
        return super().end_epoch()

    def metrics(self):
        norms = (self.xp.abs(self.weights) ** self.cfg.p).sum(axis=1) ** (1.0 / self.cfg.p)
        return {
            "pnorm_mean": float(norms.mean()),
            "pnorm_std": float(norms.std()),
            "silent_units": float((self.last_wins == 0).sum()),
            **super().metrics(),
        }

    def state_dict(self):
        to_host = self.backend.to_host
        return {
            **super().state_dict(),
            "wins": to_host(self.wins),
            "last_wins": to_host(self.last_wins),
        }

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.wins = self.backend.asarray(state["wins"], dtype=self.xp.int64)
        self.last_wins = self.backend.asarray(state["last_wins"], dtype=self.xp.int64)
