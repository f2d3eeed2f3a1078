"""Reference loop: a plain numpy transcription of SoftHebb's convolutional layer (Journé et al.,
ICLR 2023), line for line from the authors' demo.py (SoftHebbConv2d.forward, Triangle,
WeightNormDependentLR, TensorLRSGD and DeepSoftHebb's blocks), the yardstick.

Where PyTorch calls F.conv2d, this file writes the sum out with sliding windows (einsum), as
the definition of a cross-correlation: the weighted input u and the update's y*x term, which
the demo computes as the convolution of the inputs (channels first) with the activations.
Weights are passed in, so that both sides start alike.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def reflect_pad(x, padding):
    """F.pad(x, (p, p, p, p), 'reflect') on (B, C, H, W)."""
    if padding == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), mode="reflect")


def conv2d(x, weight):
    """F.conv2d(x, weight), stride 1, no padding: (B, C, H, W) * (O, C, k, k) -> (B, O, H', W')."""
    k = weight.shape[-1]
    windows = sliding_window_view(x, (k, k), axis=(2, 3))  # B, C, H', W', k, k
    return np.einsum("bchwij,ocij->bohw", windows, weight, optimize=True)


def softhebb_step(x, weight, t_invert, learning_rate, power_lr=0.5, padding=0):
    """One training forward of SoftHebbConv2d and the optimizer step that follows it.

    x: (B, C, H, W) inputs (after the block's batch norm); weight: (O, C, k, k).
    Returns the new weight and the weighted input u (what the layer passes on)."""
    x = reflect_pad(x, padding)
    weighted_input = conv2d(x, weight)  # u, (B, O, H', W')
    batch_size, out_channels, height_out, width_out = weighted_input.shape
    # flat_weighted_inputs = u.transpose(0, 1).reshape(out_channels, -1)
    flat = weighted_input.transpose(1, 0, 2, 3).reshape(out_channels, -1)
    # softmax(t_invert * u, dim=0)
    scaled = t_invert * flat
    scaled = np.exp(scaled - scaled.max(axis=0, keepdims=True))
    activations = -(scaled / scaled.sum(axis=0, keepdims=True))  # all anti-Hebbian
    winners = np.argmax(flat, axis=0)
    columns = np.arange(flat.shape[1])
    activations[winners, columns] = -activations[winners, columns]  # the winners Hebbian
    y = activations.reshape(out_channels, batch_size, height_out, width_out).transpose(1, 0, 2, 3)
    # yx = conv2d(x^T, y^T)^T: each pair of input and activation pixels adds to the kernel
    # element that joined them
    k = weight.shape[-1]
    windows = sliding_window_view(x, (height_out, width_out), axis=(2, 3))  # B, C, k, k, H', W'
    yx = np.einsum("bcijhw,bohw->ocij", windows[:, :, :k, :k], y, optimize=True)
    yu = np.sum(y * weighted_input, axis=(0, 2, 3))
    delta = yx - yu.reshape(-1, 1, 1, 1) * weight
    delta = delta / (np.abs(delta).max() + 1e-30)
    # WeightNormDependentLR: lr_0 * (|‖w‖ - 1| + 1e-10) ** power_lr, per neuron, from the
    # weights before the step; TensorLRSGD with a negative lr ascends the update
    norms = np.linalg.norm(weight.reshape(out_channels, -1), axis=1)
    rate = learning_rate * (np.abs(norms - 1) + 1e-10) ** power_lr
    return weight + rate[:, None, None, None] * delta, weighted_input


def batch_norm(x, mean=None, var=None, eps=1e-5):
    """BatchNorm2d(affine=False): the batch's statistics (training), else the running ones."""
    if mean is None:
        mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    return (x - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + eps)


def triangle(u, power):
    """Triangle: relu(u - mean over channels) ** power."""
    return np.maximum(u - u.mean(axis=1, keepdims=True), 0.0) ** power


def max_pool(x, size, stride, padding):
    """MaxPool2d(size, stride, padding): padded with -inf."""
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), constant_values=-np.inf)
    windows = sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]
    return windows.max(axis=(-2, -1))


def avg_pool(x, size, stride):
    """AvgPool2d(size, stride), no padding."""
    windows = sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]
    return windows.mean(axis=(-2, -1))


def block(x, weight, padding, triangle_power, pool, learn=None):
    """One of DeepSoftHebb's blocks on (B, C, H, W): batch norm (the batch's statistics), the
    SoftHebb convolution (learning when `learn` = (t_invert, learning_rate) is given), the
    triangle and the pooling ("max", size, stride, padding) or ("avg", size, stride, 0).
    Returns the block's output and the weights after the step."""
    x = batch_norm(x)
    if learn is None:
        u = conv2d(reflect_pad(x, padding), weight)
    else:
        weight, u = softhebb_step(x, weight, *learn, padding=padding)
    out = triangle(u, triangle_power)
    kind, size, stride, pad = pool
    out = max_pool(out, size, stride, pad) if kind == "max" else avg_pool(out, size, stride)
    return out, weight
