"""Fast paths: a rule's reference step compiled for one device, registered, never branched to.

A rule's file holds its reference step: plain array code in the backend's namespace
(`self.xp`: numpy on device=cpu, cupy on device=gpu), close to the equations, and the only
learning code a rule's author must write. A kernel is a faster version of one of the rule's
methods for one device (a numba loop for device=cpu, a CUDA kernel for device=gpu), in a module
of its own here (`plastic/kernels/<rule>_<device>.py`), and the rule registers it by name:

    class Oja(FeatureLearner):
        kernels = {"trials": {"cpu": "plastic.kernels.oja_cpu:trials"}}
        kernel_tolerance = 1e-9

        def trials(self, images, rates, mean_rates, learn_feedforward, learn_lateral):
            ...  # the reference, in self.xp

A kernel is a function with the method's signature, the rule first: it reads the settings
(`rule.cfg`) and the state from the rule, as objects. When a rule is built, the kernels
registered for its device take the place of those methods on the instance (`bind`), so that
the rule's own code never asks which device it runs on; `plastic.testing.check_rule` holds every
kernel registered for the CPU to the reference, on the same start and data, to the rule's
`kernel_tolerance` (and the CUDA ones under numba's CUDA simulator, in the slow tier).

A path is "module:function"; a stranger's rule registers kernels of its own module the same way.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from plastic.errors import UserError


def resolve(path: str) -> Callable:
    """The function at "module:function"."""
    module_name, _, attribute = path.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise UserError(f"kernel {path!r} could not be loaded ({error})") from None


def registered(cls: type, device: str) -> dict[str, str]:
    """The kernels `cls` registers for `device`: {method name: "module:function"}."""
    return {
        operation: by_device[device]
        for operation, by_device in getattr(cls, "kernels", {}).items()
        if device in by_device
    }


def every_registered(cls: type) -> list[tuple[str, str, str]]:
    """(method name, device, path) of every kernel `cls` registers, in a stable order."""
    return sorted(
        (operation, device, path)
        for operation, by_device in getattr(cls, "kernels", {}).items()
        for device, path in by_device.items()
    )


def bind(rule: Any, chosen: dict[str, Callable]) -> None:
    """Run `chosen` ({method name: kernel}) in place of the rule's own methods; the methods
    not named go back to the reference."""
    for operation in getattr(type(rule), "kernels", {}):
        if operation not in chosen:
            rule.__dict__.pop(operation, None)  # the class's method: the reference
    for operation, kernel in chosen.items():
        if not callable(getattr(type(rule), operation, None)):
            raise TypeError(f"{type(rule).__name__} has no method {operation!r} for a kernel")
        setattr(rule, operation, _Bound(kernel, rule))


def bind_for_device(rule: Any, device: str) -> None:
    """The kernels registered for `device` in place of their methods (the reference elsewhere)."""
    bind(rule, {name: resolve(path) for name, path in registered(type(rule), device).items()})


class _Bound:
    """A kernel called as the method it replaces (the rule first), named in tracebacks."""

    def __init__(self, kernel: Callable, rule: Any):
        self.kernel, self.rule = kernel, rule

    def __call__(self, *args, **kwargs):
        return self.kernel(self.rule, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<kernel {self.kernel.__module__}.{self.kernel.__name__}>"
