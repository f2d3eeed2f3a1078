"""`setting`: a config field with bounds, the one thing every schema (a rule's, a dataset's,
plastic's own sections) is written with. Kept apart from plastic.config so that any module can
declare settings without importing the config's validation (plastic.config re-exports it)."""

from __future__ import annotations

from dataclasses import field
from typing import Any


def setting(default: Any, *, gt=None, ge=None, lt=None, le=None, choices=None, help: str = ""):
    """A config field with the bounds `validate` enforces (bounds apply when the value is set)."""
    rules = {
        k: v for k, v in dict(gt=gt, ge=ge, lt=lt, le=le, choices=choices).items() if v is not None
    }
    return field(default=default, metadata={"rules": rules, "help": help})


# keys that change how a run shows, never a figure it computes: runs that differ only in them
# are the same experiment (a resume may change them; `plastic report --compare` pools across)
HOW_IT_SHOWS = (
    "trainer.progress",
    "trainer.log_every_seconds",
    "trainer.checkpoint_every",
    "trainer.checkpoint_seconds",
    "viz.",
)
