"""Topographic multi-winner-take-all: a sheet of N = kx * ky units learns non-negative
prototypes W (N x m) of its inputs by reconstruction; lateral excitation on the grid makes
neighbours win together, so neighbouring prototypes become alike (a topographic map).

One online step, input v (length m):

    p = W v                                   drive of every unit
    c = p + L p                               competition: drive plus lateral excitation
    winners = the n_w units with largest c
    o = p (or c) on the winners, 0 elsewhere  [EMA: o <- o + (o_new - o) alpha, across steps]
    r = W^T o                                 reconstruction
    e = clip(v - r, -1, 1)                    clipped reconstruction error (clip optional)
    W_ij <- W_ij + xi W_ij o_i e_j / max(r_j, eps)       [then W clipped to [0, 1], optional]

L is a box of radius `radius` on the grid with value `strength` and a zero diagonal; rows
divided by their L2 norm when `normalized`. `boundary`: `reference` keeps the notebook's box,
which drops the grid's last row and column from every neighbourhood; `clip` is the correct box;
`wrap` a torus. L is never built as an N x N matrix: each unit's box is a list of its
neighbours (`_box`), so L p costs O(N (2 radius + 1)^2).

`learn_steps` is the reference: these steps one at a time in the array namespace. Its kernels
(plastic.kernels): on the CPU one compiled loop over the whole block (L p a separable box sum,
the winners a partial selection, only the rows with o_i != 0 updated, and without EMA the
drives of the next 50 steps from one matrix product); on the GPU one cooperative launch a
block. Both equal the reference to rounding (the sums run in another order), with the same
winners.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from plastic.config import setting
from plastic.errors import UserError
from plastic.kernels.topo_wta_cpu import run_steps
from plastic.models._topo_box import MAX_WINNERS_ON_GPU, box_range, box_scale
from plastic.rule import Analysis, FeatureLearner, Layout
from plastic.state import array
from plastic.views import Mosaic, Movie

BOUNDARIES = ("reference", "clip", "wrap")


@dataclass
class Config:
    kx: int = setting(20, gt=0, help="grid width")
    ky: int = setting(20, gt=0, help="grid height")
    n_winners: int = setting(5, gt=0)
    learning_rate: float = setting(0.03, gt=0, help="xi")
    radius: int = setting(2, ge=0, help="half-width of the box of lateral excitation")
    strength: float = setting(0.1, ge=0, help="lateral excitation (0: no topography)")
    boundary: str = setting("reference", choices=BOUNDARIES)
    normalized: bool = False
    output: str = setting(
        "drive",
        choices=("drive", "competition"),
        help="what a winner outputs: its drive p or its competition value c",
    )
    clip_error: bool = True
    clip_weights: bool = False
    ema_rate: float | None = setting(None, gt=0, le=1, help="EMA output rate alpha (off: null)")
    epsilon: float = setting(1e-10, gt=0)
    init_low: float = setting(0.15, ge=0)
    init_high: float = setting(0.16, gt=0)


@dataclass
class State:
    weights: Any = array()  # W (N x m)
    ema_output: Any = array()  # o, carried across steps with EMA
    wins: Any = array()  # how often each unit won


class TopoWTA(FeatureLearner):
    """Topographic multi-winner-take-all map (reconstruction learning, lateral excitation)."""

    Config = Config
    State = State
    # a block in one compiled loop (the CPU) or one cooperative launch (the GPU); a step as
    # array operations is a dozen small operations, each costing more than its work
    kernels = {
        "learn_steps": {
            "cpu": "plastic.kernels.topo_wta_cpu:learn_steps",
            "gpu": "plastic.kernels.topo_wta_cuda:learn_steps",
        }
    }
    kernel_tolerance = 1e-9  # the compiled loops sum in another order
    # the drives of AHEAD steps come from one matrix product, from the start of each block:
    # a block learned in two parts has the same winners, its weights within rounding
    splits_exactly = False
    metric_names = ("units_used", "win_entropy")
    figure_names = (
        "reconstruction_mse",
        "units_used",
        "win_entropy",
        "topographic_error",
        "cowinner_distance",
    )
    # a map is better the closer its co-winners and the better it reconstructs its inputs
    metric_goals = {
        "reconstruction_mse": "min",
        "topographic_error": "min",
        "cowinner_distance": "min",
    }

    @classmethod
    def check(cls, cfg, data=None) -> None:
        n = cfg.kx * cfg.ky
        if cfg.n_winners > n:
            raise UserError(
                f"model.n_winners={cfg.n_winners} is not allowed: must be <= kx * ky ({n})"
            )
        if cfg.boundary == "wrap" and 2 * cfg.radius + 1 > min(cfg.kx, cfg.ky):
            raise UserError(
                f"model.radius={cfg.radius} is not allowed with boundary=wrap: the box "
                f"(2 radius + 1) must fit in the grid ({min(cfg.kx, cfg.ky)})"
            )
        if cfg.init_high <= cfg.init_low:
            raise UserError(
                f"model.init_high={cfg.init_high} is not allowed: must be > model.init_low"
            )

    @classmethod
    def state_bytes(cls, cfg, n_inputs, itemsize):
        return cfg.kx * cfg.ky * (n_inputs + 2) * itemsize  # W, EMA output, win counts

    def __init__(self, cfg, backend, n_inputs, rng):
        super().__init__(cfg, backend, n_inputs, rng)
        self.check(self.cfg)
        if backend.name == "gpu" and cfg.n_winners > MAX_WINNERS_ON_GPU:
            raise UserError(
                f"model.n_winners={cfg.n_winners} is not allowed with device=gpu: the fused "
                f"kernel keeps at most {MAX_WINNERS_ON_GPU} winners (use device=cpu for more)"
            )
        n = cfg.kx * cfg.ky
        self.weights = backend.asarray(rng.uniform(cfg.init_low, cfg.init_high, (n, n_inputs)))
        self.ema_output = backend.xp.zeros(n, dtype=backend.dtype)
        self.wins = backend.xp.zeros(n, dtype=backend.dtype)
        self._neighbours = None  # the box of L, built at the first block (learn_steps)

    # ------------------------------------------------------------------ the runner's face
    def learn(self, block):
        self.learn_steps(block)

    def learn_steps(self, block):
        """The reference: the steps of the module docstring over the rows of `block`, one at a
        time, as the equations read, in the array namespace; updates the state in place."""
        cfg, xp = self.cfg, self.xp
        weights, ema, wins = self.weights, self.ema_output, self.wins
        neighbours, scale, inside = self._box()
        drive = xp.zeros(len(wins) + 1, dtype=weights.dtype)  # the last entry: the box's padding
        for v in block:
            drive[:-1] = weights @ v
            p = drive[:-1]
            c = p + scale * (drive[neighbours].sum(axis=1) - inside * p)  # p + L p
            winners = xp.argsort(-c, kind="stable")[: cfg.n_winners]  # ties: the lower index
            o = xp.zeros_like(p)
            o[winners] = (c if cfg.output == "competition" else p)[winners]
            wins[winners] += 1.0
            if cfg.ema_rate:
                ema += (o - ema) * cfg.ema_rate
                o = ema
            r = o @ weights  # W^T o
            e = xp.clip(v - r, -1.0, 1.0) if cfg.clip_error else v - r
            rows = xp.nonzero(o)[0]  # only the rows with an output change
            changed = weights[rows]
            changed = (
                changed
                + cfg.learning_rate
                * changed
                * (o[rows, None] * e[None, :])
                / (xp.maximum(r, cfg.epsilon)[None, :])
            )
            weights[rows] = xp.clip(changed, 0.0, 1.0) if cfg.clip_weights else changed

    def _box(self):
        """L as each unit's box: the indices of its neighbours (padded with n, the index of a
        zero), the value of L in its row, and whether the box holds the unit itself (its own
        term is taken out); built once, on the device."""
        if self._neighbours is None:
            cfg, n = self.cfg, self.cfg.kx * self.cfg.ky
            boundary = BOUNDARIES.index(cfg.boundary)
            rows, scales, inside = [], np.zeros(n), np.zeros(n)
            for y in range(cfg.ky):
                y0, y1 = box_range(y, cfg.ky, cfg.radius, boundary)
                for x in range(cfg.kx):
                    x0, x1 = box_range(x, cfg.kx, cfg.radius, boundary)
                    i = y * cfg.kx + x
                    inside[i] = y0 <= y < y1 and x0 <= x < x1
                    scales[i] = box_scale(
                        cfg.strength, cfg.normalized, y0, y1, x0, x1, bool(inside[i])
                    )
                    rows.append(
                        [
                            (yy % cfg.ky) * cfg.kx + xx % cfg.kx
                            for yy in range(y0, y1)
                            for xx in range(x0, x1)
                        ]
                    )
            width = max(len(row) for row in rows)
            padded = np.full((n, width), n, dtype=np.int64)
            for i, row in enumerate(rows):
                padded[i, : len(row)] = row
            asarray = self.backend.asarray
            self._neighbours = (self.xp.asarray(padded), asarray(scales), asarray(inside))
        return self._neighbours

    def layout(self, image_shape):
        return Layout(tuple(image_shape), grid=(self.cfg.ky, self.cfg.kx))  # the sheet

    def run(self, inputs, learn, record=False):
        """Steps over the rows of `inputs` on the host (the compiled loop); with record, returns
        per step the reconstruction, the output sheet, the winners and the two best units by
        drive. Without learning (evaluation, pictures) the steps start from a zero EMA output,
        carry it across the inputs, and leave the model's state as it was."""
        n = self.cfg.kx * self.cfg.ky
        if learn:  # device=cpu: the model's own arrays, changed in place
            weights, ema, wins = self.weights, self.ema_output, self.wins
        else:  # host copies (on a device too): what a look at the map must not change
            weights = np.ascontiguousarray(self.backend.to_host(self.weights))
            ema, wins = np.zeros(n, dtype=weights.dtype), np.zeros(n)
        return self._steps(weights, ema, wins, self.backend.to_host(inputs), learn, record)

    def _steps(self, weights, ema, wins, inputs, learn, record=False):
        """run_steps on host arrays, in place; returns its records (empty without record)."""
        records = self.records(len(inputs) if record else 0)
        run_steps(
            weights,
            np.ascontiguousarray(inputs, dtype=weights.dtype),
            ema,
            wins,
            *self.step_settings,
            learn,
            self.cfg.n_winners,
            record,
            *records,
        )
        return records

    def records(self, length):
        """run_steps' per-step records (reconstruction, output sheet, winners, best two),
        `length` steps long (0: not recorded)."""
        n, k = self.cfg.kx * self.cfg.ky, self.cfg.n_winners
        return (
            np.zeros((length, self.n_inputs)),
            np.zeros((length, n)),
            np.zeros((length, k), dtype=np.int64),
            np.zeros((length, 2), dtype=np.int64),
        )

    @property
    def step_settings(self):
        """The settings of the step, in the order both compiled loops take them (the CPU's and
        the GPU's): the grid and its box, the output and clip flags, alpha, eps, xi."""
        cfg = self.cfg
        return (
            cfg.kx,
            cfg.ky,
            cfg.radius,
            float(cfg.strength),
            BOUNDARIES.index(cfg.boundary),
            bool(cfg.normalized),
            cfg.output == "competition",
            bool(cfg.clip_error),
            bool(cfg.clip_weights),
            float(cfg.ema_rate or 0.0),
            float(cfg.epsilon),
            float(cfg.learning_rate),
        )

    def encode(self, x):
        """The output sheet for each input (the winner rule, no learning, EMA from zero)."""
        return self.run(x, learn=False, record=True)[1]

    def receptive_fields(self):
        return self.backend.to_host(self.weights)

    def metrics(self):
        return usage(self.backend.to_host(self.wins))

    def analyse(self, dataset) -> Analysis:
        """Held-out figures (reconstruction error, unit usage, topography), the activity movie
        (input | output sheet | reconstruction) over the first 300 held-out frames, and 10
        held-out inputs over their reconstructions. One replay of the held-out frames serves
        all three: it starts from a zero EMA output and carries it on, as the movie needs."""
        if dataset.test is None:
            return Analysis()
        x = np.asarray(dataset.test, dtype=self.backend.dtype)
        recon, outputs, winners, best_two = self.run(x, learn=False, record=True)
        held_out = usage(np.bincount(winners.ravel(), minlength=self.cfg.kx * self.cfg.ky))
        figures = {
            "reconstruction_mse": float(((recon - x) ** 2).mean()),
            "units_used": held_out["units_used"],
            "win_entropy": held_out["win_entropy"],
            "topographic_error": float(
                np.mean(self.grid_distance(best_two[:, 0], best_two[:, 1]) > 1)
            ),
            "cowinner_distance": cowinner_distance(winners, self.grid_distance),
        }
        h, w = dataset.image_shape
        sheet = (self.cfg.ky, self.cfg.kx)
        movie = Movie(
            "activity",
            [
                [x[t].reshape(h, w), outputs[t].reshape(sheet), recon[t].reshape(h, w)]
                for t in range(min(300, len(x)))
            ],
            height=max(120, 4 * max(h, self.cfg.ky)),
            speed=2.0,
        )
        pairs = Mosaic(
            "reconstructions",
            np.concatenate([x[:10], recon[:10]]),
            (h, w),
            "held-out inputs (top) and their reconstructions (bottom)",
            (2, min(10, len(x))),
        )
        return Analysis(figures, [movie, pairs])

    def grid_distance(self, a, b):
        """Chebyshev distance on the grid (on the torus with boundary=wrap)."""
        kx, ky = self.cfg.kx, self.cfg.ky
        dx, dy = np.abs(a % kx - b % kx), np.abs(a // kx - b // kx)
        if self.cfg.boundary == "wrap":
            dx, dy = np.minimum(dx, kx - dx), np.minimum(dy, ky - dy)
        return np.maximum(dx, dy)


def usage(wins: np.ndarray) -> dict[str, float]:
    """Units that ever won, and the entropy (bits) of the win histogram."""
    total = wins.sum()
    if total == 0:
        return {"units_used": 0.0, "win_entropy": 0.0}
    share = wins[wins > 0] / total
    return {
        "units_used": float((wins > 0).sum()),
        "win_entropy": float(-(share * np.log2(share)).sum()),
    }


def cowinner_distance(winners: np.ndarray, distance) -> float:
    """Mean grid distance between the winners of the same input, over all pairs."""
    n_w = winners.shape[1]
    pairs = [(i, j) for i in range(n_w) for j in range(i + 1, n_w)]
    if not pairs:
        return 0.0
    return float(np.mean([distance(winners[:, i], winners[:, j]).mean() for i, j in pairs]))
