"""Reference loop: a plain numpy transcription of ANNarchy's bar-learning tutorial (the yardstick).

Step by step as ANNarchy's explicit Euler does it (dt = 1 ms): every neuron reads the weighted
sums of the previous rates, then all rates are updated (clipped at 0), then all synapses with
the rates just computed (clipped at 0). No compilation, no tricks: one numpy call per term.
"""

import numpy as np


def simulate(
    images,
    feedforward,
    lateral,
    rates,
    n_steps=50,
    tau=10.0,
    tau_w=2000.0,
    alpha_ff=8.0,
    alpha_lat=0.3,
    dt=1.0,
):
    """Run one trial per image; returns the new (feedforward, lateral, rates)."""
    feedforward, lateral, rates = feedforward.copy(), lateral.copy(), rates.copy()
    no_self = 1.0 - np.eye(len(rates))
    for x in images:  # a trial: clamp the image, simulate n_steps
        for _ in range(n_steps):
            sum_exc = feedforward @ x
            sum_inh = lateral @ rates
            rates = rates + dt * (sum_exc - sum_inh - rates) / tau
            rates = np.maximum(rates, 0.0)
            post = rates[:, None]
            dw = (x[None, :] * post - alpha_ff * post**2 * feedforward) / tau_w
            feedforward = np.maximum(feedforward + dt * dw, 0.0)
            dv = (rates[None, :] * post - alpha_lat * post**2 * lateral) / tau_w
            lateral = np.maximum(lateral + dt * dv, 0.0) * no_self
    return feedforward, lateral, rates
