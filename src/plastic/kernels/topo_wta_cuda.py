"""topo_wta on the GPU: a whole block of online steps in one cooperative CUDA kernel.

Why one kernel: the step is a matrix-vector product plus small things (a box sum, a top-n_w
selection, an update of n_w rows of W). Written as array operations it is a dozen kernel launches
per step, each costing more than its work. Here all the steps of a block run inside one launch,
their phases separated by grid-wide barriers (cooperative groups):

    A   p = W v                      tiles of 32 units per block; W is kept transposed (m x N)
                                     so that neighbouring threads read neighbouring units
    --- grid barrier
    B   c = p + L p                  the box sum read straight from p, in the CPU path's order
        each block's n_w best c      a per-thread list, then a tree arg-max over the block
    --- grid barrier
    C   the winners                  every block merges the blocks' lists (the same in each)
        [EMA: o <- o + (o_new - o) alpha for each block's units, then a grid barrier]
        r_j, e_j, then W_ij          one input column j per thread, only the rows with o_i != 0
    --- grid barrier                 (the next step's A reads the new W)

Ties between equal c go to the lower unit index, as in the CPU path. The arithmetic is the CPU
path's in float64 (p, c, r and the update factor), rounded to the weights' dtype on store, so a
float64 run equals the CPU path to rounding and a float32 run to float32 tolerance.

The same code runs under numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1), which is how the test
suite checks it on machines without a GPU (tests/cuda_simulated_topo_wta.py teaches the
simulator grids of several blocks). On a GPU, each run checks it before it learns: its first
steps against the host's compiled loop (`checked_launcher` below). `learn_steps` is the kernel
registered for `TopoWTA.learn_steps` on device=gpu.
"""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
from numba import config, cuda
from numba.core.errors import NumbaPerformanceWarning

from plastic.errors import UserError
from plastic.kernels.topo_wta_cpu import run_steps
from plastic.models._topo_box import MAX_WINNERS_ON_GPU as MAX_WINNERS
from plastic.models._topo_box import box_range, box_scale

CHECKED_STEPS = 8  # the kernel's first steps of a run, checked against the host's loop
THREADS = 256  # threads per block: a power of two, a multiple of 32
TILE = 32  # units per tile of phase A (one per lane of a warp)
_NO_UNIT = 1 << 62  # the index of an empty candidate slot (loses every comparison)
log = logging.getLogger("plastic")


@cuda.jit(device=True)
def _better(a_value, a_index, b_value, b_index):
    """Order of the winners: larger c first, the lower index among equals."""
    return a_value > b_value or (a_value == b_value and a_index < b_index)


@cuda.jit(device=True)
def _offer(values, indices, k, value, index):
    """Insert (value, index) into a thread's list of its k best, kept best first."""
    if not _better(value, index, values[k - 1], indices[k - 1]):
        return
    pos = k - 1
    while pos > 0 and _better(value, index, values[pos - 1], indices[pos - 1]):
        values[pos] = values[pos - 1]
        indices[pos] = indices[pos - 1]
        pos -= 1
    values[pos] = value
    indices[pos] = index


@cuda.jit(device=True)
def _clear(values, indices, k):
    for q in range(k):
        values[q] = -math.inf
        indices[q] = _NO_UNIT


@cuda.jit(device=True)
def _block_best(values, indices, k, red_values, red_indices, out_values, out_indices):
    """The block's k best over all its threads' lists, best first, into the shared `out_*`:
    k rounds of a tree arg-max over the heads of the lists."""
    t = cuda.threadIdx.x
    head = 0
    for q in range(k):
        if head < k:
            red_values[t] = values[head]
            red_indices[t] = indices[head]
        else:
            red_values[t] = -math.inf
            red_indices[t] = _NO_UNIT
        cuda.syncthreads()
        stride = cuda.blockDim.x // 2
        while stride > 0:
            if t < stride and _better(
                red_values[t + stride], red_indices[t + stride], red_values[t], red_indices[t]
            ):
                red_values[t] = red_values[t + stride]
                red_indices[t] = red_indices[t + stride]
            cuda.syncthreads()
            stride //= 2
        if t == 0:
            out_values[q] = red_values[0]
            out_indices[q] = red_indices[0]
        if head < k and indices[head] == red_indices[0]:
            head += 1  # this thread's candidate won the round
        cuda.syncthreads()  # everyone has read the round's winner before the next round


_box_range = cuda.jit(device=True)(box_range)
_box_scale = cuda.jit(device=True)(box_scale)


@cuda.jit(device=True)
def _competition(p, i, kx, ky, radius, strength, boundary, normalized):
    """c_i = p_i + (L p)_i, summed row by row in the CPU path's order."""
    y, x = i // kx, i % kx
    y0, y1 = _box_range(y, ky, radius, boundary)
    x0, x1 = _box_range(x, kx, radius, boundary)
    s = 0.0
    for yy in range(y0, y1):
        row = 0.0
        for xx in range(x0, x1):
            row += p[(yy % ky) * kx + xx % kx]
        s += row
    inside = y0 <= y < y1 and x0 <= x < x1
    if inside:
        s -= p[i]
    return p[i] + _box_scale(strength, normalized, y0, y1, x0, x1, inside) * s


@cuda.jit(device=True)
def _clip(x, low, high):
    """min(max(x, low), high), written out: numba's built-in CUDA target cannot compile max."""
    x = low if low > x else x
    return high if high < x else x


@cuda.jit(device=True)
def _learn_column(
    weights_t, j, v_j, units, outputs, count, every_unit, clip_error, clip_weights, eps, xi
):
    """Column j of r = W^T o, e = clip(v - r) and W_ij += xi W_ij o_i e_j / max(r_j, eps), over
    the units with o_i != 0 in increasing order (as the CPU loop sums r): the winners
    (units[q] with outputs[q], q < count) or every unit (every_unit: outputs is the EMA)."""
    r = 0.0
    for q in range(count):
        o = outputs[q]
        if o != 0.0:
            r += weights_t[j, q if every_unit else units[q]] * o
    e = v_j - r
    if clip_error:
        e = _clip(e, -1.0, 1.0)
    for q in range(count):
        o = outputs[q]
        if o != 0.0:
            i = q if every_unit else units[q]
            w = weights_t[j, i]
            w = w + xi * w * (o * e) / (eps if eps > r else r)
            if clip_weights:
                w = _clip(w, 0.0, 1.0)
            weights_t[j, i] = w


@cuda.jit
def fused_steps(
    weights_t,  # (m, N): W transposed, learned in place
    inputs,  # (T, m)
    ema,  # (N,): the EMA output, carried across steps (used when ema_rate > 0)
    wins,  # (N,): how often each unit won
    p,  # (N,) float64 scratch: the drive
    candidate_values,  # (blocks * n_winners,) float64 scratch: each block's best c
    candidate_indices,  # (blocks * n_winners,) int64 scratch
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
    k,  # n_winners
):
    grid = cuda.cg.this_grid()
    m, n = weights_t.shape
    t = cuda.threadIdx.x
    block, n_blocks, n_threads = cuda.blockIdx.x, cuda.gridDim.x, cuda.blockDim.x
    g = block * n_threads + t  # this thread's place in the grid
    grid_threads = n_blocks * n_threads
    partial = cuda.shared.array(THREADS, np.float64)
    red_values = cuda.shared.array(THREADS, np.float64)
    red_indices = cuda.shared.array(THREADS, np.int64)
    best_values = cuda.shared.array(MAX_WINNERS, np.float64)
    best_indices = cuda.shared.array(MAX_WINNERS, np.int64)
    outputs = cuda.shared.array(MAX_WINNERS, np.float64)  # o of the winners, by unit index
    values = cuda.local.array(MAX_WINNERS, np.float64)
    indices = cuda.local.array(MAX_WINNERS, np.int64)
    lane, slice_, n_slices = t % TILE, t // TILE, n_threads // TILE

    for step in range(inputs.shape[0]):
        # A: p = W v; lane = unit within the tile, slice = every n_slices-th input
        for tile in range(block, (n + TILE - 1) // TILE, n_blocks):
            i = tile * TILE + lane
            acc = 0.0
            if i < n:
                for j in range(slice_, m, n_slices):
                    acc += weights_t[j, i] * inputs[step, j]
            partial[t] = acc
            cuda.syncthreads()
            if slice_ == 0 and i < n:
                s = 0.0
                for q in range(n_slices):
                    s += partial[q * TILE + lane]
                p[i] = s
            cuda.syncthreads()
        grid.sync()

        # B: the competition value of this thread's units, and the block's k best
        _clear(values, indices, k)
        for i in range(g, n, grid_threads):
            c = _competition(p, i, kx, ky, radius, strength, boundary, normalized)
            _offer(values, indices, k, c, i)
        _block_best(values, indices, k, red_values, red_indices, best_values, best_indices)
        if t < k:
            candidate_values[block * k + t] = best_values[t]
            candidate_indices[block * k + t] = best_indices[t]
        grid.sync()

        # C: the winners, merged from all blocks' lists by every block alike
        _clear(values, indices, k)
        for b in range(t, n_blocks, n_threads):
            for q in range(k):
                _offer(
                    values, indices, k, candidate_values[b * k + q], candidate_indices[b * k + q]
                )
        _block_best(values, indices, k, red_values, red_indices, best_values, best_indices)
        if t == 0:  # the winners by unit index (the CPU path sums r over units in that order)
            for q in range(1, k):
                index, value = best_indices[q], best_values[q]
                pos = q
                while pos > 0 and best_indices[pos - 1] > index:
                    best_indices[pos] = best_indices[pos - 1]
                    best_values[pos] = best_values[pos - 1]
                    pos -= 1
                best_indices[pos] = index
                best_values[pos] = value
            for q in range(k):
                outputs[q] = best_values[q] if output_competition else p[best_indices[q]]
                if block == 0:
                    wins[best_indices[q]] += 1.0
        cuda.syncthreads()

        if ema_rate > 0.0:
            # o <- o + (o_new - o) alpha over all units; then every row with o_i != 0 learns
            for i in range(g, n, grid_threads):
                new = 0.0
                for q in range(k):
                    if best_indices[q] == i:
                        new = outputs[q]
                ema[i] = ema[i] + (new - ema[i]) * ema_rate
            grid.sync()
            for j in range(g, m, grid_threads):  # every unit with o_i != 0 learns
                _learn_column(
                    weights_t, j, inputs[step, j], best_indices, ema, n, True,
                    clip_error, clip_weights, eps, xi,
                )  # fmt: skip
        else:
            for j in range(g, m, grid_threads):
                _learn_column(
                    weights_t, j, inputs[step, j], best_indices, outputs, k, False,
                    clip_error, clip_weights, eps, xi,
                )  # fmt: skip
        grid.sync()


class FusedSteps:
    """Launches `fused_steps` over blocks of inputs; holds its scratch arrays on the device.

    `xp` is the array namespace of the arrays it is given (cupy on a GPU; numpy under the
    simulator). The grid: one block per multiprocessor (all blocks of a cooperative grid must be
    resident at once), and no more blocks than tiles of units; `blocks` and `threads` override
    that (the tests). numba's own simulator runs one block (the only cooperative grid it has)
    of 64 threads (each one a Python thread)."""

    def __init__(self, n_units, n_winners, xp, blocks=None, threads=None):
        if n_winners > MAX_WINNERS:
            raise ValueError(f"n_winners={n_winners} > {MAX_WINNERS}")
        if blocks is None and config.ENABLE_CUDASIM:
            blocks, threads = 1, threads or 64
        elif blocks is None:
            device_id = int(xp.cuda.Device().id)  # the GPU that cupy was told to use
            if device_id != 0:
                cuda.select_device(device_id)
            blocks = cuda.get_current_device().MULTIPROCESSOR_COUNT
        self.blocks = max(1, min(blocks, -(-n_units // TILE)))
        self.threads = threads or THREADS
        assert self.threads % TILE == 0 and self.threads & (self.threads - 1) == 0
        self.n_winners = n_winners
        self.p = xp.zeros(n_units, dtype=np.float64)
        self.candidate_values = xp.zeros(self.blocks * n_winners, dtype=np.float64)
        self.candidate_indices = xp.zeros(self.blocks * n_winners, dtype=np.int64)

    def __call__(self, weights_t, inputs, ema, wins, rule_arguments):
        """The steps over the rows of `inputs`; `rule_arguments` as topo_wta's Model gives
        them (kx ... xi, the kernel's arguments after its scratch arrays)."""
        with warnings.catch_warnings():  # a small map fills few multiprocessors, on purpose
            warnings.simplefilter("ignore", NumbaPerformanceWarning)
            fused_steps[self.blocks, self.threads](
                weights_t,
                inputs,
                ema,
                wins,
                self.p,
                self.candidate_values,
                self.candidate_indices,
                *rule_arguments,
                self.n_winners,
            )


def learn_steps(rule, block):
    """`TopoWTA.learn_steps`: the block's steps in one launch of the fused kernel. The launcher
    is built and checked at the first block, and kept on the rule (`_fused_steps`)."""
    xp = rule.xp
    weights_t = rule.weights.T  # the kernel keeps W transposed: m x N, C order
    if not weights_t.flags.c_contiguous:  # at the first block, or after a state load
        weights_t = xp.ascontiguousarray(weights_t)
        rule.weights = weights_t.T
    inputs = xp.ascontiguousarray(block, dtype=rule.weights.dtype)
    if getattr(rule, "_fused_steps", None) is None:
        rule._fused_steps = checked_launcher(rule, inputs[:CHECKED_STEPS])
    rule._fused_steps(weights_t, inputs, rule.ema_output, rule.wins, rule.step_settings)


def checked_launcher(rule, steps):
    """The kernel's launcher, built and checked before it learns anything: from copies of the
    state, in float64, its first `steps` must equal the host's compiled loop (to 1e-9, the same
    winners), so that a kernel running wrong on some GPU cannot go unnoticed. A missing CUDA
    piece (the first launch compiles) or a disagreement is one line."""
    xp, to_host = rule.xp, rule.backend.to_host
    steps = np.ascontiguousarray(to_host(steps), dtype=np.float64)
    weights, ema, wins = (  # host copies, C order (on the GPU W is stored transposed)
        np.array(to_host(state), dtype=np.float64, order="C")
        for state in (rule.weights, rule.ema_output, rule.wins)
    )
    on_device = [xp.array(a, order="C") for a in (weights.T, ema, wins)]  # copies too
    try:
        fused = FusedSteps(len(wins), rule.cfg.n_winners, xp)
        fused(on_device[0], xp.asarray(steps), *on_device[1:], rule.step_settings)
    except Exception as error:
        cause = " ".join(str(error).split()) or type(error).__name__
        raise UserError(
            f"model=topo_wta device=gpu could not run its fused CUDA kernel ({cause}); it "
            "needs numba's CUDA target: pip install 'plastic[gpu]' (or run with device=cpu)"
        ) from None
    run_steps(
        weights, steps, ema, wins, *rule.step_settings, True, rule.cfg.n_winners, False,
        *rule.records(0),
    )  # fmt: skip
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
