"""SoftHebb as the authors' own code runs it, on MNIST: a cross-check of plastic's figures.

Loads the layer, the triangle, the optimiser and the readout's schedule from the authors'
demo.py (a clone of their public repository, NeuromorphicComputing/SoftHebb; nothing of it is
copied here), builds their three blocks at the widths asked, lets the layers learn greedily
(their multi_layer.py's default, 'successive': one epoch a layer, batches of 10, the earlier
blocks in eval mode), then fits demo.py's readout (Adam 0.001 on its step schedule, batches of
64, dropout 0.5) on the frozen features of the learned network and of an untrained one (drawn
the same way, its batch norms at their initial statistics, as the authors' code leaves them).
Prints each layer's mean weight norm, the mean cosine between its units and its units with a
near-twin, and both test accuracies (with --tracked-control, a third: the untrained network
whose batch norms have followed the data, plasticity off). Needs PyTorch (CPU is enough; not
a dependency of plastic):

    python benchmarks/reference/softhebb_authors.py --demo SoftHebb/demo.py \\
        --mnist mnist.npz --channels 8,32,128 --images 60000 --epochs 10

One change, not of the arithmetic: recent PyTorch refuses a per-unit (tensor) rate in its
scheduler machinery, so WeightNormDependentLR.get_lr's formula is applied by hand after each
step, as the scheduler would.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
import types

import numpy as np


def load_demo(path: str):
    """demo.py as a module; torchvision (there only for CIFAR-10's loader) stubbed if absent."""
    if importlib.util.find_spec("torchvision") is None:
        stub = types.ModuleType("torchvision")
        stub.datasets = types.SimpleNamespace(CIFAR10=object)
        sys.modules["torchvision"] = stub
    spec = importlib.util.spec_from_file_location("softhebb_demo", path)
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    return demo


def build(demo, nn, channels):
    """The blocks of demo.py's DeepSoftHebb, for one-channel images, at the given widths."""
    settings = [  # kernel, padding, t_invert, triangle power, pooling
        (5, 2, 1.0, 0.7, nn.MaxPool2d(4, 2, 1)),
        (3, 1, 0.65, 1.4, nn.MaxPool2d(4, 2, 1)),
        (3, 1, 0.25, 1.0, nn.AvgPool2d(2, 2, 0)),
    ]
    blocks, inputs = [], 1
    for units, (k, p, t, power, pool) in zip(channels, settings, strict=True):
        conv = demo.SoftHebbConv2d(inputs, units, k, padding=p, t_invert=t)
        blocks.append(
            nn.ModuleDict(
                dict(
                    bn=nn.BatchNorm2d(inputs, affine=False),
                    conv=conv,
                    act=demo.Triangle(power),
                    pool=pool,
                )
            )
        )
        inputs = units
    return blocks


def through(block, h):
    return block["pool"](block["act"](block["conv"](block["bn"](h))))


def learn(demo, torch, blocks, images, rng, plastic=True):
    """Greedy: each block one epoch of batches of 10, the rates of demo.py's main loop. With
    plastic=False the weights stay as drawn and only the batch norms' running averages follow
    the batches, as they do while the layers learn."""
    for i, block in enumerate(blocks):
        rate = (0.08, 0.005, 0.01)[i]
        optimiser = demo.TensorLRSGD([{"params": block["conv"].parameters(), "lr": -rate}], lr=0)
        group = optimiser.param_groups[0]

        def norm_dependent_rate(group=group, rate=rate):  # WeightNormDependentLR.get_lr
            w = group["params"][0]
            norm = torch.linalg.norm(w.view(w.shape[0], -1), dim=1, ord=2)
            group["lr"] = -rate * ((torch.abs(norm - 1) + 1e-10) ** 0.5)[:, None, None, None]

        norm_dependent_rate()
        for b in blocks:
            b.eval()
        block.train()
        order = torch.tensor(rng.permutation(len(images)))
        for start in range(0, len(images), 10):
            optimiser.zero_grad()
            with torch.no_grad():
                h = images[order[start : start + 10]]
                for b in blocks[: i + 1]:
                    h = through(b, h)
            if plastic:
                optimiser.step()
                norm_dependent_rate()
        block.eval()


def features(torch, blocks, images):
    for b in blocks:
        b.eval()
    parts = []
    with torch.no_grad():
        for start in range(0, len(images), 1000):
            h = images[start : start + 1000]
            for b in blocks:
                h = through(b, h)
            parts.append(h.flatten(1))
    return torch.cat(parts)


def readout(demo, torch, nn, train, labels, test, test_labels, epochs, seed):
    """demo.py's supervised phase on fixed features."""
    torch.manual_seed(seed)
    classifier, dropout = nn.Linear(train.shape[1], 10), nn.Dropout(0.5)
    classifier.weight.data = 0.11048543456039805 * torch.rand(10, train.shape[1])
    optimiser = torch.optim.Adam(classifier.parameters(), lr=0.001)
    schedule = demo.CustomStepLR(optimiser, nb_epochs=epochs)
    loss = nn.CrossEntropyLoss()
    for _ in range(epochs):
        classifier.train()
        dropout.train()
        order = torch.randperm(len(train))
        for start in range(0, len(train), 64):
            batch = order[start : start + 64]
            optimiser.zero_grad()
            loss(classifier(dropout(train[batch])), labels[batch]).backward()
            optimiser.step()
        schedule.step()
    classifier.eval()
    with torch.no_grad():
        return float((classifier(test).argmax(1) == test_labels).float().mean())


def layer_figures(blocks):
    """Per layer: the units' mean weight norm, the mean cosine between two units, and the units
    with a near-twin (cosine > 0.95, as plastic's duplicate_fields). Kept free of plastic's
    imports, so that the script runs wherever PyTorch does."""
    out = {}
    for i, b in enumerate(blocks):
        w = b["conv"].weight.detach().reshape(b["conv"].weight.shape[0], -1).numpy()
        norms = np.linalg.norm(w, axis=1)
        unit = w / norms[:, None]
        cosines = unit @ unit.T
        np.fill_diagonal(cosines, np.nan)
        out[f"layer{i}"] = {
            "norm_mean": float(norms.mean()),
            "mean_cosine": float(np.nanmean(cosines)),
            "near_twins": int((np.nanmax(cosines, axis=1) > 0.95).sum()),
        }
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", required=True, help="the authors' demo.py")
    parser.add_argument(
        "--mnist", required=True, help="an .npz with x_train, y_train, x_test, y_test"
    )
    parser.add_argument("--channels", default="96,384,1536", help="units of the three layers")
    parser.add_argument(
        "--images",
        type=int,
        default=60_000,
        help="training images: each layer learns them, the readout fits them",
    )
    parser.add_argument("--epochs", type=int, default=50, help="readout epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--tracked-control",
        action="store_true",
        help="also read out the untrained network with its batch norms' running averages "
        "tracked over the data as learning tracks them, plasticity off (a stronger control)",
    )
    args = parser.parse_args(argv)

    import torch
    from torch import nn

    demo = load_demo(args.demo)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    with np.load(args.mnist) as data:
        x_train = torch.tensor(data["x_train"], dtype=torch.float32).div_(255).unsqueeze(1)
        x_test = torch.tensor(data["x_test"], dtype=torch.float32).div_(255).unsqueeze(1)
        y_train, y_test = torch.tensor(data["y_train"]).long(), torch.tensor(data["y_test"]).long()
    channels = [int(c) for c in args.channels.split(",")]
    learned, untrained = build(demo, nn, channels), build(demo, nn, channels)

    start = time.time()
    x_train, y_train = x_train[: args.images], y_train[: args.images]  # as dataset.n_train
    learn(demo, torch, learned, x_train, rng)
    result = {"channels": channels, "images": args.images, "learning_s": round(time.time() - start)}
    result.update(layer_figures(learned))

    def accuracy(blocks):
        train, test = features(torch, blocks, x_train), features(torch, blocks, x_test)
        return readout(demo, torch, nn, train, y_train, test, y_test, args.epochs, args.seed)

    result["learned"], result["untrained"] = accuracy(learned), accuracy(untrained)
    if args.tracked_control:  # after the untrained readout: tracking changes its batch norms
        learn(demo, torch, untrained, x_train, rng, plastic=False)
        result["untrained_tracked"] = accuracy(untrained)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
