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


def run(patterns, steps_per_pattern, beta, learning_rate, least_action, seed):
    """Clamp each pattern (already scaled by the evidence) for its steps; returns J and traces."""
    n = patterns.shape[1]
    J = [[0.0] * n for _ in range(n)]
    sigma = [0.0] * n
    rng = np.random.default_rng(seed)
    sigmas, couplings = [], []
    for pattern in patterns:
        for _ in range(steps_per_pattern):
            update(J, sigma, list(pattern), beta, learning_rate, least_action, rng)
            sigmas.append(list(sigma))
            couplings.append([row[:] for row in J])
    return np.array(sigmas), np.array(couplings)
