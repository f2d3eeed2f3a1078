"""The yardstick's yardstick: ANNarchy's own bar-learning tutorial, with the spec's parameters.

Runs only where ANNarchy is installed (it compiles the network with a C++ compiler):
    python benchmarks/reference/annarchy_bars.py --seed 0
prints the bar coverage after 10,000 trials (plastic's measure) and ANNarchy's trials per second.
`make bench` calls it when `import ANNarchy` works in the interpreter named by ANNARCHY_PYTHON.
"""

import argparse
import json
import time

import numpy as np


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trials", type=int, default=10_000)
    args = parser.parse_args()

    import ANNarchy as ann

    InputNeuron = ann.Neuron(parameters="r = 0.0")
    LeakyNeuron = ann.Neuron(
        parameters="tau = 10.0 : population",
        equations="tau * dr/dt + r = sum(exc) - sum(inh) : min=0.0",
    )
    Oja = ann.Synapse(
        parameters="""
            tau = 2000.0 : postsynaptic
            alpha = 8.0 : postsynaptic
            min_w = 0.0 : postsynaptic
        """,
        equations="tau * dw/dt = pre.r * post.r - alpha * post.r^2 * w : min=min_w",
    )
    net = ann.Network(dt=1.0, seed=args.seed)
    inp = net.create(geometry=(8, 8), neuron=InputNeuron)
    pop = net.create(geometry=(8, 4), neuron=LeakyNeuron)
    ff = net.connect(pre=inp, post=pop, target="exc", synapse=Oja)
    ff.all_to_all(weights=ann.Uniform(0.0, 0.5))
    lat = net.connect(pre=pop, post=pop, target="inh", synapse=Oja)
    lat.all_to_all(weights=ann.Uniform(0.0, 1.0))
    lat.alpha = 0.3
    net.compile()

    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    for _ in range(args.trials):
        active = rng.random(16) < 1 / 8
        image = (active[:8, None] | active[None, 8:]).astype(float)
        inp.r = image
        net.simulate(50.0)
    seconds = time.perf_counter() - start

    fields = np.array([ff[i].w for i in range(pop.size)])
    templates = np.zeros((16, 8, 8))
    for i in range(8):
        templates[i, i, :] = 1
        templates[8 + i, :, i] = 1
    templates = templates.reshape(16, 64)
    f = fields / np.maximum(np.linalg.norm(fields, axis=1, keepdims=True), 1e-12)
    t = templates / np.linalg.norm(templates, axis=1, keepdims=True)
    cos = f @ t.T
    best = cos.max(axis=1)
    selective = best >= 0.8
    print(
        json.dumps(
            {
                "version": ann.__version__,
                "seed": args.seed,
                "trials_per_second": args.trials / seconds,
                "bar_coverage": int(len(np.unique(cos.argmax(axis=1)[selective]))),
                "selective_units": int(selective.sum()),
                "mean_best_cosine": float(best.mean()),
            }
        )
    )


if __name__ == "__main__":
    main()
