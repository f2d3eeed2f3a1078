"""The learning rules, one file each, and the small registry that builds them by name.

Every rule has the same face, as in scikit-learn: it is built from its config, `learn`s from a
block of samples, `encode`s inputs into responses, and hands back its state as named arrays.
The trainer, the recorder and the artifacts never know which rule they carry.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

NAMES = ("oja", "bcm", "hopfield", "topo_wta", "force", "attractor")
# what a rule learns from, by the dataset's name; a rule module may name its own in `DATASETS`
IMAGE_DATASETS = ("digits", "bars", "mnist", "tapestry")


class Rule:
    """What the runner needs of a rule; a rule lists its learned arrays in `state_names`."""

    state_names: tuple[str, ...] = ()
    metric_names: tuple[str, ...] = ()  # what `metrics()` reports at every record
    samples_per_update = 1  # a minibatch rule learns from whole batches only

    def __init__(self, cfg: Any, backend: Any, n_inputs: int, rng: np.random.Generator):
        # a plain dataclass, not an OmegaConf node: its fields are read in the hot loop
        self.cfg = OmegaConf.to_object(cfg) if isinstance(cfg, DictConfig) else cfg
        self.backend, self.xp, self.n_inputs = backend, backend.xp, n_inputs

    def learn(self, block: Any) -> None:  # block: (n_samples, n_inputs) on the device
        raise NotImplementedError

    def encode(self, x: Any) -> np.ndarray:  # responses (n_samples, n_units), host memory
        raise NotImplementedError

    def receptive_fields(self) -> np.ndarray:  # (n_units, n_inputs), host memory
        raise NotImplementedError

    def metrics(self) -> dict[str, float]:
        """The rule's own figures at a record (a threshold, a norm)."""
        return {}

    def end_epoch(self) -> bool:
        """Called after each pass over the data; True stops the run (converged)."""
        return False

    def evaluate(self, dataset) -> dict[str, float]:
        """The rule's own held-out figures, measured once at the end."""
        return {}

    def extra_pictures(self, run_dir, dataset, viz_cfg) -> None:
        """Pictures only this rule can draw (besides fields, curves and state)."""

    def check_data(self, n_train: int) -> None:
        """Raise UserError when the rule cannot learn from this many samples."""

    def panels(self) -> dict[str, np.ndarray]:
        """Named host vectors that show the network's present state (input, activity)."""
        return {}

    def state_dict(self) -> dict[str, np.ndarray]:
        return {name: self.backend.to_host(getattr(self, name)) for name in self.state_names}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        for name in self.state_names:
            setattr(self, name, self.backend.asarray(state[name]))

    def nonfinite_state(self) -> str | None:
        """The name of the first state array holding a NaN or an infinity, else None."""
        for name in self.state_names:
            if not self.backend.all_finite(getattr(self, name)):
                return name
        return None


def modules() -> dict[str, ModuleType]:
    return {name: importlib.import_module(f"plastic.models.{name}") for name in NAMES}


def build(cfg: Any, backend: Any, n_inputs: int, rng: np.random.Generator) -> Rule:
    return modules()[cfg.name].Model(cfg, backend, n_inputs, rng)
