"""Oja's rule with lateral inhibition: the bar-learning network of the ANNarchy tutorial.

Rates of the n units (input x clamped for a trial, explicit Euler, r clipped at 0):

    tau  dr_j/dt  = -r_j + sum_i w_ji x_i - sum_{k != j} v_jk r_k

Feedforward w (n x m) and lateral inhibitory v (n x n, no self-connection) follow Oja's rule,
each weight clipped at 0:

    tau_w dw_ji/dt = x_i r_j - alpha_w r_j^2 w_ji        (alpha_w = 8)
    tau_w dv_jk/dt = r_k r_j - alpha_v r_j^2 v_jk        (alpha_v = 0.3)

One Euler step (dt = 1 ms): every unit reads the weighted sums of the previous step's rates,
then all rates are updated, then all weights, with the rates just computed. A trial clamps one
image for 50 steps; rates carry over from trial to trial.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from plastic.config import setting
from plastic.rule import Analysis, FeatureLearner
from plastic.state import array
from plastic.views import Panels

MIN_WEIGHT = 0.0  # both projections are clipped at 0 (ANNarchy's min_w)


@dataclass
class Config:
    n_units: int = setting(32, gt=0)
    tau: float = setting(10.0, gt=0, help="ms, time constant of the rates")
    tau_learning: float = setting(2000.0, gt=0, help="ms, time constant of both Oja rules")
    alpha_feedforward: float = setting(8.0, ge=0, help="Oja's decay on the feedforward weights")
    alpha_lateral: float = setting(0.3, ge=0, help="Oja's decay on the lateral weights")
    lateral_inhibition: bool = True
    dt: float = setting(1.0, gt=0, help="ms, explicit Euler step")
    steps_per_trial: int = setting(50, gt=0, help="Euler steps an image stays clamped")
    feedforward_init_max: float = setting(0.5, ge=0, help="w ~ U(0, this)")
    lateral_init_max: float = setting(1.0, ge=0, help="v ~ U(0, this)")


@dataclass
class State:
    feedforward: Any = array()  # w (n x m)
    lateral: Any = array()  # v (n x n), zero diagonal
    rates: Any = array()  # r, carried from trial to trial


class Oja(FeatureLearner):
    """Oja's rule with lateral inhibition (ANNarchy's bar-learning tutorial)."""

    Config = Config
    State = State
    kernels = {"trials": {"cpu": "plastic.kernels.oja_cpu:trials"}}
    kernel_tolerance = 1e-9  # the compiled loop sums in another order
    figure_names = ()

    def __init__(self, cfg, backend, n_inputs, rng):
        super().__init__(cfg, backend, n_inputs, rng)
        n = cfg.n_units
        # Drawn on the host so that device=cpu and device=gpu start from the same weights.
        lateral = rng.uniform(0.0, cfg.lateral_init_max, (n, n))
        np.fill_diagonal(lateral, 0.0)
        if not cfg.lateral_inhibition:
            lateral[:] = 0.0
        self.feedforward = backend.asarray(
            rng.uniform(0.0, cfg.feedforward_init_max, (n, n_inputs))
        )
        self.lateral = backend.asarray(lateral)
        self.rates = backend.xp.zeros(n, dtype=backend.dtype)
        self.last_input = backend.xp.zeros(n_inputs, dtype=backend.dtype)
        self.step_sizes = (cfg.dt / cfg.tau, cfg.dt / cfg.tau_learning)

    @classmethod
    def state_bytes(cls, cfg, n_inputs, itemsize):
        return (cfg.n_units * n_inputs + cfg.n_units**2) * itemsize

    def learn(self, block):
        self._run(block, self.rates, learn=True)
        self.last_input = block[-1]

    def encode(self, x):
        """The mean rate of each unit over one trial on each input, from rest, without learning.

        The mean over the trial rather than the last step: under strong inhibition the Euler
        dynamics can settle into a period-2 cycle whose last step happens to be silent.
        """
        x = self.backend.asarray(x)
        out = self.xp.zeros((len(x), self.cfg.n_units), dtype=self.backend.dtype)
        for t in range(len(x)):
            rates = self.xp.zeros(self.cfg.n_units, dtype=self.backend.dtype)
            out[t] = self._run(x[t : t + 1], rates, learn=False)[0]
        return self.backend.to_host(out)

    def receptive_fields(self):
        return self.backend.to_host(self.feedforward)

    def analyse(self, dataset):
        """The network after the last trial: its last input and rates beside the fields."""
        vectors = {
            "input": self.backend.to_host(self.last_input),
            "activity": self.backend.to_host(self.rates),
        }
        return Analysis(views=[Panels("state", vectors, self.receptive_fields())])

    def _run(self, images, rates, learn):
        """Run the trials in place; returns each trial's mean rates (n_images, n_units)."""
        mean_rates = self.xp.zeros((len(images), self.cfg.n_units), dtype=self.backend.dtype)
        self.trials(images, rates, mean_rates, learn, learn and self.cfg.lateral_inhibition)
        return mean_rates

    def trials(self, images, rates, mean_rates, learn_feedforward, learn_lateral):
        """The reference: each image clamped for steps_per_trial Euler steps, as the equations
        read, in the array namespace; updates the weights, `rates` and `mean_rates` in place."""
        cfg, xp = self.cfg, self.xp
        rate_step, learning_step = self.step_sizes
        feedforward, lateral = self.feedforward, self.lateral
        diagonal = xp.eye(len(rates), dtype=bool)
        for t, x in enumerate(images):
            for _ in range(cfg.steps_per_trial):
                drive = feedforward @ x - lateral @ rates
                rates[:] = xp.maximum(rates + rate_step * (drive - rates), 0.0)
                mean_rates[t] += rates / cfg.steps_per_trial
                post = rates[:, None]
                if learn_feedforward:
                    feedforward += learning_step * (
                        post * x[None, :] - cfg.alpha_feedforward * post**2 * feedforward
                    )
                    xp.maximum(feedforward, MIN_WEIGHT, out=feedforward)
                if learn_lateral:
                    lateral += learning_step * (
                        post * rates[None, :] - cfg.alpha_lateral * post**2 * lateral
                    )
                    xp.maximum(lateral, MIN_WEIGHT, out=lateral)
                    lateral[diagonal] = 0.0
