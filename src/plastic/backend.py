"""The device: one array namespace (numpy on device=cpu, cupy on device=gpu) for all model code."""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from plastic.errors import UserError


@dataclass
class Backend:
    name: str  # "cpu", "gpu", or "strict" (plastic.testing's stand-in for a GPU)
    xp: ModuleType  # numpy or cupy: the array namespace every model uses
    dtype: np.dtype
    description: str

    def asarray(self, array: Any, dtype: Any = None) -> Any:
        return self.xp.asarray(array, dtype=self.dtype if dtype is None else dtype)

    def to_host(self, array: Any) -> np.ndarray:
        """A host copy, on every device (as CuPy's get): never a view of the live state, so
        that a state_dict taken now does not change as the rule learns on."""
        return array.get() if hasattr(array, "get") else np.array(array)

    def take_rows(self, array: Any, rows: np.ndarray, out: Any) -> Any:
        """array[rows] written into `out` (a buffer the caller reuses, so that a shuffled run
        does not allocate and fault in fresh memory for every block)."""
        rows = self.xp.asarray(rows)
        if self.name == "cpu":  # mode="clip": numpy buffers `out` under the default "raise"
            return np.take(array, rows, axis=0, out=out, mode="clip")
        return self.xp.take(array, rows, axis=0, out=out)

    def synchronize(self) -> None:
        if self.name == "gpu":
            self.xp.cuda.get_current_stream().synchronize()

    def largest_magnitude(self, array: Any) -> float:
        """max |a| in one pass (NaN when the array holds one, 0 for an empty array), on the
        side where the array is (a rule may keep some state on the host)."""
        if array.size == 0:
            return 0.0
        # max and min read the array in place, where abs would first copy it (NaN propagates
        # through both, so max(|nan|, |nan|) is NaN)
        if isinstance(array, np.ndarray | np.generic):  # the ufuncs' own reduce: half the
            # time of np.max's wrapper on the small states that a guard reads every record
            largest = np.maximum.reduce(array, axis=None)
            smallest = np.minimum.reduce(array, axis=None)
        else:
            largest, smallest = self.xp.max(array), self.xp.min(array)
        return max(abs(float(largest)), abs(float(smallest)))


def strict_backend(dtype: str = "float64") -> Backend:
    """The strict stand-in for a GPU (plastic.testing.strict): numpy behind CuPy's rules."""
    from plastic.testing.strict import strict_namespace

    return Backend("strict", strict_namespace(), np.dtype(dtype), "strict device stand-in")


def make_backend(device: Any, seed: int) -> Backend:
    """Build the backend named by the `device` config section; seed its random generators."""
    dtype = np.dtype(device.dtype)
    if device.name == "cpu":
        return Backend("cpu", np, dtype, f"cpu (numpy {np.__version__}, {dtype.name})")
    return _gpu_backend(int(device.gpu_id), dtype, seed)


def _gpu_backend(gpu_id: int, dtype: np.dtype, seed: int) -> Backend:
    try:
        import cupy
    except ImportError:
        raise UserError(
            "device=gpu needs CuPy, which is not installed: pip install 'plastic[gpu]' "
            "(or run with device=cpu)"
        ) from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # no driver, no device: CUDA says so in its own words
        raise UserError(
            f"device=gpu found no usable NVIDIA GPU ({_one_line(error)}); run with device=cpu"
        ) from None
    if gpu_id >= count:
        raise UserError(
            f"device.gpu_id={gpu_id} is not allowed: this machine has {count} GPU(s), "
            f"ids 0..{count - 1}"
        )
    cupy.cuda.Device(gpu_id).use()
    cupy.random.seed(seed)
    props = cupy.cuda.runtime.getDeviceProperties(gpu_id)
    gpu_name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    return Backend(
        "gpu", cupy, dtype, f"gpu {gpu_id}: {gpu_name} (cupy {cupy.__version__}, {dtype.name})"
    )


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def usable_cores() -> int:
    """The CPU cores this process may use (taskset, cgroups), else the machine's."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
