"""Small compiled helpers shared by the kernels (numba loops for device=cpu)."""

import numba
import numpy as np


@numba.njit(cache=True, fastmath=True)
def dot(a, b):
    """A dot product the compiler may reorder (vectorise): a sum whose last bits may differ
    from a plain loop's, so never where a result must equal a reference bit for bit."""
    total = 0.0
    for k in range(len(a)):
        total += a[k] * b[k]
    return total


@numba.njit(cache=True)
def largest_and_kth(values, k):
    """Per row of `values`: the column of the largest value and of the k-th largest, found in
    one pass with a sorted list of the k best so far (O(K) a row, where a partial sort moves
    the whole row). Of equal values the later column ranks higher, as in a stable ascending
    argsort read from its end. NaN never enters the list: an all-NaN row gives 0 and k-1."""
    rows, columns = values.shape
    largest = np.empty(rows, np.int64)
    kth = np.empty(rows, np.int64)
    best_values = np.empty(k, values.dtype)
    best_columns = np.empty(k, np.int64)
    for r in range(rows):
        best_values[:] = -np.inf
        best_columns[:] = np.arange(k)
        for c in range(columns):
            v = values[r, c]
            if v >= best_values[k - 1]:  # enters the list: shift the smaller ones down
                i = k - 1
                while i > 0 and best_values[i - 1] <= v:
                    best_values[i] = best_values[i - 1]
                    best_columns[i] = best_columns[i - 1]
                    i -= 1
                best_values[i] = v
                best_columns[i] = c
        largest[r] = best_columns[0]
        kth[r] = best_columns[k - 1]
    return largest, kth
