"""A strict device-array stand-in: numpy behind CuPy's rules, so that code meant for device=gpu
can be checked on a machine without one.

CuPy refuses what numpy silently allows, and so does this stand-in:

- implicit conversion to numpy (`np.asarray(a)`, `np.dot(a, host)`, `host + a`): TypeError, as
  CuPy's "Implicit conversion to a NumPy array is not allowed";
- mixing with host arrays in arithmetic, ufuncs and `a[...] = host`;

Allowed, as in CuPy: `xp.asarray(host)` / `xp.array(host)` (the explicit copy to the device),
`a.get()` (the explicit copy back), python and numpy scalars, `float(a)`, `int(a)`, `bool(a)`,
`len(a)`, iteration, and numpy integer arrays as indices.
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np

REFUSED = (
    "Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct a "
    "NumPy array explicitly."
)
# explicit copies from the host, as cupy.asarray / cupy.array take them
TRANSFERS = ("asarray", "array", "ascontiguousarray")


class StrictArray(np.lib.mixins.NDArrayOperatorsMixin):
    """A numpy array that behaves like a CuPy array towards numpy."""

    __slots__ = ("_data",)

    def __init__(self, data: np.ndarray):
        self._data = data

    # -------------------------------------------------------------- refusals, as CuPy's
    def __array__(self, *args, **kwargs):
        raise TypeError(REFUSED)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        args = [_unwrap(x, ufunc.__name__) for x in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(_unwrap(x, ufunc.__name__) for x in kwargs["out"])
        return _wrap(getattr(ufunc, method)(*args, **kwargs))

    def __array_function__(self, func, types_, args, kwargs):
        # numpy's functions dispatch to the device, as they do for CuPy arrays (NEP 18);
        # a host array among the arguments is refused
        args = [_unwrap(a, f"numpy.{func.__name__}") for a in args]
        kwargs = {k: _unwrap(v, f"numpy.{func.__name__}") for k, v in kwargs.items()}
        return _wrap(func(*args, **kwargs))

    # -------------------------------------------------------------- the array's face
    def get(self) -> np.ndarray:
        """The explicit copy to the host."""
        return self._data.copy()

    @property
    def shape(self):
        return self._data.shape

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def size(self):
        return self._data.size

    @property
    def flags(self):
        return self._data.flags

    @property
    def T(self):
        return StrictArray(self._data.T)

    def __len__(self):
        return len(self._data)

    def __iter__(self):
        return (_wrap(row) for row in self._data)

    def __float__(self):
        return float(self._data)

    def __int__(self):
        return int(self._data)

    def __index__(self):
        return int(self._data)

    def __bool__(self):
        return bool(self._data)

    def __repr__(self):
        return f"strict({self._data!r})"

    def __getitem__(self, key):
        return _wrap(self._data[_index(key)])

    def __setitem__(self, key, value):
        self._data[_index(key)] = _unwrap(value, "__setitem__")

    def __getattr__(self, name):
        # methods (sum, max, copy, astype, reshape, ...) run on the data and come back strict;
        # numpy's own protocols (__array_interface__, ...) are not offered: they would let
        # numpy read the data without asking
        if name.startswith("__"):
            raise AttributeError(name)
        attribute = getattr(self._data, name)
        if not callable(attribute):
            return _wrap(attribute)

        def method(*args, **kwargs):
            args = [_unwrap(a, name) for a in args]
            kwargs = {k: _unwrap(v, name) for k, v in kwargs.items()}
            return _wrap(attribute(*args, **kwargs))

        return method

    def __getstate__(self):  # pickling would be an implicit transfer too
        raise TypeError(REFUSED)


def _wrap(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return StrictArray(value)
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
        return [_wrap(v) for v in value]
    return value


def _unwrap(value: Any, where: str) -> Any:
    """The numpy data behind a strict array; a host array or a list is refused."""
    if isinstance(value, StrictArray):
        return value._data
    if isinstance(value, np.ndarray) and value.ndim > 0:
        raise TypeError(
            f"{where}: a host numpy array {value.shape} mixed with device arrays; copy it with "
            "xp.asarray first (CuPy refuses this)"
        )
    if isinstance(value, list | tuple):
        return type(value)(_unwrap(v, where) for v in value)
    return value


def _index(key: Any) -> Any:
    """Indices: strict arrays, numpy integer/boolean arrays (CuPy takes them), slices, ints."""
    if isinstance(key, tuple):
        return tuple(_index(k) for k in key)
    if isinstance(key, StrictArray):
        return key._data
    return key


class _Namespace(types.SimpleNamespace):
    """numpy's functions with device semantics: results are strict, host arrays refused."""

    def __init__(self, module: Any, transfers: tuple[str, ...] = ()):
        super().__init__()
        self._module, self._transfers = module, transfers

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._module, name)
        if isinstance(attribute, types.ModuleType):
            return _Namespace(attribute)
        if isinstance(attribute, type) or not callable(attribute):
            return attribute  # dtypes (float64, int64), constants (pi, inf, newaxis)
        explicit = name in self._transfers

        def function(*args, **kwargs):
            if explicit and args:  # the copy to the device: a host array is what it takes
                first = args[0]
                data = first._data if isinstance(first, StrictArray) else first
                result = attribute(data, *args[1:], **kwargs)
                if not isinstance(first, StrictArray):  # a copy, never a view of host memory
                    result = np.array(result)
                return _wrap(result)
            args = [_unwrap(a, f"xp.{name}") for a in args]
            kwargs = {k: _unwrap(v, f"xp.{name}") for k, v in kwargs.items()}
            return _wrap(attribute(*args, **kwargs))

        return function


def strict_namespace() -> Any:
    """The stand-in for `cupy`: `xp.zeros`, `xp.asarray`, `xp.linalg.norm`, ..."""
    return _Namespace(np, TRANSFERS)


def is_strict(array: Any) -> bool:
    return isinstance(array, StrictArray)
