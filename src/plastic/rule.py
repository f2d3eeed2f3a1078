"""What a learning rule is to plastic: a class, in one file, that a stranger can write.

Two families, as scikit-learn has estimators and transformers:

- `FeatureLearner` (oja, bcm, hopfield, topo_wta): learns weights from samples; `encode`s inputs
  into responses; its `receptive_fields` are drawn and probed against the untrained network.
- `DynamicalSystem` (force, attractor): a network that runs in time; its `trace` holds named
  time series, `run` continues the dynamics without learning, and its analyses are its own.

Everything the runner needs of a rule is declared on the class (its settings' dataclass, the
kinds of data it learns from, its state) or is a method here: the runner never probes for
attributes. A rule computes and returns named arrays (figures, `plastic.views`); it never
draws or writes a file: the run folder belongs to the runner.

    class MyRule(FeatureLearner):
        Config = MyConfig                  # a dataclass: the settings, defaults, bounds
        State = MyState                    # a dataclass: what the state is (plastic.state)
        def __init__(self, cfg, backend, n_inputs, rng): ...
        def learn(self, block): ...        # block: (n_samples, n_inputs) on the device, lent
        def encode(self, x): ...           # -> (n_samples, n_units) host array
        def receptive_fields(self): ...    # -> (n_units, n_inputs) host array

Learning code is array code in `self.xp` (numpy or cupy): the reference. A compiled fast path
for a device is a kernel registered on the class (`kernels`, see plastic.kernels), never an
`if` on the device inside the rule.

`plastic.testing.check_rule(MyRule)` checks that a rule keeps the promises the runner relies on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from omegaconf import DictConfig, OmegaConf

from plastic import state
from plastic.kernels import bind_for_device

IMAGES = "images"  # the dataset kinds (a dataset module's KIND)
TIMELINE = "timeline"
PATTERNS = "patterns"


@dataclass(frozen=True)
class Layout:
    """How the rows of `snapshot()` are drawn: each as a tile of `tile_shape`, on `grid`
    (rows, columns) when the rule lives on a sheet, else on a near-square grid."""

    tile_shape: tuple[int, int]
    grid: tuple[int, int] | None = None


@dataclass
class Analysis:
    """What a rule measures once, at the end of a completed run: figures (summary.json's
    metrics) and views (named arrays that the runner draws or writes, `plastic.views`)."""

    figures: dict[str, float] = field(default_factory=dict)
    views: list[Any] = field(default_factory=list)


class Rule:
    """The face every rule shows the runner; subclass `FeatureLearner` or `DynamicalSystem`."""

    Config: ClassVar[type]  # the settings' dataclass (config.setting gives bounds and help)
    # the state's dataclass (plastic.state): each field an attribute of the rule and how a
    # checkpoint keeps it; checkpoints, round trips and the divergence guard read it
    State: ClassVar[type | None] = None
    learns_from: ClassVar[tuple[str, ...]] = (IMAGES,)  # dataset kinds it can learn from
    # the learned arrays: the State's learned array fields (a rule without a State: device
    # arrays that a checkpoint keeps, as attributes)
    state_names: ClassVar[tuple[str, ...]] = ()
    metric_names: ClassVar[tuple[str, ...]] = ()  # what `metrics()` reports at every record
    # the figures `analyse` may return (None: undeclared; optimize_metric is then checked only
    # once the run has ended)
    figure_names: ClassVar[tuple[str, ...] | None] = None
    # which way is better for a metric or figure: "max" or "min"; `plastic report` names the
    # best condition of a sweep by it (a name left out is reported without a direction)
    metric_goals: ClassVar[dict[str, str]] = {}
    samples_per_update: int = 1  # a minibatch rule learns from whole batches only
    # records (each with the divergence guard and the metrics) come at least this many steps
    # apart unless the config says: a rule whose step takes microseconds raises it
    steps_per_record: int = 100
    # learn(a); learn(b) gives the state of learn(a + b) for splits on whole updates
    splits_exactly: ClassVar[bool] = True
    # the largest magnitude a state element may reach before the run counts as diverged
    state_bound: ClassVar[float] = 1e12
    # a rule that sees its inputs as images (a convolution) sets this; it is then built with
    # the keyword input_shape=(channels, height, width) of the dataset's samples
    sees_images: ClassVar[bool] = False
    # fast paths of the rule's methods, by device: {method: {"cpu": "module:function", ...}}
    # (plastic.kernels); the methods themselves are the reference, in the array namespace
    kernels: ClassVar[dict[str, dict[str, str]]] = {}
    # how far a kernel's state may stray from the reference's on the same start and data
    # (relative and absolute; 0: bit for bit), which check_rule holds every kernel to
    kernel_tolerance: ClassVar[float] = 0.0

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("State") is not None:
            cls.state_names = state.learned_names(cls.State)

    def __init__(self, cfg: Any, backend: Any, n_inputs: int, rng: np.random.Generator):
        # a plain dataclass, not an OmegaConf node: its fields are read in the hot loop
        self.cfg = OmegaConf.to_object(cfg) if isinstance(cfg, DictConfig) else cfg
        self.backend, self.xp, self.n_inputs = backend, backend.xp, n_inputs
        bind_for_device(self, backend.name)

    # ------------------------------------------------------------------ declared checks
    @classmethod
    def check(cls, cfg: Any, data: Any = None) -> None:
        """Raise UserError for settings that the field bounds cannot refuse (k <= n_units, ...).
        Called before any work with data=None, and again with the loaded Dataset."""

    @classmethod
    def epochs_needed(cls, cfg: Any) -> int | None:
        """The passes over the data the rule's own schedule takes (a stack whose layers learn
        one after another): a run with fewer trainer.epochs is refused (None: any number)."""
        return None

    @classmethod
    def state_bytes(cls, cfg: Any, n_inputs: int, itemsize: int) -> int | None:
        """About how many bytes the rule's arrays take, estimated before anything is built, so
        that a size that cannot fit is refused in one line (None: the rule does not say)."""
        return None

    # ------------------------------------------------------------------ learning
    def learn(self, block: Any) -> None:
        """Learn from `block` (n_samples, n_inputs), on the device. The block is lent: read
        it, leave it as it is, keep no reference (the trainer reuses its memory)."""
        raise NotImplementedError

    def end_epoch(self) -> str | None:
        """Called after each pass over the data; a sentence (why) ends the run as completed."""
        return None

    # ------------------------------------------------------------------ what is recorded
    def snapshot(self) -> np.ndarray:
        """The host array (rows x columns) drawn at every record (the GIF) and whose relative
        change is the `weight_change` column."""
        raise NotImplementedError

    def layout(self, image_shape: tuple[int, int]) -> Layout:
        """How the rows of `snapshot()` are drawn, given the dataset's image shape: a sample of
        several channels (stored one after another) as the channels one above the other."""
        height, width = image_shape
        channels = max(1, self.n_inputs // (height * width))
        return Layout((channels * height, width))

    def metrics(self) -> dict[str, float]:
        """The rule's own figures at a record (a threshold, a norm): `metric_names`."""
        return {}

    def analyse(self, dataset: Any) -> Analysis:
        """Figures and views measured once at the end of a completed run."""
        return Analysis()

    # ------------------------------------------------------------------ state
    def state_arrays(self) -> dict[str, Any]:
        """The live state arrays by name, not copies: what the divergence guard and the
        records' cadence read (`state_names` as attributes; None: not in these settings)."""
        arrays = {name: getattr(self, name) for name in self.state_names}
        return {name: array for name, array in arrays.items() if array is not None}

    def state_dict(self) -> dict[str, np.ndarray]:
        """The whole state as host copies by name, as the State declares it."""
        if self.State is None:
            return {name: self.backend.to_host(a) for name, a in self.state_arrays().items()}
        return state.saved(self, self.State, self.backend.to_host)

    def load_state_dict(self, saved: dict[str, np.ndarray]) -> None:
        """Set the state from what `state_dict` gave."""
        if self.State is None:
            for name in self.state_names:
                setattr(self, name, self.backend.asarray(saved[name]))
            return
        state.restore(self, self.State, saved, self.backend.asarray)

    def nonfinite_state(self) -> str | None:
        """The first state array holding a NaN, an infinity or a value beyond `state_bound`
        (as a sentence naming it), else None."""
        for name, array in self.state_arrays().items():
            largest = self.backend.largest_magnitude(array)  # NaN propagates
            if not np.isfinite(largest):
                return f"'{name}' became NaN or infinite"
            if largest > self.state_bound:
                return f"'{name}' grew beyond {self.state_bound:.0e} in magnitude"
        return None


def build(cls: type, settings: Any, backend: Any, dataset: Any, rng: np.random.Generator) -> Rule:
    """The rule `cls` built for `dataset`'s samples, as the runner and the kit build every rule:
    one that `sees_images` also gets their (channels, height, width)."""
    if cls.sees_images:
        return cls(settings, backend, dataset.n_inputs, rng, input_shape=dataset.input_shape)
    return cls(settings, backend, dataset.n_inputs, rng)


class FeatureLearner(Rule):
    """A rule that learns features of its inputs: responses (`encode`) and receptive fields."""

    # each row of `receptive_fields` spans the whole input (n_inputs values), so that it can
    # be compared with the bars; a convolution's k x k kernels do not
    fields_span_inputs: ClassVar[bool] = True

    def encode(self, x: Any) -> np.ndarray:
        """Responses (n_samples, n_units) to the host inputs x, without learning."""
        raise NotImplementedError

    def receptive_fields(self) -> np.ndarray:
        """(n_units, n_inputs), host memory."""
        raise NotImplementedError

    def snapshot(self) -> np.ndarray:
        return self.receptive_fields()


class DynamicalSystem(Rule):
    """A network that runs in time; a block is a stretch of time steps (or presentations)."""

    learns_from: ClassVar[tuple[str, ...]] = (TIMELINE,)

    def trace(self) -> dict[str, np.ndarray]:
        """Named time series recorded so far (host arrays, one row per step)."""
        return {}

    def run(self, n_steps: int) -> dict[str, np.ndarray]:
        """n_steps of the dynamics without learning, from a copy of the present state (which
        stays as it is): named host arrays, one row per step."""
        raise NotImplementedError
