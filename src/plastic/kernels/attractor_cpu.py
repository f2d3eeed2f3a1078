"""The attractor network's steps compiled for the CPU (numba): the kernel registered for
`Attractor.presentations` (the reference, in plastic.models.attractor), and the compiled steps
that the analyses replay (retrieval, the attractor search, the free energy)."""

from __future__ import annotations

import math

import numba
import numpy as np

from plastic.kernels._compiled import dot

CLIP = 500.0  # |beta (b + h)| beyond this is clipped: exp(500) still fits in a float64
TINY = np.finfo(np.float64).tiny


def presentations(rule, biases, uniforms):
    """`Attractor.presentations` in one compiled call for the block."""
    cfg = rule.cfg
    settings = (cfg.steps_per_pattern, cfg.beta, cfg.learning_rate, cfg.stochastic)
    if not cfg.diagnostics_every:
        run_presentations(rule.couplings, rule.state, biases, uniforms, *settings)
        return
    rows = np.empty((len(uniforms) // cfg.diagnostics_every + 1, 5))
    written = run_presentations_watched(
        rule.couplings,
        rule.state,
        biases,
        uniforms,
        *settings,
        rule.steps,
        cfg.diagnostics_every,
        rows,
    )
    rule.watched.extend(rows[:written])


@numba.njit(cache=True)
def langevin(x):
    """L(x) = coth(x) - 1/x, by its series near 0."""
    if abs(x) < 1e-4:
        return x / 3.0 - x**3 / 45.0
    return 1.0 / math.tanh(x) - 1.0 / x


@numba.njit(cache=True)
def sample_cb(x, u):
    """A continuous-Bernoulli sample on [-1, 1] with parameter x, from a uniform u."""
    x = min(max(x, -CLIP), CLIP)
    if abs(x) <= 1e-8:  # the reference's np.isclose(x, 0): uniform on [-1, 1]
        return 2.0 * u - 1.0
    return math.log(math.exp(-x) + u * (math.exp(x) - math.exp(-x))) / x


@numba.njit(cache=True)
def potentials(couplings, state, h):
    """h = J s into `h`, in one fixed order: a step may reuse what `free_energy` computed."""
    n = len(state)
    for i in range(n):
        total = 0.0
        for j in range(n):
            total += couplings[i, j] * state[j]
        h[i] = total


@numba.njit(cache=True)
def step(couplings, state, bias, uniforms, beta, learning_rate, stochastic, h, h_known, measure):
    """One synchronous step in place, the potentials h = J s into `h` (or taken from it when
    `h_known`: J and s unchanged since they were computed). With `measure`, returns the weight
    change, the sum of the squared coupling increments (else 0)."""
    n = len(state)
    if not h_known:
        potentials(couplings, state, h)
    for i in range(n):
        x = beta * (bias[i] + h[i])
        state[i] = sample_cb(x, uniforms[i]) if stochastic else langevin(x)
    change = 0.0
    if learning_rate > 0.0:
        for i in range(n):
            lh = langevin(h[i])
            kept = couplings[i, i]  # self-connections do not learn; the row loop stays branchless
            for j in range(n):
                increment = learning_rate * (state[i] * state[j] - lh * state[j])
                couplings[i, j] += increment
                if measure:
                    change += increment * increment
            couplings[i, i] = kept
            if measure:  # the self-connection's increment was not applied
                own = learning_rate * (state[i] * state[i] - lh * state[i])
                change -= own * own
    return change


@numba.njit(cache=True)
def step_columns(columns, state, bias, uniforms, beta, learning_rate, stochastic, h, lh):
    """`step` on the transposed couplings, columns[j, i] = J[i, j], for speed: h = J s and the
    update then run along contiguous rows, which the compiler vectorises, while every h[i] and
    J[i, j] is computed by the same operations in the same order as `step` (the sum over j in
    turn), so the two agree to the last bit (tests/test_attractor.py holds them equal)."""
    n = len(state)
    for i in range(n):
        h[i] = 0.0
    for j in range(n):
        sj = state[j]
        for i in range(n):
            h[i] += columns[j, i] * sj
    for i in range(n):
        x = beta * (bias[i] + h[i])
        state[i] = sample_cb(x, uniforms[i]) if stochastic else langevin(x)
    if learning_rate > 0.0:
        for i in range(n):
            lh[i] = langevin(h[i])
        for j in range(n):
            sj = state[j]
            kept = columns[j, j]  # self-connections do not learn
            for i in range(n):
                columns[j, i] += learning_rate * (state[i] * sj - lh[i] * sj)
            columns[j, j] = kept


@numba.njit(cache=True)
def run_steps(couplings, state, bias, uniforms, beta, learning_rate, stochastic):
    """len(uniforms) synchronous steps with the bias clamped; in place (compiled, CPU)."""
    one = bias.reshape((1, bias.size))  # one presentation that lasts every step
    run_presentations(
        couplings, state, one, uniforms, len(uniforms), beta, learning_rate, stochastic
    )


@numba.njit(cache=True)
def mean_response(couplings, state, bias, uniforms, beta, stochastic):
    """The mean activity over len(uniforms) steps without learning (state moves on in place)."""
    columns = np.ascontiguousarray(couplings.T)
    total, h, lh = np.zeros(len(state)), np.empty(len(state)), np.empty(len(state))
    for t in range(len(uniforms)):
        step_columns(columns, state, bias, uniforms[t], beta, 0.0, stochastic, h, lh)
        total += state
    return total / len(uniforms)


@numba.njit(cache=True)
def run_presentations(couplings, state, biases, uniforms, steps, beta, learning_rate, stochastic):
    """Each bias row clamped for `steps` steps, one after the other."""
    columns = np.ascontiguousarray(couplings.T)
    h, lh = np.empty(len(state)), np.empty(len(state))
    for p in range(len(biases)):
        for t in range(p * steps, (p + 1) * steps):
            step_columns(
                columns, state, biases[p], uniforms[t], beta, learning_rate, stochastic, h, lh
            )
    if learning_rate > 0.0:
        couplings[:] = columns.T


@numba.njit(cache=True)
def _log_ratio(x):
    """log(x / sinh x), an exact zero replaced by the smallest float (as the reference)."""
    if x == 0.0:
        x = TINY
    return math.log(x / math.sinh(x))


@numba.njit(cache=True)
def free_energy(couplings, state, bias, h=None, prior=None):
    """(complexity, accuracy) of the reference's VFE = complexity - accuracy, compiled; the
    potentials J s, which the next step needs too, are left in `h` when it is given; `prior`:
    log(b / sinh b) of the bias, when the caller has it (it changes with the pattern only)."""
    n = len(state)
    if h is None:
        h = np.empty(n)
    potentials(couplings, state, h)
    bq, lq = np.empty(n), np.empty(n)
    for i in range(n):
        bq[i] = bias[i] + h[i]
        lq[i] = langevin(bq[i])
    complexity, accuracy = 0.0, 0.0
    for i in range(n):
        b = bias[i] if bias[i] != 0.0 else TINY
        own = _log_ratio(b) if prior is None else prior[i]
        complexity += _log_ratio(bq[i]) + bq[i] * lq[i] - (own + b * lq[i])
        accuracy += bias[i] * lq[i] + lq[i] * dot(couplings[i], lq)
    return complexity, accuracy


@numba.njit(cache=True)
def run_presentations_watched(
    couplings, state, biases, uniforms, steps, beta, learning_rate, stochastic, first, every, out
):
    """run_presentations, and after every `every`-th step (counting from step `first`) the
    reference's per-step figures in a row of `out`: step, complexity, accuracy, VFE, and the
    weight change sum((J_after - J_before)^2) of that step. Returns the rows written."""
    h = np.empty(len(state))
    known = False  # the potentials of a watched step's end are the next step's
    row = 0
    count = first
    prior = np.empty(len(state))
    for p in range(len(biases)):
        for i in range(len(state)):
            prior[i] = _log_ratio(biases[p, i])
        for t in range(steps):
            count += 1
            change = step(
                couplings,
                state,
                biases[p],
                uniforms[p * steps + t],
                beta,
                learning_rate,
                stochastic,
                h,
                known,
                True,
            )
            known = False
            if count % every == 0:
                complexity, accuracy = free_energy(couplings, state, biases[p], h, prior)
                known = True
                out[row, 0] = count
                out[row, 1] = complexity
                out[row, 2] = accuracy
                out[row, 3] = complexity - accuracy
                out[row, 4] = change
                row += 1
    return row


@numba.njit(cache=True)
def settle_steps(couplings, state, bias, beta, steps, tol):
    """Up to `steps` deterministic steps without learning, in place, until the VFE changes by
    less than `tol` from one step to the next; returns the steps taken."""
    n = len(state)
    h, unused, prior = np.empty(n), np.zeros(n), np.empty(n)  # deterministic: no uniforms
    for i in range(n):
        prior[i] = _log_ratio(bias[i])
    last = 0.0
    for taken in range(1, steps + 1):
        # the potentials free_energy leaves in h are this step's (J and s unchanged since)
        step(couplings, state, bias, unused, beta, 0.0, False, h, taken > 1, False)
        complexity, accuracy = free_energy(couplings, state, bias, h, prior)
        vfe = complexity - accuracy
        if taken > 1 and abs(vfe - last) < tol:
            return taken
        last = vfe
    return steps
