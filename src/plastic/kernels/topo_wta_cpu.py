"""topo_wta's steps compiled for the CPU (numba): the kernel registered for
`TopoWTA.learn_steps` (the reference, in plastic.models.topo_wta), and the compiled loop that
the evaluation replays (`TopoWTA.run`) and that the GPU kernel checks itself against."""

from __future__ import annotations

import numba
import numpy as np

from plastic.models._topo_box import box_range, box_scale


def learn_steps(rule, block):
    """`TopoWTA.learn_steps` in one compiled call: the model's own arrays, in place."""
    rule.run(block, learn=True)


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
