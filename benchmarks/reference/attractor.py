"""Reference loop: the free-energy attractor network's per-node algorithm, transcribed from the
public simulation code (one node, one connection at a time; no vectorisation), the yardstick.
"""

import math

import numpy as np


def langevin(x):
    if x == 0:
        return 0.0
    clipped = max(min(x, 700.0), -700.0)  # as the reference's coth
    return math.cosh(clipped) / math.sinh(clipped) - 1.0 / x


def sample(x, rng):
    if abs(x) > 500:
        x = math.copysign(500.0, x)
    if abs(x) <= 1e-8:  # np.isclose(x, 0)
        return rng.uniform(-1, 1)
    u = rng.uniform(0, 1)
    return (1.0 / x) * math.log(math.exp(-x) + u * (math.exp(x) - math.exp(-x)))


def update(J, sigma, bias, beta, learning_rate, least_action, rng):
    """One network update in place: potentials from the old activations, then every node, then
    every connection but the self-connections."""
    n = len(sigma)
    h = [0.0] * n
    for i in range(n):
        for j in range(n):
            h[i] += J[i][j] * sigma[j]
    for i in range(n):
        x = (bias[i] + h[i]) * beta
        sigma[i] = langevin(x) if least_action else sample(x, rng)
    if learning_rate > 0:
        for i in range(n):
            anti = langevin(h[i])
            for j in range(n):
                if i != j:
                    J[i][j] += learning_rate * (sigma[i] * sigma[j] - anti * sigma[j])


def langevin_array(x):
    x = np.asarray(x, dtype=np.float64)
    result = np.zeros_like(x)
    mask = x != 0
    clipped = np.clip(x[mask], -700, 700)
    result[mask] = np.cosh(clipped) / np.sinh(clipped) - 1 / x[mask]
    return result


def complexity(J, sigma, bias):
    """The reference's complexity(): KL(q || p) of the continuous Bernoulli nodes (numpy there)."""
    m, b = np.array(sigma), np.array(bias)
    b_q = b + np.array(J) @ m
    tiny = np.finfo(np.float64).tiny
    b_safe = np.where(np.abs(b) < tiny, tiny, b)
    b_q_safe = np.where(np.abs(b_q) < tiny, tiny, b_q)
    return np.sum(
        (np.log(b_q_safe / np.sinh(b_q_safe)) + b_q_safe * langevin_array(b_q_safe))
        - (np.log(b_safe / np.sinh(b_safe)) + b_safe * langevin_array(b_q_safe))
    )


def accuracy(J, sigma, bias):
    """The reference's accuracy(): E_q[log p], with the expected activations L(b_q)."""
    m, b, couplings = np.array(sigma), np.array(bias), np.array(J)
    lbq = langevin_array(b + couplings @ m)
    return np.nan_to_num(b.dot(lbq) + lbq.T @ couplings @ lbq)


def run(patterns, steps_per_pattern, beta, learning_rate, least_action, seed, watch=False):
    """Clamp each pattern (already scaled by the evidence) for its steps; returns J and traces.
    With `watch`, also the reference's per-step figures (as its continous_inference_and_learning
    computes them after every step): complexity, accuracy, VFE, weight change."""
    n = patterns.shape[1]
    J = [[0.0] * n for _ in range(n)]
    sigma = [0.0] * n
    rng = np.random.default_rng(seed)
    sigmas, couplings, watched = [], [], []
    for pattern in patterns:
        for _ in range(steps_per_pattern):
            before = np.array(J)
            update(J, sigma, list(pattern), beta, learning_rate, least_action, rng)
            sigmas.append(list(sigma))
            couplings.append([row[:] for row in J])
            if watch:
                change = np.sum((np.array(J) - before) ** 2)
                c, a = complexity(J, sigma, pattern), accuracy(J, sigma, pattern)
                watched.append((c, a, c - a, change))
    if watch:
        return np.array(sigmas), np.array(couplings), np.array(watched)
    return np.array(sigmas), np.array(couplings)
