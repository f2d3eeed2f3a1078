"""SoftHebb: soft winner-take-all Hebbian plasticity in convolutional layers, learnt one layer after
another without feedback (Journé, Garcia Rodriguez, Guo & Moraitis, "Hebbian deep learning
without feedback", ICLR 2023; Moraitis et al., Neuromorph. Comput. Eng. 2022), as the authors'
code (SoftHebb, demo.py and hebbconv.py) has it.

A block: batch normalisation without learned parameters, the convolution, the triangle, pooling.
For a minibatch, each output position n of each image has the weighted inputs of the K units

    u_n = W x_n                               x_n: the C k k inputs of the patch (im2col)
    s_n = softmax(t_invert u_n)               over the K units
    y_kn = +s_kn for the unit with the largest u_n, -s_kn for every other unit
    dW  = sum_n y_n x_n^T - diag(sum_n y_n * u_n) W
    dW  = dW / max|dW|
    W_k = W_k + eta_k dW_k,   eta_k = eta_0 (| ||W_k|| - 1 | + 1e-10)^power_lr

so that each unit's weights converge to unit length, at a rate that falls as they near it. The
output passed on is the triangle of the weighted inputs, relu(u - mean over units)^p, pooled.
Batch normalisation normalises each channel by the batch's statistics while its layer learns
(and keeps running averages, momentum 0.1), by the running averages otherwise: a layer that has
not learned yet keeps their initial mean 0 and variance 1, so that the untrained network is the
network as built, the control the paper's "Random" baseline is (its blocks never learn), and an
image's features never depend on the images encoded beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from plastic.config import setting
from plastic.errors import UserError
from plastic.rule import Layout
from plastic.stack import Layer, Stack, check_columns, mode_setting
from plastic.state import array, host_array

BATCH_NORM_EPS = 1e-5  # PyTorch's BatchNorm2d
POOLS = ("max", "avg", "none")


@dataclass
class LayerConfig:
    """One SoftHebb convolutional block."""

    channels: int = setting(96, gt=0, help="K, the units (output channels)")
    kernel: int = setting(5, gt=0, help="k: the units see k x k patches of all input channels")
    padding: int = setting(2, ge=0, help="reflected padding on each side")
    t_invert: float = setting(1.0, gt=0, help="inverse temperature of the soft WTA")
    learning_rate: float = setting(0.08, gt=0, help="eta_0")
    power_lr: float = setting(0.5, ge=0, help="the rate's power of a unit's distance to norm 1")
    triangle_power: float = setting(0.7, gt=0, help="p of the triangle relu(u - mean u)^p")
    pool: str = setting("max_4_2_1", help="kind_size_stride_padding (max, avg) or none")
    init_radius: float = setting(25.0, gt=0, help="weights ~ N(0, (radius / sqrt(C k k))^2)")
    batch_size: int = setting(10, gt=0, help="images per update")
    momentum: float = setting(0.1, gt=0, le=1, help="of the batch norm's running averages")


def channel_grid(channels: int) -> tuple[int, int]:
    """Rows and columns of the grid a unit's kernels are drawn on: one row for up to 3
    channels (a colour image's side by side), else near-square."""
    if channels <= 3:
        return 1, channels
    rows = int(np.sqrt(channels))
    return rows, -(-channels // rows)


def parse_pool(text: str) -> tuple[str, int, int, int]:
    """'max_4_2_1' -> ('max', 4, 2, 1), the code's own notation; 'none' -> ('none', 1, 1, 0)."""
    if text == "none":
        return "none", 1, 1, 0
    parts = text.split("_")
    try:
        kind, size, stride, padding = parts[0], *map(int, parts[1:])
    except ValueError:
        kind = ""
    if kind not in POOLS or len(parts) != 4 or size < 1 or stride < 1 or padding < 0:
        raise UserError(
            f"pool {text!r} is not allowed: write kind_size_stride_padding with kind max or avg "
            "(max_4_2_1, avg_2_2_0), or none"
        )
    return kind, size, stride, padding


@dataclass
class LayerState:
    weights: Any = array()  # W (K x k k C)
    running_mean: Any = array()  # the batch norm's running averages, per input channel
    running_var: Any = array()
    batches_seen: Any = host_array("int64")  # (1,): batches learned from


class SoftHebbConv(Layer):
    """One SoftHebb block: batch norm, soft-WTA Hebbian convolution, triangle, pooling."""

    Config = LayerConfig
    State = LayerState
    metric_names = ("norm_mean", "norm_spread")
    figure_names = ()
    metric_goals = {"norm_spread": "min"}

    def __init__(self, cfg, backend, n_inputs, rng, *, input_shape):
        super().__init__(cfg, backend, n_inputs, rng, input_shape=input_shape)
        channels = self.input_shape[0]
        fan_in = channels * cfg.kernel**2
        # drawn on the host, so that device=cpu and device=gpu start from the same weights
        start = rng.normal(0.0, cfg.init_radius / np.sqrt(fan_in), (cfg.channels, fan_in))
        self.weights = backend.asarray(start)  # (K, k k C), a patch's order: row, col, channel
        self.running_mean = backend.asarray(np.zeros(channels))
        self.running_var = backend.asarray(np.ones(channels))
        self.batches_seen = np.zeros(1, dtype=np.int64)
        self.pooling = parse_pool(cfg.pool)

    @classmethod
    def check(cls, cfg, data=None) -> None:
        parse_pool(cfg.pool)
        if data is not None:
            shape = output_shape(cfg, data.input_shape)
            if min(shape[1:]) < 1:
                raise UserError(
                    f"model.kernel={cfg.kernel} with model.pool={cfg.pool} leaves no output "
                    f"for {data.image_shape[0]}x{data.image_shape[1]} images"
                )

    @property
    def output_shape(self):
        return output_shape(self.cfg, self.input_shape)

    # ------------------------------------------------------------------ the block
    def forward(self, x, learn=False):
        """(B, C, H, W) -> (B, K, h, w). Inside, images are channels-last, so that a patch's
        inputs and a position's units are contiguous."""
        xp, cfg = self.xp, self.cfg
        x = self.normalised(x, learn).transpose(0, 2, 3, 1)
        patches, height, width = im2col(xp, x, cfg.kernel, cfg.padding)  # (B h w, k k C)
        currents = patches @ self.weights.T  # u, (B h w, K)
        if learn:
            self.step(patches, currents)
        out = triangle(xp, currents).reshape(len(x), height, width, cfg.channels)
        # x -> x^p is increasing on x >= 0, so it commutes with a max: raised after a max
        # pooling, on a quarter of the values
        if self.pooling[0] == "avg":
            out = powered(xp, out, cfg.triangle_power)
        out = pooled(xp, out, self.pooling)
        if self.pooling[0] != "avg":
            out = powered(xp, out, cfg.triangle_power)
        return out.transpose(0, 3, 1, 2)

    def normalised(self, x, learn):
        """Batch norm without learned parameters: the batch's statistics while learning (the
        running averages follow them), the running averages otherwise (initially 0 and 1)."""
        xp = self.xp
        if learn:
            mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
            n = x.size // x.shape[1]
            m = self.cfg.momentum
            self.running_mean = (1 - m) * self.running_mean + m * mean
            self.running_var = (1 - m) * self.running_var + m * var * (n / max(n - 1, 1))
            self.batches_seen += 1
        else:
            mean, var = self.running_mean, self.running_var
        scale = 1.0 / xp.sqrt(var + BATCH_NORM_EPS)
        return (x - mean[None, :, None, None]) * scale[None, :, None, None]

    def step(self, patches, currents):
        """The SoftHebb update from the patches x and weighted inputs u (the module's
        docstring), applied with each unit's norm-dependent rate."""
        xp, cfg = self.xp, self.cfg
        scaled = cfg.t_invert * currents
        scaled = xp.exp(scaled - scaled.max(axis=1, keepdims=True))
        soft = scaled / scaled.sum(axis=1, keepdims=True)
        positions = xp.arange(len(currents))
        winners = xp.argmax(currents, axis=1)
        post = -soft
        post[positions, winners] = soft[positions, winners]  # y: the winner's Hebbian
        delta = post.T @ patches
        delta -= (post * currents).sum(axis=0)[:, None] * self.weights
        # dW / max|dW| and each unit's rate folded into one scale, each a pass over W: the
        # last layer's W is 1,536 x 3,456
        largest = xp.maximum(delta.max(), -delta.min()) + 1e-30
        norms = xp.sqrt(xp.einsum("ij,ij->i", self.weights, self.weights))
        rate = cfg.learning_rate * (xp.abs(norms - 1.0) + 1e-10) ** cfg.power_lr
        self.weights += (rate / largest)[:, None] * delta

    # ------------------------------------------------------------------ what is seen
    def receptive_fields(self):
        """Each unit's weights as one tile: its k x k kernel on every input channel, the
        channels on a near-square grid (side by side for 1 to 3 channels)."""
        channels, k = self.input_shape[0], self.cfg.kernel
        rows, columns = channel_grid(channels)
        w = self.backend.to_host(self.weights).reshape(-1, k, k, channels)
        padded = np.zeros((len(w), k, k, rows * columns), dtype=w.dtype)
        padded[..., :channels] = w
        tiles = padded.reshape(len(w), k, k, rows, columns).transpose(0, 3, 1, 4, 2)
        return tiles.reshape(len(w), -1)  # (K, rows k x columns k)

    def layout(self, image_shape):
        rows, columns = channel_grid(self.input_shape[0])
        return Layout((rows * self.cfg.kernel, columns * self.cfg.kernel))

    def describe_fields(self) -> str:
        c, k = self.input_shape[0], self.cfg.kernel
        inputs = "the image" if c == 1 else f"its {c} input channels, a {k}x{k} kernel each"
        return f"{self.cfg.channels} units' {k}x{k} weights on {inputs}"

    def metrics(self):
        norms = self.backend.to_host(self.xp.sqrt(self.xp.einsum("ij,ij->i", *[self.weights] * 2)))
        return {"norm_mean": float(norms.mean()), "norm_spread": float(np.abs(norms - 1).max())}


# ---------------------------------------------------------------------------- array steps
def output_shape(cfg, input_shape) -> tuple[int, int, int]:
    """(K, height, width) after the convolution (stride 1) and the pooling."""
    _, height, width = input_shape
    kind, size, stride, padding = parse_pool(cfg.pool)
    height, width = (n + 2 * cfg.padding - cfg.kernel + 1 for n in (height, width))
    if kind != "none":
        height, width = ((n + 2 * padding - size) // stride + 1 for n in (height, width))
    return cfg.channels, height, width


def im2col(xp, x, kernel: int, padding: int):
    """The k x k patches of the channels-last x (B, H, W, C), reflect-padded: (B h w, k k C) in
    the weights' order (row, column, channel), and the output's h and w. One copy an offset."""
    x = padded(xp, x, padding, "reflect")
    batch, height, width, channels = x.shape
    h, w = height - kernel + 1, width - kernel + 1
    cols = xp.empty((batch, h, w, kernel, kernel, channels), dtype=x.dtype)
    for i in range(kernel):
        for j in range(kernel):
            cols[:, :, :, i, j, :] = x[:, i : i + h, j : j + w, :]
    return cols.reshape(batch * h * w, kernel * kernel * channels), h, w


def padded(xp, x, p: int, mode: str):
    """The channels-last (B, H, W, C) padded by p on each side of H and W: reflected (without
    repeating the edge, as PyTorch's 'reflect'), or with -inf or zeros. (numpy's pad does the
    same at several times the cost.)"""
    if not p:
        return x
    batch, height, width, channels = x.shape
    fill = -np.inf if mode == "-inf" else 0.0
    out = xp.full((batch, height + 2 * p, width + 2 * p, channels), fill, dtype=x.dtype)
    out[:, p : p + height, p : p + width] = x
    if mode == "reflect":
        for i in range(1, p + 1):
            out[:, p - i, p : p + width] = x[:, i]
            out[:, p + height - 1 + i, p : p + width] = x[:, height - 1 - i]
        for j in range(1, p + 1):  # the columns, corners included, from the padded rows
            out[:, :, p - j] = out[:, :, p + j]
            out[:, :, p + width - 1 + j] = out[:, :, p + width - 1 - j]
    return out


def triangle(xp, currents):
    """relu(u - mean of u over the units) at each position (rows); the power comes apart. The
    means as a matrix-vector product: a BLAS call, where a row reduction is not."""
    mean = currents @ xp.full(currents.shape[1], 1.0 / currents.shape[1], dtype=currents.dtype)
    out = currents - mean[:, None]
    return xp.maximum(out, 0.0, out=out)


def powered(xp, x, power: float):
    return x if power == 1 else x**power


def pooled(xp, x, pooling):
    """Max or average pooling of the channels-last (B, H, W, K); max pads with -inf, as
    PyTorch's MaxPool2d (average pooling comes without padding, as the paper's)."""
    kind, size, stride, padding = pooling
    if kind == "none":
        return x
    x = padded(xp, x, padding, "-inf" if kind == "max" else "zeros")
    height, width = ((n - size) // stride + 1 for n in x.shape[1:3])
    rows, columns = stride * (height - 1) + 1, stride * (width - 1) + 1
    out = None
    for i in range(size):
        for j in range(size):
            part = x[:, i : i + rows : stride, j : j + columns : stride, :]
            if out is None:
                out = part.copy()
            elif kind == "max":
                xp.maximum(out, part, out=out)
            else:
                out += part
    return out if kind == "max" else out / (size * size)


# ---------------------------------------------------------------------------- the network
def _layers(*values, help: str):
    """A setting with one value per layer (checked by SoftHebb.check)."""
    return field(default_factory=lambda: list(values), metadata={"rules": {}, "help": help})


@dataclass
class Config:
    """The network: one value per layer in each list (the paper's three layers by default)."""

    channels: list[int] = _layers(96, 384, 1536, help="K, each layer's units")
    kernel: list[int] = _layers(5, 3, 3, help="each layer's k: its units see k x k patches")
    padding: list[int] = _layers(2, 1, 1, help="each layer's reflected padding")
    t_invert: list[float] = _layers(1.0, 0.65, 0.25, help="each soft WTA's inverse temperature")
    learning_rate: list[float] = _layers(0.08, 0.005, 0.01, help="each layer's eta_0")
    triangle_power: list[float] = _layers(0.7, 1.4, 1.0, help="each triangle's power p")
    pool: list[str] = _layers(
        "max_4_2_1", "max_4_2_1", "avg_2_2_0", help="each pooling: kind_size_stride_padding, none"
    )
    power_lr: float = setting(0.5, ge=0, help="the rate's power of a unit's distance to norm 1")
    init_radius: float = setting(25.0, gt=0, help="weights ~ N(0, (radius / sqrt(C k k))^2)")
    batch_size: int = setting(10, gt=0, help="images per update")
    mode: str = mode_setting("greedy")
    epochs_per_layer: int = setting(1, gt=0, help="passes over the data each layer learns")


PER_LAYER = ("channels", "kernel", "padding", "t_invert", "learning_rate", "triangle_power", "pool")
POSITIVE = ("channels", "kernel", "t_invert", "learning_rate", "triangle_power")


class SoftHebb(Stack):
    """SoftHebb's convolutional network: blocks learnt one after another by soft-WTA plasticity."""

    Config = Config
    # the per-layer metrics depend on the depth: an optimize_metric is checked once the run ends
    figure_names = None

    @classmethod
    def depth(cls, cfg) -> int:
        return check_columns(cfg, PER_LAYER)

    @classmethod
    def check(cls, cfg, data=None) -> None:
        depth = cls.depth(cfg)
        for name in PER_LAYER:
            for i, value in enumerate(getattr(cfg, name)):
                bad = (name in POSITIVE and value <= 0) or (name == "padding" and value < 0)
                if bad:
                    rule = ">= 0" if name == "padding" else "> 0"
                    raise UserError(f"model.{name}[{i}]={value!r} is not allowed: must be {rule}")
        if data is None:
            for text in cfg.pool:
                parse_pool(text)
            return
        shape = data.input_shape
        for i in range(depth):
            layer = cls.layer_config(cfg, i)
            try:
                SoftHebbConv.check(layer, _Shaped(shape))
            except UserError as error:
                raise UserError(f"layer {i + 1}: {error}") from None
            shape = output_shape(layer, shape)
        if cfg.batch_size > data.n_train:
            raise UserError(
                f"model.batch_size={cfg.batch_size} is not allowed: the dataset has "
                f"{data.n_train} training samples"
            )

    @classmethod
    def layer_config(cls, cfg, i: int) -> LayerConfig:
        return LayerConfig(
            **{name: getattr(cfg, name)[i] for name in PER_LAYER},
            power_lr=cfg.power_lr,
            init_radius=cfg.init_radius,
            batch_size=cfg.batch_size,
        )

    @classmethod
    def state_bytes(cls, cfg, n_inputs, itemsize):
        # the weights; a batch's patches and currents come and go
        channels, total, fan_in_channels = cfg.channels, 0, 3
        for k, c in zip(cfg.kernel, channels, strict=False):
            total += c * fan_in_channels * k * k
            fan_in_channels = c
        return 2 * total * itemsize

    def build_layers(self, input_shape, rng):
        layers = []
        for i in range(self.depth(self.cfg)):
            layer_cfg = self.layer_config(self.cfg, i)
            n_inputs = int(np.prod(input_shape))
            layer = SoftHebbConv(layer_cfg, self.backend, n_inputs, rng, input_shape=input_shape)
            layers.append(layer)
            input_shape = layer.output_shape
        return layers


@dataclass
class _Shaped:
    """What SoftHebbConv.check reads of a dataset: the input shape (of a deeper layer)."""

    input_shape: tuple[int, int, int]

    @property
    def image_shape(self):
        return self.input_shape[1:]
