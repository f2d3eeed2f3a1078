"""Reference loop: a plain numpy transcription of the topographic multi-winner-take-all notebook
(dense N x N lateral matrix, full argsort, full-size update): the yardstick for exactness and
speed. `lateral_matrix` builds the box neighbourhoods as the notebook does (`reference`, whose
box drops the grid's last row and column), correctly (`clip`) or on a torus (`wrap`). `train`
runs in the namespace of the weights it is given: numpy, or cupy as the notebook did.
"""

import numpy as np


def lateral_matrix(kx, ky, radius, strength, boundary="reference", normalized=False):
    n = kx * ky
    lateral = np.zeros((n, n))
    for y in range(ky):
        for x in range(kx):
            if boundary == "reference":  # the notebook's slices: end exclusive at K - 1
                ys = range(max(0, y - radius), min(ky - 1, y + radius + 1))
                xs = range(max(0, x - radius), min(kx - 1, x + radius + 1))
            elif boundary == "clip":
                ys = range(max(0, y - radius), min(ky, y + radius + 1))
                xs = range(max(0, x - radius), min(kx, x + radius + 1))
            else:  # wrap
                ys = sorted({(y + d) % ky for d in range(-radius, radius + 1)})
                xs = sorted({(x + d) % kx for d in range(-radius, radius + 1)})
            for yy in ys:
                for xx in xs:
                    lateral[y * kx + x, yy * kx + xx] = 1.0
    np.fill_diagonal(lateral, 0.0)
    if normalized:
        norms = np.linalg.norm(lateral, axis=1, keepdims=True)
        lateral = lateral / np.where(norms > 0, norms, 1.0)
    return lateral * strength


def train(
    weights,
    inputs,
    lateral,
    n_winners=5,
    xi=0.03,
    eps=1e-10,
    output="drive",
    clip_error=True,
    clip_weights=False,
    ema_rate=None,
):
    """One online step per input row; returns the new weights."""
    xp = np if isinstance(weights, np.ndarray) else __import__("cupy")
    weights = weights.copy()
    o_ema = xp.zeros(len(weights), dtype=weights.dtype)
    for v in inputs:
        p = weights @ v
        c = p + lateral @ p
        winners = xp.argsort(c)[-n_winners:]
        o = xp.zeros(len(weights), dtype=weights.dtype)
        o[winners] = (p if output == "drive" else c)[winners]
        if ema_rate is not None:
            o_ema = o_ema + (o - o_ema) * ema_rate
            o = o_ema
        r = weights.T @ o
        e = v - r
        if clip_error:
            e = xp.clip(e, -1.0, 1.0)
        weights = weights + xi * weights * xp.outer(o, e) / xp.maximum(r, eps)
        if clip_weights:
            weights = xp.clip(weights, 0.0, 1.0)
    return weights
