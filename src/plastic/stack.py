"""Deep local learning: layers that learn one after another, each a rule of its own.

A `Layer` is a `FeatureLearner` on images that maps a batch (B, C, H, W) of device arrays to the
next layer's input, learning or not (`forward`); alone, it is a model like any other. A `Stack`
holds layers and is itself a `FeatureLearner`: it learns them

- greedily (`mode: greedy`, as the SoftHebb paper reports): the first layer for
  `epochs_per_layer` passes over the data, then the second on the frozen first's outputs, ...;
- or all at once (`mode: consecutive`): every layer learns from each batch, on the outputs
  that the layers below give before their own step.

Its encoding is the last layer's output, flattened; its fields are the first layer's, and its
analysis draws every layer's. A rule author writes a `Layer` and a `Stack` that builds them
(`build_layers`); checkpoints, the divergence guard and the conformance kit see every layer.

    class MyStack(Stack):
        Config = MyStackConfig            # with mode, epochs_per_layer and batch_size
        def build_layers(self, input_shape, rng):
            return [MyLayer(layer_cfg, self.backend, n_inputs, rng, input_shape=input_shape), ...]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from plastic.config import setting
from plastic.errors import UserError
from plastic.rule import Analysis, FeatureLearner, Layout
from plastic.state import host_array, restore, saved
from plastic.views import Mosaic

MODES = ("greedy", "consecutive")
ENCODE_CHUNK = 100  # images encoded at once: a deep layer's outputs stay a few hundred MB


def mode_setting(default: str = "greedy"):
    return setting(
        default,
        choices=MODES,
        help="greedy: one layer after another; consecutive: all layers learn from each batch",
    )


class Layer(FeatureLearner):
    """A learning layer on images (channels, height, width), for a `Stack` or alone."""

    sees_images: ClassVar[bool] = True
    fields_span_inputs: ClassVar[bool] = False  # a convolution's kernels; a dense layer's do

    def __init__(self, cfg, backend, n_inputs, rng, *, input_shape):
        super().__init__(cfg, backend, n_inputs, rng)
        self.input_shape = tuple(int(n) for n in input_shape)

    @property
    def output_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of `forward`'s output for one image."""
        raise NotImplementedError

    @property
    def samples_per_update(self) -> int:
        return self.cfg.batch_size

    def forward(self, x: Any, learn: bool = False) -> Any:
        """The layer's output for the batch x (B, C, H, W) on the device; with `learn`, the
        layer also takes its learning step from this batch (its output is the one it gave
        before the step)."""
        raise NotImplementedError

    def describe_fields(self) -> str:
        """What a tile of `receptive_fields` shows, in words (a mosaic's title)."""
        return "each unit's weights"

    def learn(self, block):
        for batch in whole_batches(block, self.cfg.batch_size):
            self.forward(as_images(batch, self.input_shape), learn=True)

    def encode(self, x):
        return encoded(self.backend, x, self.input_shape, self.forward)


@dataclass
class StackState:
    schedule: Any = host_array("int64")  # [the layer learning, epochs of it done]


class Stack(FeatureLearner):
    """Layers learnt greedily or consecutively (`cfg.mode`), `cfg.epochs_per_layer` passes each,
    in minibatches of `cfg.batch_size`; a subclass builds the layers."""

    sees_images: ClassVar[bool] = True
    fields_span_inputs: ClassVar[bool] = False  # the first layer's, unless it is dense
    # the stack's own state; its layers' states are kept beside it as layer<i>_<name>
    State = StackState

    def __init__(self, cfg, backend, n_inputs, rng, *, input_shape):
        super().__init__(cfg, backend, n_inputs, rng)
        self.input_shape = tuple(int(n) for n in input_shape)
        self.layers: list[Layer] = self.build_layers(self.input_shape, rng)
        # which layer learns (greedy) and how many passes it has had; all layers learn at once
        # in consecutive mode, and `learning` == len(layers) once every layer has learned
        self.schedule = np.zeros(2, dtype=np.int64)  # [learning, epochs of it done]
        self.state_names = (*self._of_layers("state_names"), "schedule")
        self.metric_names = ("learning_layer", *self._of_layers("metric_names"))

    def _of_layers(self, names: str) -> list[str]:
        """Every layer's `names` (state_names, metric_names), as layer<i>_<name>."""
        return [
            f"layer{i}_{name}"
            for i, layer in enumerate(self.layers)
            for name in getattr(layer, names)
        ]

    def build_layers(self, input_shape: tuple[int, int, int], rng) -> list[Layer]:
        raise NotImplementedError

    @classmethod
    def epochs_needed(cls, cfg) -> int | None:
        depth = cls.depth(cfg)
        return cfg.epochs_per_layer * (depth if cfg.mode == "greedy" else 1)

    @classmethod
    def depth(cls, cfg) -> int:
        """The number of layers the settings describe."""
        raise NotImplementedError

    @property
    def samples_per_update(self) -> int:
        return self.cfg.batch_size

    # ------------------------------------------------------------------ learning
    def learn(self, block):
        learning = int(self.schedule[0])
        if learning >= len(self.layers):
            return  # every layer has learned: the rest of the data passes by
        greedy = self.cfg.mode == "greedy"
        for batch in whole_batches(block, self.cfg.batch_size):
            x = as_images(batch, self.input_shape)
            for i, layer in enumerate(self.layers):
                x = layer.forward(x, learn=(i == learning) or not greedy)
                if greedy and i == learning:
                    break  # the layers above do not learn yet: their outputs are not needed

    def end_epoch(self) -> str | None:
        self.schedule[1] += 1
        if self.schedule[1] < self.cfg.epochs_per_layer:
            return None
        self.schedule[1] = 0
        self.schedule[0] = self.schedule[0] + 1 if self.cfg.mode == "greedy" else len(self.layers)
        if self.schedule[0] < len(self.layers):
            return None
        each = f"{self.cfg.epochs_per_layer} epoch{'s' * (self.cfg.epochs_per_layer > 1)}"
        how = "one after another" if self.cfg.mode == "greedy" else "all at once"
        return f"all {len(self.layers)} layers have learned ({how}, {each} each)"

    # ------------------------------------------------------------------ responses
    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def encode(self, x):
        return encoded(self.backend, x, self.input_shape, self.forward)

    def receptive_fields(self):
        return self.layers[0].receptive_fields()

    def layout(self, image_shape):
        return self.layers[0].layout(image_shape)

    def metrics(self):
        figures = {"learning_layer": float(self.schedule[0])}
        for i, layer in enumerate(self.layers):
            figures.update({f"layer{i}_{k}": v for k, v in layer.metrics().items()})
        return figures

    def analyse(self, dataset):
        """Every layer's fields, a mosaic each (the layer's own `layout`)."""
        views = []
        for i, layer in enumerate(self.layers):
            fields = layer.receptive_fields()
            tile = layer.layout(dataset.image_shape).tile_shape
            title = f"layer {i + 1}: {layer.describe_fields()}"
            views.append(Mosaic(f"fields_layer{i + 1}", fields, tile, title))
        return Analysis(views=views)

    # ------------------------------------------------------------------ state
    def state_arrays(self):
        arrays = {"schedule": self.schedule}
        for i, layer in enumerate(self.layers):
            arrays.update({f"layer{i}_{k}": v for k, v in layer.state_arrays().items()})
        return arrays

    def state_dict(self):
        own = saved(self, self.State, self.backend.to_host)
        for i, layer in enumerate(self.layers):
            own.update({f"layer{i}_{k}": v for k, v in layer.state_dict().items()})
        return own

    def load_state_dict(self, state):
        restore(self, self.State, state, self.backend.asarray)
        for i, layer in enumerate(self.layers):
            prefix = f"layer{i}_"
            layer.load_state_dict(
                {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            )


def whole_batches(block, batch_size: int):
    """The block's whole minibatches (a rule learns from whole batches only)."""
    for start in range(0, len(block) - batch_size + 1, batch_size):
        yield block[start : start + batch_size]


def as_images(batch, input_shape):
    """(B, n_inputs) -> (B, C, H, W), a view."""
    return batch.reshape((len(batch), *input_shape))


def encoded(backend, x: np.ndarray, input_shape, forward) -> np.ndarray:
    """forward's outputs for the host images x, flattened, in chunks, as a host array."""
    out = []
    for start in range(0, len(x), ENCODE_CHUNK):
        batch = backend.asarray(as_images(x[start : start + ENCODE_CHUNK], input_shape))
        y = forward(batch)
        out.append(backend.to_host(y.reshape((len(y), -1))))
    return np.concatenate(out) if out else np.zeros((0, 0))


def check_columns(cfg, names: tuple[str, ...]) -> int:
    """The depth that the per-layer lists `names` of the settings describe; UserError when
    their lengths differ or one is empty."""
    lengths = {name: len(getattr(cfg, name)) for name in names}
    depth = lengths[names[0]]
    if depth == 0:
        raise UserError(f"model.{names[0]}=[] is not allowed: a stack needs at least one layer")
    for name, length in lengths.items():
        if length != depth:
            raise UserError(
                f"model.{name} has {length} values, model.{names[0]} has {depth}: give one "
                "value per layer to each"
            )
    return depth


__all__ = ["Layer", "Layout", "Stack", "check_columns", "mode_setting"]
