"""The device: one array namespace (numpy on device=cpu, cupy on device=gpu) for all model code."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from plastic.errors import UserError


@dataclass
class Backend:
    name: str  # "cpu" or "gpu"
    xp: ModuleType  # numpy or cupy: the array namespace every model uses
    dtype: np.dtype
    description: str

    @property
    def is_gpu(self) -> bool:
        return self.name == "gpu"

    def asarray(self, array: Any, dtype: Any = None) -> Any:
        return self.xp.asarray(array, dtype=self.dtype if dtype is None else dtype)

    def to_host(self, array: Any) -> np.ndarray:
        return array.get() if hasattr(array, "get") else np.asarray(array)

    def synchronize(self) -> None:
        if self.is_gpu:
            self.xp.cuda.get_current_stream().synchronize()

    def all_finite(self, array: Any) -> bool:
        return bool(self.xp.isfinite(array).all())


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
