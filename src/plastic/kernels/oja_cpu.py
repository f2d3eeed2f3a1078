"""Oja's trials compiled for the CPU (numba): the reference is `Oja.trials` (plastic.models.oja)."""

from __future__ import annotations

import numba
import numpy as np

from plastic.models.oja import MIN_WEIGHT


def trials(rule, images, rates, mean_rates, learn_feedforward, learn_lateral):
    """`Oja.trials` on host arrays, in one compiled call."""
    cfg = rule.cfg
    rate_step, learning_step = rule.step_sizes
    run_trials(
        rule.feedforward,
        rule.lateral,
        rates,
        images,
        mean_rates,
        cfg.steps_per_trial,
        rate_step,
        learning_step,
        cfg.alpha_feedforward,
        cfg.alpha_lateral,
        learn_feedforward,
        learn_lateral,
    )


@numba.njit(cache=True)
def run_trials(
    feedforward,
    lateral,
    rates,
    images,
    mean_rates,
    n_steps,
    rate_step,
    learning_step,
    alpha_feedforward,
    alpha_lateral,
    learn_feedforward,
    learn_lateral,
):
    """Each image clamped for n_steps Euler steps; updates all arrays in place (compiled, CPU)."""
    n_units, n_inputs = feedforward.shape
    previous = np.empty_like(rates)
    for t in range(len(images)):
        x = images[t]
        for _ in range(n_steps):
            previous[:] = rates
            for j in range(n_units):
                excitation = 0.0
                for i in range(n_inputs):
                    excitation += feedforward[j, i] * x[i]
                inhibition = 0.0
                for k in range(n_units):
                    inhibition += lateral[j, k] * previous[k]
                r = previous[j] + rate_step * (excitation - inhibition - previous[j])
                rates[j] = r if r > 0.0 else 0.0
                mean_rates[t, j] += rates[j] / n_steps
            for j in range(n_units):
                post = rates[j]
                # A silent unit leaves its weights as they are (both terms of the rule vanish and
                # they are already >= 0), so its rows are skipped: exact, and most units are silent.
                if post == 0.0:
                    continue
                if learn_feedforward:
                    decay = alpha_feedforward * post * post
                    for i in range(n_inputs):
                        w = feedforward[j, i] + learning_step * (
                            x[i] * post - decay * feedforward[j, i]
                        )
                        feedforward[j, i] = w if w > MIN_WEIGHT else MIN_WEIGHT
                if learn_lateral:
                    decay = alpha_lateral * post * post
                    for k in range(n_units):
                        if k != j:
                            v = lateral[j, k] + learning_step * (
                                rates[k] * post - decay * lateral[j, k]
                            )
                            lateral[j, k] = v if v > MIN_WEIGHT else MIN_WEIGHT
