"""Optimizers for the minibatch rules, as the `plasticity` library defines them.

A rule returns an update dW that is *ascended*; the optimizer is fed g = -dW as its "gradient"
and steps against it. After every step the learning rate decays as the library does it,
lr <- clip(lr / (decay * t + 1), lr_min, lr_max), t counting the updates.

    sgd        W -= lr g
    momentum   v = mu v - lr g;              W += v
    nesterov   v = mu v - lr g;              W += mu v - lr g
    adagrad    c += g^2;                     W -= lr g / (sqrt(c) + eps)
    rmsprop    c = rho c + (1 - rho) g^2;    W -= lr g / (sqrt(c) + eps)
    adadelta   c = rho c + (1 - rho) g^2;    u = g sqrt(d + eps) / sqrt(c + eps)
               W -= lr u;                    d = rho d + (1 - rho) u^2
    adam       m = b1 m + (1 - b1) g;        v = b2 v + (1 - b2) g^2
               W -= lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from plastic.config import setting

NAMES = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam")
BUFFERS = {
    "momentum": ("velocity",),
    "nesterov": ("velocity",),
    "adagrad": ("cache",),
    "rmsprop": ("cache",),
    "adadelta": ("cache", "delta"),
    "adam": ("m", "v"),
}


@dataclass
class OptimizerConfig:
    name: str = setting("sgd", choices=NAMES)
    learning_rate: float = setting(0.02, gt=0)
    decay: float = setting(0.0, ge=0, help="lr <- lr / (decay * t + 1) after each update")
    lr_min: float = setting(0.0, ge=0)
    lr_max: float | None = setting(None, gt=0)
    linear_decay_epochs: int | None = setting(
        None, gt=0, help="Krotov's schedule: lr falls linearly to 0 over this many epochs"
    )
    momentum: float = setting(0.9, ge=0, lt=1)
    beta1: float = setting(0.9, ge=0, lt=1)
    beta2: float = setting(0.999, ge=0, lt=1)
    rho: float = setting(0.9, ge=0, lt=1)
    epsilon: float = setting(1e-8, gt=0)


class Optimizer:
    def __init__(self, cfg: OptimizerConfig, xp: Any, shape: tuple, dtype: Any):
        self.cfg, self.xp = cfg, xp
        self.lr = cfg.learning_rate
        self.iterations = 0 if cfg.name == "rmsprop" else 1  # as the library counts
        self.buffers = {name: xp.zeros(shape, dtype=dtype) for name in BUFFERS.get(cfg.name, ())}

    @property
    def steps_rows(self) -> bool:
        """Whether `step` may take the rows of a sparse update alone: only plain SGD, whose
        step on a zero row is none (the others move every weight with their buffers)."""
        return self.cfg.name == "sgd"

    def step(self, weights: Any, gradient: Any, rows: Any = None) -> None:
        """One update of `weights` in place against `gradient` (= -dW); with `rows` (SGD
        only) the gradient holds just those rows of the weights, the others being 0."""
        cfg, xp, lr, b = self.cfg, self.xp, self.lr, self.buffers
        if rows is not None:
            if not self.steps_rows:
                raise ValueError(f"optimizer {cfg.name} steps whole matrices, not rows")
            weights[rows] -= lr * gradient
        elif cfg.name == "sgd":
            weights -= lr * gradient
        elif cfg.name in ("momentum", "nesterov"):
            b["velocity"] *= cfg.momentum
            b["velocity"] -= lr * gradient
            if cfg.name == "momentum":
                weights += b["velocity"]
            else:
                weights += cfg.momentum * b["velocity"] - lr * gradient
        elif cfg.name == "adagrad":
            b["cache"] += gradient * gradient
            weights -= lr * gradient / (xp.sqrt(b["cache"]) + cfg.epsilon)
        elif cfg.name == "rmsprop":
            b["cache"] *= cfg.rho
            b["cache"] += (1 - cfg.rho) * gradient * gradient
            weights -= lr * gradient / (xp.sqrt(b["cache"]) + cfg.epsilon)
        elif cfg.name == "adadelta":
            b["cache"] *= cfg.rho
            b["cache"] += (1 - cfg.rho) * gradient * gradient
            update = (
                gradient * xp.sqrt(b["delta"] + cfg.epsilon) / xp.sqrt(b["cache"] + cfg.epsilon)
            )
            weights -= lr * update
            b["delta"] *= cfg.rho
            b["delta"] += (1 - cfg.rho) * update * update
        elif cfg.name == "adam":
            t = self.iterations
            step = lr * math.sqrt(1 - cfg.beta2**t) / (1 - cfg.beta1**t)
            b["m"] *= cfg.beta1
            b["m"] += (1 - cfg.beta1) * gradient
            b["v"] *= cfg.beta2
            b["v"] += (1 - cfg.beta2) * gradient * gradient
            weights -= step * b["m"] / (xp.sqrt(b["v"]) + cfg.epsilon)
        self.lr = self.lr / (cfg.decay * self.iterations + 1.0)
        self.lr = min(max(self.lr, cfg.lr_min), cfg.lr_max if cfg.lr_max else math.inf)
        self.iterations += 1

    def end_epoch(self, epochs_done: int) -> None:
        if self.cfg.linear_decay_epochs:
            fraction = max(0.0, 1.0 - epochs_done / self.cfg.linear_decay_epochs)
            self.lr = self.cfg.learning_rate * fraction

    def state_dict(self, to_host) -> dict[str, np.ndarray]:
        state = {f"optimizer/{k}": to_host(v) for k, v in self.buffers.items()}
        state["optimizer/lr"] = np.array(self.lr)
        state["optimizer/iterations"] = np.array(self.iterations)
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        for key in self.buffers:
            self.buffers[key] = self.xp.asarray(state[f"optimizer/{key}"])
        self.lr = float(state["optimizer/lr"])
        self.iterations = int(state["optimizer/iterations"])
