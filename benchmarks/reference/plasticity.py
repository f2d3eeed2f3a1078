"""Reference loop: a plain numpy transcription of the `plasticity` library's training loop for
BCM and Hopfield (its _fit / _fit_step / _weights_update, its SGD and Adam), the yardstick.

Weights are passed in (so that both sides start alike); batches are given as index arrays
(so that both sides see the same ones); everything else is the library's arithmetic, with its
einsums and its full argsort.
"""

import numpy as np


class SGD:
    def __init__(self, lr=2e-2, decay=0.0):
        self.lr, self.decay, self.iterations = lr, decay, 1

    def update(self, p, g):
        p -= self.lr * g
        self.lr *= 1.0 / (self.decay * self.iterations + 1.0)
        self.iterations += 1
        return p


class Adam:
    def __init__(self, lr=2e-2, beta1=0.9, beta2=0.999, epsilon=1e-8, decay=0.0):
        self.lr, self.b1, self.b2, self.eps, self.decay = lr, beta1, beta2, epsilon, decay
        self.iterations, self.m, self.v = 1, None, None

    def update(self, p, g):
        a_t = self.lr * np.sqrt(1 - self.b2**self.iterations) / (1 - self.b1**self.iterations)
        if self.m is None:
            self.m, self.v = np.zeros_like(p), np.zeros_like(p)
        self.m = self.b1 * self.m + (1 - self.b1) * g
        self.v = self.b2 * self.v + (1 - self.b2) * g * g
        p -= a_t * self.m / (np.sqrt(self.v) + self.eps)
        self.lr *= 1.0 / (self.decay * self.iterations + 1.0)
        self.iterations += 1
        return p


def relu(x):
    return np.maximum(x, 0.0)


def bcm(X, weights, batches, optimizer, activation=relu, strength=0.0, memory=0.5, precision=1e-30):
    """BCM: Y = f(M W X^T); th = mean Y^2; phi = Y (Y - th) / th; dW = phi X / B."""
    weights = weights.copy()
    outputs = len(weights)
    if strength != 0.0:
        L = np.full((outputs, outputs), -strength)
        L[np.eye(outputs, dtype=bool)] = 1
        interaction = np.linalg.inv(L)
    else:
        interaction = np.eye(outputs)
    theta_running = np.zeros(outputs)
    for batch in batches:
        x = X[batch]
        _ = np.einsum("ij, jk -> ik", interaction, weights, optimize=True)
        _ = np.einsum("ik, lk -> il", _, x, optimize=True)
        output = activation(_)
        theta = np.mean(output**2, axis=1)
        theta_running = memory * theta_running + (1 - memory) * theta
        theta = theta.reshape(-1, 1)
        phi = output * (output - theta) * (1.0 / (theta + precision))
        dw = np.einsum("ij, jk -> ik", phi, x, optimize=True)
        dw *= 1.0 / x.shape[0]
        weights = optimizer.update(weights, -dw)
    return weights, theta_running


def hopfield(X, weights, batches, optimizer, p=2.0, k=2, delta=0.4, precision=1e-30):
    """Krotov-Hopfield: winner +1, k-th -delta by a full argsort; dW normalised by its max."""
    weights = weights.copy()
    for batch in batches:
        x = X[batch]
        w = np.sign(weights) * np.absolute(weights) ** (p - 1) if p != 2 else weights
        output = np.einsum("ij, kj -> ik", w, x, optimize=True)
        order = np.argsort(output, axis=0)
        yl = np.zeros_like(output, dtype=float)
        yl[order[-1, :], range(len(batch))] = 1.0
        yl[order[-k, :], range(len(batch))] = -delta
        xx = np.sum(yl * output, axis=1, keepdims=True)
        ds = np.einsum("ij, jk -> ik", yl, x, optimize=True) - xx * weights
        nc = np.max(np.abs(ds))
        ds[:] *= 1.0 / max(nc, precision)
        weights = optimizer.update(weights, -ds)
    return weights
