"""Krotov-Hopfield competing hidden units ("Unsupervised learning by competing hidden units",
PNAS 2019), in minibatches as the `plasticity` library has it.

For a minibatch X (B x d) and weights W (K x d):

    I  = (sign(W) |W|^(p-1)) X^T             currents, K x B (p = 2: plain W X^T)
    G  = per sample: +1 for the unit with the largest current, -delta for the k-th largest
    dW = G X - diag(sum_b G * I) W           Hebbian for the winner, anti-Hebbian for the k-th
    dW = dW / max|dW|                        (precision guards a zero update)

Only the units that won or came k-th in the batch have a non-zero row of dW, so only those
rows are built and stepped (at most 2B of the K): the same update at a fraction of the work.

The weight vectors converge to unit p-norm. The encoding is the currents (the library's
`transform`), the rectified currents max(I, 0)^n, or the paper's readout (`cosine`):

    h  = max(W_hat x_hat, 0)^n               rows of W and the input scaled to unit length

so that each current is a cosine in [-1, 1], as Krotov prescribes for the classifier (n 4.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from plastic.config import setting
from plastic.errors import UserError
from plastic.models._minibatch import MinibatchConfig, MinibatchRule, MinibatchState
from plastic.rule import Analysis
from plastic.state import array
from plastic.views import Mosaic


@dataclass
class Config(MinibatchConfig):
    p: float = setting(2.0, ge=1, help="the Lebesgue norm the weights converge to")
    k: int = setting(2, ge=1, help="the k-th strongest unit is pushed away")
    delta: float = setting(0.4, ge=0, help="strength of the anti-Hebbian push")
    response: str = setting(
        "currents",
        choices=("currents", "rectified", "cosine"),
        help="encode: the currents I (the library's), max(I, 0)^n, or the paper's readout "
        "max(cos(W, x), 0)^n",
    )
    response_power: float = setting(1.0, gt=0, help="n of the rectified response (Krotov's n)")


@dataclass
class State(MinibatchState):
    wins: Any = array("int64", learned=False)  # each unit's wins this epoch
    last_wins: Any = array("int64", learned=False)  # and in the last full epoch


class KrotovHopfield(MinibatchRule):
    """Krotov-Hopfield competing hidden units (winner Hebbian, k-th anti-Hebbian)."""

    Config = Config
    State = State
    # one pass a sample with a sorted list of the k best, where argsort sorts the whole row
    kernels = {"ranked": {"cpu": "plastic.kernels.hopfield_cpu:ranked"}}
    metric_names = ("pnorm_mean", "pnorm_std", "silent_units", *MinibatchRule.metric_names)
    metric_goals = {"silent_units": "min"}

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
        """The encoding (B x K): the currents I^T, max(I, 0)^n, or the paper's readout
        max(cos(W, x), 0)^n (`response`)."""
        xp = self.xp
        if self.cfg.response == "cosine":
            unit = self.weights / xp.maximum(xp.linalg.norm(self.weights, axis=1), 1e-30)[:, None]
            length = xp.maximum(xp.linalg.norm(x, axis=1), 1e-30)[:, None]
            return xp.maximum((x / length) @ unit.T, 0.0) ** self.cfg.response_power
        currents = x @ self.powered(self.weights).T
        if self.cfg.response == "currents":
            return currents
        return xp.maximum(currents, 0.0) ** self.cfg.response_power

    def update(self, x):
        """dW for the units this batch touched (each sample's winner and k-th): the rest have
        G = 0 and theta = 0, so their dW is exactly 0 and is neither built nor applied."""
        xp, cfg, batch = self.xp, self.cfg, len(x)
        currents = x @ self.powered(self.weights).T  # B x K: a sample's currents are a row
        winner, kth = self.ranked(currents)
        samples = xp.arange(batch)
        self.wins += xp.bincount(winner, minlength=cfg.n_units)
        rows = xp.unique(xp.concatenate([winner, kth]))
        at_winner, at_kth = xp.searchsorted(rows, winner), xp.searchsorted(rows, kth)
        # G restricted to those rows (R x B, two entries a column); as the library, with k = 1
        # the -delta of the k-th overrides the winner's +1
        drive = xp.zeros((len(rows), batch), dtype=currents.dtype)
        drive[at_winner, samples] = 1.0
        drive[at_kth, samples] = -cfg.delta
        # theta_j = sum_b G_jb I_jb
        theta_rows = xp.zeros(len(rows), dtype=currents.dtype)
        if cfg.k != 1:
            theta_rows += xp.bincount(
                at_winner, weights=currents[samples, winner], minlength=len(rows)
            )
        theta_rows -= cfg.delta * xp.bincount(
            at_kth, weights=currents[samples, kth], minlength=len(rows)
        )
        update = drive @ x - theta_rows[:, None] * self.weights[rows]
        update /= max(float(xp.abs(update).max()), cfg.precision)
        theta = xp.zeros(cfg.n_units, dtype=currents.dtype)
        theta[rows] = theta_rows
        return update, theta, rows

    def ranked(self, currents):
        """Column of the largest and of the k-th largest current, per sample (row); of equal
        currents (a blank input) the later column ranks higher."""
        order = self.xp.argsort(currents, axis=1, kind="stable")
        return order[:, -1], order[:, -self.cfg.k]

    def end_epoch(self):
        self.last_wins, self.wins = self.wins, self.xp.zeros_like(self.wins)
        return super().end_epoch()

    def analyse(self, dataset):
        """The first 100 fields as the paper draws them: 10 x 10, one colour scale for all."""
        fields = self.receptive_fields()[:100]
        grid = (10, 10) if len(fields) == 100 else None
        title = "the first 100 units' weights, on one scale (blue < 0 < red)"
        mosaic = Mosaic("fields_paper", fields, dataset.image_shape, title, grid, True)
        return Analysis(views=[mosaic])

    def metrics(self):
        norms = (self.xp.abs(self.weights) ** self.cfg.p).sum(axis=1) ** (1.0 / self.cfg.p)
        return {
            "pnorm_mean": float(norms.mean()),
            "pnorm_std": float(norms.std()),
            "silent_units": float((self.last_wins == 0).sum()),
            **super().metrics(),
        }
