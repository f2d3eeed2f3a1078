"""Krotov-Hopfield's ranking compiled for the CPU: the reference is `KrotovHopfield.ranked`."""

from __future__ import annotations

from plastic.kernels._compiled import largest_and_kth


def ranked(rule, currents):
    """Column of the largest and of the k-th largest current per row, in one pass a row."""
    return largest_and_kth(currents, rule.cfg.k)
