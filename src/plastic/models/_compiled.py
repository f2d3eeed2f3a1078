"""Small compiled helpers shared by the rules' numba loops."""

import numba


@numba.njit(cache=True, fastmath=True)
def dot(a, b):
    """A dot product the compiler may reorder (vectorise): a sum whose last bits may differ
    from a plain loop's, so never where a result must equal a reference bit for bit."""
    total = 0.0
    for k in range(len(a)):
        total += a[k] * b[k]
    return total
