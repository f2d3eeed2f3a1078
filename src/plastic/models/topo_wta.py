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
`wrap` a torus. L is never built: L p is a separable box sum over the grid (O(N)), the winners
a partial selection (O(N n_w)), and only the rows with o_i != 0 change, so a step costs one
matrix-vector product plus O(N + n_w m), in one compiled loop over the whole block. Without
EMA those rows are the n_w winners', so the drives W v of the block's next AHEAD steps come
from one matrix product (W read once for all of them: at N = 2,500 its 8 MB of float64 no
longer stream from memory at every step), and after each update only the winners' drives for
the rest of those steps are computed again. The same sums grouped by BLAS another way: the
weights agree with the step-by-step loop to rounding (1e-16), not bit for bit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numba
import numpy as np

from plastic.config import setting
from plastic.errors import UserError
from plastic.models._topo_box import MAX_WINNERS_ON_GPU, box_range, box_scale
from plastic.rule import Analysis, FeatureLearner, Layout
from plastic.views import Mosaic, Movie

BOUNDARIES = ("reference", "clip", "wrap")
CHECKED_STEPS = 8  # device=gpu: the kernel's first steps, checked against the host loop
log = logging.getLogger("plastic")


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


class TopoWTA(FeatureLearner):
    """Topographic multi-winner-take-all map (reconstruction learning, lateral excitation)."""

    Config = Config
    state_names = ("weights", "ema_output", "wins")
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
        self._fused_steps = None  # device=gpu: the kernel's launcher, built at the first block

    # ------------------------------------------------------------------ the runner's face
    def learn(self, block):
        if self.backend.name == "gpu":
            self._learn_on_gpu(block)
        elif self.backend.on_device:  # another device namespace: the host loop, explicit copies
            to_host, asarray = self.backend.to_host, self.backend.asarray
            host = [np.array(to_host(a)) for a in (self.weights, self.ema_output, self.wins)]
            self._steps(*host, to_host(block), learn=True)
            self.weights, self.ema_output, self.wins = (asarray(a) for a in host)
        else:
            self.run(block, learn=True)

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
        records = self._records(len(inputs) if record else 0)
        run_steps(
            weights,
            np.ascontiguousarray(inputs, dtype=weights.dtype),
            ema,
            wins,
            *self._rule_arguments,
            learn,
            self.cfg.n_winners,
            record,
            *records,
        )
        return records

    def _learn_on_gpu(self, block):
        """The block's steps in one launch of the fused kernel (models/_topo_wta_cuda.py)."""
        xp = self.backend.xp
        weights_t = self.weights.T  # the kernel keeps W transposed: m x N, C order
        if not weights_t.flags.c_contiguous:  # at the first block, or after a state load
            weights_t = xp.ascontiguousarray(weights_t)
            self.weights = weights_t.T
        inputs = xp.ascontiguousarray(block, dtype=self.weights.dtype)
        if self._fused_steps is None:
            self._fused_steps = self._checked_launcher(inputs[:CHECKED_STEPS])
        self._fused_steps(weights_t, inputs, self.ema_output, self.wins, self._rule_arguments)

    def _checked_launcher(self, steps):
        """The kernel's launcher, built and checked before it learns anything: from copies of
        the state, in float64, its first `steps` must equal the host's compiled loop (to 1e-9,
        the same winners), so that a kernel running wrong on some GPU cannot go unnoticed. A
        missing CUDA piece (the first launch compiles) or a disagreement is one line."""
        xp, to_host = self.backend.xp, self.backend.to_host
        steps = np.ascontiguousarray(to_host(steps), dtype=np.float64)
        weights, ema, wins = (  # host copies, C order (on the GPU W is stored transposed)
            np.array(to_host(state), dtype=np.float64, order="C")
            for state in (self.weights, self.ema_output, self.wins)
        )
        on_device = [xp.array(a, order="C") for a in (weights.T, ema, wins)]  # copies too
        try:
            from plastic.models._topo_wta_cuda import FusedSteps

            fused = FusedSteps(len(wins), self.cfg.n_winners, xp)
            fused(on_device[0], xp.asarray(steps), *on_device[1:], self._rule_arguments)
        except Exception as error:
            cause = " ".join(str(error).split()) or type(error).__name__
            raise UserError(
                f"model=topo_wta device=gpu could not run its fused CUDA kernel ({cause}); it "
                "needs numba's CUDA target: pip install 'plastic[gpu]' (or run with device=cpu)"
            ) from None
        run_steps(
            weights,
            steps,
            ema,
            wins,
            *self._rule_arguments,
            True,
            self.cfg.n_winners,
            False,
            *self._records(0),
        )
        gaps = {
            "weights": np.abs(to_host(on_device[0]).T - weights).max(),
            "ema_output": np.abs(to_host(on_device[1]) - ema).max(),
            "wins": np.abs(to_host(on_device[2]) - wins).max(),
        }
        worst = max(gaps, key=gaps.get)
        if not gaps[worst] <= 1e-9:  # NaN too
            raise UserError(
                f"model=topo_wta device=gpu: the fused CUDA kernel disagrees with the CPU loop on "
                f"this GPU over its first {len(steps)} steps ({worst} differ by "
                f"{gaps[worst]:.1e}; allowed: 1e-9); run with device=cpu, and please report it"
            )
        log.info(
            "topo_wta: the fused GPU kernel equals the CPU loop over its first %d steps "
            "(largest difference %.1e)",
            len(steps),
            gaps[worst],
        )
        return fused

    def _records(self, length):
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
    def _rule_arguments(self):
        """The settings of the step, in the order both loops take them (run_steps here and the
        GPU kernel): the grid and its box, the output and clip flags, alpha, eps, xi."""
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


_box_range = numba.njit(cache=True)(box_range)
_box_scale = numba.njit(cache=True)(box_scale)


@numba.njit(cache=True)
def lateral_excitation(p, out, kx, ky, radius, strength, boundary, normalized, rows):
    """out = L p for the box L without building it: a separable box sum over the grid. Each
    sum adds its terms in grid order; the passes run along whole rows, so that they vectorise."""
    wrap = boundary == 2
    x_first, x_end = np.empty(kx, np.int64), np.empty(kx, np.int64)
    for x in range(kx):
        x_first[x], x_end[x] = _box_range(x, kx, radius, boundary)
    # interior columns: the whole box, no edge (x_first = x - radius, x_end = x + radius + 1)
    lo, hi = kx, 0
    if not wrap:
        for x in range(kx):
            if x_first[x] == x - radius and x_end[x] == x + radius + 1:
                lo, hi = min(lo, x), max(hi, x + 1)
    for y in range(ky):  # horizontal pass
        base = y * kx
        for x in range(lo, hi):
            rows[y, x] = 0.0
        for d in range(-radius, radius + 1):  # term by term, in order, along the row
            for x in range(lo, hi):
                rows[y, x] += p[base + x + d]
        for x in range(kx):
            if lo <= x < hi:
                continue
            s = 0.0
            if wrap:
                for xx in range(x_first[x], x_end[x]):
                    s += p[base + xx % kx]
            else:
                for xx in range(x_first[x], x_end[x]):
                    s += p[base + xx]
            rows[y, x] = s
    total = np.empty(kx)
    for y in range(ky):  # vertical pass, then remove the unit itself and scale
        y0, y1 = _box_range(y, ky, radius, boundary)
        inside_y = y0 <= y < y1
        total[:] = 0.0
        for yy in range(y0, y1):
            source = yy % ky if wrap else yy
            for x in range(kx):
                total[x] += rows[source, x]
        for x in range(kx):
            i = y * kx + x
            s = total[x]
            inside = inside_y and x_first[x] <= x < x_end[x]
            if inside:
                s -= p[i]
            out[i] = _box_scale(strength, normalized, y0, y1, x_first[x], x_end[x], inside) * s


AHEAD = 50  # steps whose drives one matrix product computes (a table of AHEAD x N)


@numba.njit(cache=True)
def drives_of(weights, inputs):
    """W v for each row v of `inputs`, a row a step (BLAS: W read once for all of them)."""
    return np.dot(np.ascontiguousarray(inputs), np.ascontiguousarray(weights).T)


@numba.njit(cache=True)
def run_steps(
    weights,
    inputs,
    ema,
    wins,
    kx,
    ky,
    radius,
    strength,
    boundary,
    normalized,
    output_competition,
    clip_error,
    clip_weights,
    ema_rate,
    eps,
    xi,
    learn,
    n_winners,
    record,
    recon_out,
    outputs_out,
    winners_out,
    best_two_out,
):
    """The steps of the module docstring over the rows of `inputs`, in place (compiled, CPU)."""
    n, m = weights.shape
    p = np.empty(n)
    c = np.empty(n)
    excitation = np.empty(n)
    rows = np.empty((ky, kx))
    top = np.empty(n_winners, dtype=np.int64)
    o_new = np.zeros_like(ema)
    r = np.empty(m)
    factor = np.empty(m)
    # Without EMA only the winners' rows of W change in a step, so the drives W v of the next
    # AHEAD steps come from one matrix product (W read once for all of them, not once a step),
    # and after each update only the winners' entries are computed again.
    ahead = ema_rate <= 0.0
    table = np.empty((0, n), dtype=weights.dtype)  # row s: the drives of step chunk + s
    chunk, chunk_length, s = 0, 0, 0
    for t in range(len(inputs)):
        v = inputs[t]
        if ahead:
            s = t - chunk
            if s == chunk_length:  # the chunk is used up (or none yet): the next one
                chunk, s, chunk_length = t, 0, min(AHEAD, len(inputs) - t)
                table = drives_of(weights, inputs[t : t + chunk_length])
            p[:] = table[s]
        else:
            p[:] = np.dot(weights, v)
        lateral_excitation(p, excitation, kx, ky, radius, strength, boundary, normalized, rows)
        for i in range(n):
            c[i] = p[i] + excitation[i]
        # the n_w largest c: a partial selection, kept sorted ascending in `top`
        filled = 0
        for i in range(n):
            if filled < n_winners:
                pos = filled
                filled += 1
            elif c[i] > c[top[0]]:
                for q in range(1, n_winners):  # drop the smallest
                    top[q - 1] = top[q]
                pos = n_winners - 1
            else:
                continue
            while pos > 0 and c[top[pos - 1]] > c[i]:
                top[pos] = top[pos - 1]
                pos -= 1
            top[pos] = i
        for q in range(n_winners):
            o_new[top[q]] = c[top[q]] if output_competition else p[top[q]]
            wins[top[q]] += 1.0
        # the output o: the winners' values, or their running average across steps
        if ema_rate > 0.0:
            for i in range(n):
                ema[i] = ema[i] + (o_new[i] - ema[i]) * ema_rate
            o = ema
        else:
            o = o_new
        r[:] = 0.0
        for i in range(n):
            if o[i] != 0.0:
                for j in range(m):
                    r[j] += weights[i, j] * o[i]
        for j in range(m):
            e = v[j] - r[j]
            if clip_error:
                e = min(max(e, -1.0), 1.0)
            factor[j] = e
        if learn:
            for i in range(n):
                if o[i] != 0.0:  # only rows with an output change (W_ij o_i e_j / r_j)
                    for j in range(m):
                        w = weights[i, j] + xi * weights[i, j] * (o[i] * factor[j]) / max(r[j], eps)
                        if clip_weights:
                            w = min(max(w, 0.0), 1.0)
                        weights[i, j] = w
            if ahead and s + 1 < chunk_length:  # the winners' drives for the chunk's rest
                later = drives_of(weights[top], inputs[t + 1 : chunk + chunk_length])
                for q in range(n_winners):
                    for k in range(len(later)):
                        table[s + 1 + k, top[q]] = later[k, q]
        if record:
            recon_out[t] = r
            outputs_out[t] = o
            winners_out[t] = top
            first, second = 0, min(1, n - 1)
            if p[second] > p[first]:
                first, second = second, first
            for i in range(2, n):
                if p[i] > p[first]:
                    first, second = i, first
                elif p[i] > p[second]:
                    second = i
            best_two_out[t, 0] = first
            best_two_out[t, 1] = second
        for q in range(n_winners):
            o_new[top[q]] = 0.0
