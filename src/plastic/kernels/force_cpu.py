"""FORCE's steps compiled for the CPU (numba): the reference is `Force.learn_steps`, in
plastic.models.force."""

from __future__ import annotations

import math

import numba
import numpy as np

from plastic.kernels._compiled import dot


def learn_steps(rule, n_steps: int) -> None:
    """`Force.learn_steps` in one compiled call per block: see `_block`."""
    cfg = rule.cfg
    targets, learning, drive = rule.schedule(n_steps)
    z, dw = np.empty(n_steps), np.zeros(n_steps)
    units = np.empty((n_steps, min(5, cfg.n_units)))
    _block(
        rule.x, rule.readout, rule.inverse_correlation, rule.J, rule.u,
        cfg.g, cfg.dt, cfg.integrator == "reference", cfg.feedback, cfg.learning_rate,
        targets, learning, drive, z, dw, units,
    )  # fmt: skip
    rule.extend(targets, z, dw, units)


@numba.njit(cache=True, fastmath=True, parallel=True, error_model="numpy")
def _block(
    x, w, P, J, u, g, dt, exact, feedback, lr, targets, learning, drive, z_out, dw_out, units
):
    """A block of steps, x, w and P updated in place: the step of `Force.learn_steps`, compiled.

    The cost is memory traffic over P and J (N^2 each). The downdate P <- P - c q q^T is
    deferred to the next RLS step and done in the same pass over P that computes that step's
    q = P r, so P is read and written once per step instead of read twice and written once;
    rows are shared among the cores. Each element changes by s_i s_j with s = sqrt(c) q (c > 0:
    P is positive definite), a product that is the same either way round, so P stays exactly
    symmetric even where the compiler reorders arithmetic. The last downdate is applied at the end.
    """
    n = len(x)
    decay = math.exp(-dt)
    r = np.empty(n)
    pending = np.zeros(n)  # sqrt(c) q of the downdate not yet applied
    q = np.empty(n)
    has_pending = False
    for s in range(len(targets)):
        for i in range(n):
            r[i] = math.tanh(x[i])
        z = dot(w, r)
        z_out[s] = z
        if learning[s]:
            for i in numba.prange(n):
                si = pending[i]
                total = 0.0
                for j in range(n):
                    value = P[i, j] - si * pending[j]
                    P[i, j] = value
                    total += value * r[j]
                q[i] = total
            c = lr / (1.0 + dot(q, r))
            root = math.sqrt(c)
            for i in range(n):
                pending[i] = root * q[i]
            has_pending = True
            step = c * (targets[s] - z)
            size = 0.0
            for i in range(n):
                w[i] += step * q[i]
                size += (step * q[i]) ** 2
            dw_out[s] = math.sqrt(size)
        fed_back = 0.0
        if feedback:  # reference: the updated readout; euler: the z of this step
            fed_back = dot(w, r) if exact else z
        for i in numba.prange(n):
            total = 0.0
            for j in range(n):
                total += J[i, j] * r[j]
            total = g * total + u[i] * (fed_back + drive[s])
            x[i] = x[i] * decay + (1.0 - decay) * total if exact else x[i] + dt * (total - x[i])
        for k in range(units.shape[1]):
            units[s, k] = x[k]
    if has_pending:
        for i in numba.prange(n):
            for j in range(n):
                P[i, j] -= pending[i] * pending[j]
