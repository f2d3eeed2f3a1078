"""Time itself, for the rules that run a dynamical system (force): one row per time step.

The rows are the step numbers 0, 1, ..., duration / dt - 1; the rule keeps its own clock.
"""

from dataclasses import dataclass

import numpy as np

from plastic.config import DatasetConfig, setting
from plastic.datasets import Dataset
from plastic.rule import TIMELINE

KIND = TIMELINE  # what it feeds (a rule's learns_from)


@dataclass
class Config(DatasetConfig):
    name: str = "timeline"
    duration: float = setting(800.0, gt=0, help="time units to simulate")
    dt: float = setting(1.0, gt=0, help="the step; follows model.dt when the model has one")
    shuffle: bool = False  # time runs forward


def size(cfg) -> tuple[int, int]:
    """(rows, inputs) of the arrays load() makes: a row a time step."""
    return int(round(cfg.duration / cfg.dt)), 1


def load(cfg) -> Dataset:
    n_steps = int(round(cfg.duration / cfg.dt))
    steps = np.arange(n_steps, dtype=np.float64)[:, None]
    return Dataset("timeline", steps, (1, 1), f"{n_steps:,} steps of dt = {cfg.dt:g}")
