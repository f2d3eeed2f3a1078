"""What topo_wta's reference and its kernels share: the box of lateral excitation on the grid,
written once in plain Python, read by the reference and compiled by each kernel (numba for the
CPU in kernels/topo_wta_cpu.py, numba.cuda in kernels/topo_wta_cuda.py), and the GPU kernel's
limit on the winners."""

from __future__ import annotations

import math

MAX_WINNERS_ON_GPU = 32  # the fused kernel's per-thread candidate list (topo_wta_cuda)


def box_range(y, k, radius, boundary):
    """First and last+1 of a box range on an axis of length k (wrap: taken modulo k); plain
    Python, read by the reference and compiled by the kernels."""
    first, end = y - radius, y + radius + 1
    if boundary == 2:  # wrap: taken modulo k
        return first, end
    # the notebook's (0) ends at k - 1 (exclusive), dropping the last row; clip (1) at k.
    # Comparisons, not max/min: numba's built-in CUDA target cannot compile max of two ints
    last = k - 1 if boundary == 0 else k
    return (first if first > 0 else 0), (end if end < last else last)


def box_scale(strength, normalized, y0, y1, x0, x1, inside):
    """The value of L in the box y0..y1 x x0..x1 (without its centre when `inside`): `strength`,
    or with `normalized` strength over the L2 norm of the row of ones (sqrt of its count);
    plain Python, compiled like box_range."""
    if not normalized:
        return strength
    count = (y1 - y0) * (x1 - x0) - (1 if inside else 0)
    return strength / math.sqrt(count) if count > 0 else 0.0
