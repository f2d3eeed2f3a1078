"""Reference loop: the seed notebook's FORCE loop, transcribed (scipy's adaptive ODE solver over
each step with the rates held fixed, numpy RLS with a dense outer product): the yardstick.
"""

import numpy as np
from scipy.integrate import solve_ivp


def simulate(J, u, w, x0, target, g=1.5, dt=1.0, duration=800.0, train_until=300.0, alpha=1.0):
    """Returns the readout trace z (one value per step) and the final readout weights."""
    n = len(x0)
    P = np.eye(n) / alpha
    x, w = x0.copy(), w.copy()
    trace = []
    for step in range(int(round(duration / dt))):
        t = step * dt
        r = np.tanh(x)
        z = w @ r
        trace.append(z)
        if t < train_until:
            e = target(t) - z
            q = P @ r
            c = 1.0 / (1.0 + q @ r)
            P = P - c * np.outer(q, q)
            w = w + c * e * q
        drive = g * (J @ r) + u * (w @ r)  # the feedback of the updated readout
        solution = solve_ivp(
            lambda _, x, drive=drive: -x + drive,
            (t, t + dt),
            x,
            method="DOP853",
            rtol=1e-11,
            atol=1e-12,
        )
        x = solution.y[:, -1]
    return np.array(trace), w
