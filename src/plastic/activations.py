"""Activation functions by name, written once for any array namespace xp (numpy or cupy)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _logistic(xp, x):
    return 1.0 / (1.0 + xp.exp(-x))


ACTIVATIONS: dict[str, Callable[[Any, Any], Any]] = {
    "linear": lambda xp, x: x,
    "logistic": _logistic,
    "relu": lambda xp, x: xp.maximum(x, 0.0),
    "leaky_relu": lambda xp, x: xp.where(x > 0, x, 0.1 * x),
    "elu": lambda xp, x: xp.where(x > 0, x, xp.exp(xp.minimum(x, 0.0)) - 1.0),
    "softplus": lambda xp, x: xp.logaddexp(0.0, x),
    "tanh": lambda xp, x: xp.tanh(x),
    "hard_tanh": lambda xp, x: xp.clip(x, -1.0, 1.0),
    "softsign": lambda xp, x: x / (1.0 + xp.abs(x)),
    "sign": lambda xp, x: xp.sign(x),
}
NAMES = tuple(ACTIVATIONS)
