"""A neighbour on the FORCE task: ReservoirPy's online RLS readout on a fed-back reservoir.

Runs only where ReservoirPy is installed: `make bench` calls it when RESERVOIRPY_PYTHON names
an interpreter that has it (python -m venv /tmp/rpy && /tmp/rpy/bin/pip install reservoirpy):
    python benchmarks/reference/reservoirpy_force.py --units 1000
ReservoirPy 0.4 has no FORCE node; its `RLS` readout fed back into a `Reservoir` with a delay
of one step is the same algorithm (P(0) = I / alpha, RLS every step) on its own form of the
network: the leaky rate update r <- (1 - a) r + a tanh(W r + W_fb z), here with W = g J,
W_fb = u and a = 1 - e^-1 (the seed's step of one time constant), the seed's task (cos 2 pi t /
50, learning until t = 300 of 800) and the same kinds of random draws. Prints one JSON line:
learning steps per second, free-run steps per second and the test RMSE (t >= 300).
"""

import argparse
import json
import math
import time

import numpy as np


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import reservoirpy
    from reservoirpy import Model
    from reservoirpy.nodes import RLS, Reservoir

    n, rng = args.units, np.random.default_rng(args.seed)
    J = rng.normal(0.0, 1.0 / math.sqrt(n), (n, n))
    u = rng.uniform(-1.0, 1.0, n)
    x0 = rng.uniform(-0.5, 0.5, n)
    w0 = rng.uniform(-1 / math.sqrt(n), 1 / math.sqrt(n), (n, 1))
    reservoir = Reservoir(
        units=n, W=1.5 * J, Win=np.stack([np.zeros(n), u], 1), bias=np.zeros(n), lr=1 - math.exp(-1)
    )
    readout = RLS(alpha=1.0, fit_bias=False, Wout=w0)
    model = Model(
        nodes=[reservoir, readout], edges=[(reservoir, 0, readout), (readout, 1, reservoir)]
    )
    times = np.arange(800.0)
    target = np.cos(2 * np.pi * times / 50)[:, None]
    no_input = np.zeros((800, 1))
    model.initialize(no_input[:1], target[:1])
    reservoir.state = {"out": np.tanh(x0)}  # the seed's x(0), as rates

    start = time.perf_counter()
    model.partial_fit(no_input[:300], target[:300])
    learned = time.perf_counter()
    free = model.run(no_input[300:])
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "version": reservoirpy.__version__,
                "learning_steps_per_second": 300 / (learned - start),
                "free_steps_per_second": 500 / (done - learned),
                "test_rmse": float(np.sqrt(np.mean((free - target[300:]) ** 2))),
            }
        )
    )


if __name__ == "__main__":
    main()
