"""A rule's state, declared once: what a checkpoint keeps, the divergence guard reads and a
round trip restores, with no state_dict of the rule's own.

A rule declares its `State`, a dataclass whose fields name the rule's attributes that make up
its state, each field saying what it holds and so how it is kept:

    @dataclass
    class State:
        weights: Any = array()                 # on the device, in the run's float type
        wins: Any = array("int64")             # on the device, counts
        couplings: Any = host_array()          # on the host, float64
        seen: Any = number()                   # an int or a float
        history: Any = rows()                  # a list (or deque) of rows: a 2-D array
        series: Any = named_rows("trace_")     # {name: list of rows}: one array a name
        rng: Any = generator()                 # a numpy Generator: six uint64 words
        optimizer: Any = part()                # an object with state_dict / load_state_dict

The values stay the rule's attributes (`self.weights`), read as the equations read; a field whose
value is None is left out (state that only some settings have). The arrays (`array`,
`host_array`) are the learned state, unless declared `learned=False`: the divergence guard
reads them, and a resumed run's checkpoint must match them in shape and type.
"""

from __future__ import annotations

import ast
import dataclasses
from typing import Any

import numpy as np

ARRAY, HOST_ARRAY, NUMBER, ROWS, NAMED_ROWS, GENERATOR, PART = (
    "array",
    "host_array",
    "number",
    "rows",
    "named_rows",
    "generator",
    "part",
)
ARRAY_KINDS = (ARRAY, HOST_ARRAY)


def _declared(kind: str, **details) -> Any:
    return dataclasses.field(default=None, metadata={"state": kind, **details})


def array(dtype: str | None = None, learned: bool = True) -> Any:
    """An array on the device, in the run's float type (or `dtype`, as "int64" for counts);
    `learned=False` for bookkeeping (a count, a copy of the state at some moment) that the
    divergence guard need not read."""
    return _declared(ARRAY, dtype=dtype, learned=learned)


def host_array(dtype: str = "float64", learned: bool = True) -> Any:
    """A numpy array on the host (state that the analyses read there), in `dtype`."""
    return _declared(HOST_ARRAY, dtype=dtype, learned=learned)


def number() -> Any:
    """A Python int or float (a step count, a running figure)."""
    return _declared(NUMBER)


def rows() -> Any:
    """A list or deque of rows (or numbers), kept as one array and restored into the same
    container (a deque keeps its maxlen)."""
    return _declared(ROWS)


def named_rows(prefix: str) -> Any:
    """A dict of such lists, each kept as the array `prefix + name`."""
    return _declared(NAMED_ROWS, prefix=prefix)


def generator() -> Any:
    """A numpy Generator (PCG64), kept as six uint64 words, so that a resumed run draws the same
    numbers."""
    return _declared(GENERATOR)


def part() -> Any:
    """An object that keeps its own state: `state_dict(to_host)` and `load_state_dict(state)`,
    under keys of its own (a minibatch rule's optimizer)."""
    return _declared(PART)


def fields(state_class: type | None) -> list[dataclasses.Field]:
    """The declared fields of a State dataclass (none for None)."""
    if state_class is None:
        return []
    declared = dataclasses.fields(state_class)
    for f in declared:
        if "state" not in f.metadata:
            raise TypeError(
                f"{state_class.__qualname__}.{f.name}: declare it with plastic.state's array(), "
                "host_array(), number(), rows(), named_rows(), generator() or part()"
            )
    return list(declared)


def learned_names(state_class: type | None) -> tuple[str, ...]:
    """The fields holding learned arrays: what the divergence guard reads and a resumed run's
    checkpoint must match in shape and type."""
    return tuple(
        f.name
        for f in fields(state_class)
        if f.metadata["state"] in ARRAY_KINDS and f.metadata["learned"]
    )


def saved(owner: Any, state_class: type, to_host) -> dict[str, np.ndarray]:
    """The state of `owner` as host arrays by name, copies (what a checkpoint writes)."""
    out: dict[str, np.ndarray] = {}
    for f in fields(state_class):
        value, kind = getattr(owner, f.name), f.metadata["state"]
        if value is None:
            continue
        if kind in ARRAY_KINDS:
            out[f.name] = to_host(value)
        elif kind == NUMBER:
            out[f.name] = np.array(value)
        elif kind == ROWS:
            out[f.name] = np.array(list(value))
        elif kind == NAMED_ROWS:
            out.update({f.metadata["prefix"] + k: np.array(v) for k, v in value.items()})
        elif kind == GENERATOR:
            out[f.name] = generator_state(value)
        else:
            out.update(value.state_dict(to_host))
    return out


def restore(owner: Any, state_class: type, state: dict[str, np.ndarray], asarray) -> None:
    """Set `owner`'s state from `state` (as `saved` gave it); a field absent from it is a
    field that these settings do not have, and stays as it is."""
    for f in fields(state_class):
        kind, name = f.metadata["state"], f.name
        if kind == PART:
            getattr(owner, name).load_state_dict(state)
        elif kind == NAMED_ROWS:
            prefix = f.metadata["prefix"]
            found = {k[len(prefix) :]: list(v) for k, v in state.items() if k.startswith(prefix)}
            if found:
                setattr(owner, name, found)
        elif name not in state:
            continue
        elif kind == ARRAY:
            setattr(owner, name, asarray(state[name], f.metadata["dtype"]))
        elif kind == HOST_ARRAY:
            setattr(owner, name, np.array(state[name], dtype=f.metadata["dtype"]))
        elif kind == NUMBER:
            value = np.asarray(state[name])
            setattr(owner, name, int(value) if value.dtype.kind in "iub" else float(value))
        elif kind == ROWS:
            container = getattr(owner, name)
            if container is None:
                setattr(owner, name, list(state[name]))
            else:  # the same container: a deque keeps its maxlen
                container.clear()
                container.extend(state[name])
        elif kind == GENERATOR:
            restore_generator(getattr(owner, name), state[name])


MASK64 = (1 << 64) - 1


def generator_state(rng: np.random.Generator) -> np.ndarray:
    """A numpy Generator's whole state as six uint64 words (PCG64's 128-bit state and increment,
    and its cached 32-bit draw)."""
    state = rng.bit_generator.state
    if state["bit_generator"] != "PCG64":
        raise TypeError(f"generator_state keeps PCG64 generators, not {state['bit_generator']}")
    words = []
    for value in (state["state"]["state"], state["state"]["inc"]):
        words += [value >> 64, value & MASK64]
    words += [state["has_uint32"], state["uinteger"]]
    return np.array(words, dtype=np.uint64)


def restore_generator(rng: np.random.Generator, words: np.ndarray) -> None:
    """Set `rng` (PCG64) to the state that generator_state gave; a checkpoint of plastic 0.2.0
    and before kept it as text (bytes of its repr), which is read too."""
    words = np.asarray(words)
    if words.dtype == np.uint8:
        rng.bit_generator.state = ast.literal_eval(bytes(words).decode())
        return
    w = [int(v) for v in words.astype(np.uint64)]
    rng.bit_generator.state = {
        "bit_generator": "PCG64",
        "state": {"state": (w[0] << 64) | w[1], "inc": (w[2] << 64) | w[3]},
        "has_uint32": w[4],
        "uinteger": w[5],
    }
