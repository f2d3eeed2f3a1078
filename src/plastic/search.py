"""A hyperparameter search (`hydra/sweeper=optuna`) checked before its first trial.

Optuna would stop on a search space it cannot sample (`interval(4000, 500)`), and each trial
would fail on a value the run refuses (`interval(-5, -1)` for a key bounded > 0, a bool swept as
`interval(0, 1)`): here every searched key's ends (or choices) are checked against the same
schema as a plain override, and the sweeper's own settings against what Optuna accepts, so a
mistake is one line before anything runs.
"""

from __future__ import annotations

import copy
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from plastic.errors import UserError

DIRECTIONS = ("minimize", "maximize")


def is_optuna(config: DictConfig) -> bool:
    return "optuna" in str(config.hydra.sweeper.get("_target_", "")).lower()


def check(config: DictConfig) -> None:
    """Refuse, in one line, a search that Optuna or the runs would refuse."""
    if not is_optuna(config):
        return
    sweeper = config.hydra.sweeper
    directions = sweeper.get("direction")
    for direction in directions if isinstance(directions, ListConfig) else [directions]:
        if str(direction) not in DIRECTIONS:
            raise UserError(
                f"hydra.sweeper.direction={direction} is not allowed: choose one of "
                + ", ".join(DIRECTIONS)
            )
    for key in ("n_trials", "n_jobs"):
        value = sweeper.get(key)
        if value is not None and (not isinstance(value, int) or value <= 0):
            raise UserError(f"hydra.sweeper.{key}={value} is not allowed: must be an integer > 0")
    storage = sweeper.get("storage")
    if isinstance(storage, str) and storage.startswith("sqlite:///"):
        from plastic.tracking import _check_sqlite

        try:
            _check_sqlite(storage, "hydra.sweeper.storage")
        except ValueError as error:
            raise UserError(str(error)) from None
    for key, text in (sweeper.get("params") or {}).items():
        check_space(config, str(key), str(text), f"hydra.sweeper.params.{key}")
    for override in config.hydra.overrides.task:  # a search space given on the line
        key, _, text = str(override).partition("=")
        if any(text.startswith(f"{kind}(") for kind in ("interval", "range", "choice", "tag")):
            check_space(config, key.lstrip("+~"), text, key.lstrip("+~"))


def check_space(config: DictConfig, key: str, text: str, where: str) -> None:
    """One searched key: its interval is ordered (and positive on a log scale), and its ends
    or choices are values a run accepts."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        (override,) = OverridesParser.create().parse_overrides([f"{key}={text}"])
    except Exception as error:
        reason = " ".join(str(error).split())[:200]
        raise UserError(f"{where}={text} cannot be read ({reason})") from None
    for value in _candidates(override, where, text):
        _check_value(config, key, value, f"{where}={text}")


def _candidates(override, where: str, text: str) -> list[Any]:
    """The values whose acceptance stands for the whole search space."""
    if not override.is_sweep_override():
        return [override.value()]
    value = override.value()
    if override.is_interval_sweep():
        low, high = value.start, value.end
        if low > high:
            raise UserError(
                f"{where}={text} is not allowed: its low end {low} is above its high end {high}"
            )
        if "log" in value.tags and low <= 0:
            raise UserError(f"{where}={text} is not allowed: a log scale needs a low end > 0")
        return [low, high]
    return list(override.sweep_iterator())[:50]  # a choice or a range: its values


def _check_value(config: DictConfig, key: str, value: Any, searched: str) -> None:
    """A run with `key=value` is accepted, else UserError naming the search and why."""
    from omegaconf.errors import OmegaConfBaseException

    from plastic.config import invalid_value, validate

    trial = copy.deepcopy(config)
    try:
        OmegaConf.update(trial, key, value, merge=True)
        validate(trial)
    except OmegaConfBaseException as error:
        why = invalid_value(key, value, getattr(error, "msg", str(error)))
    except UserError as error:
        why = error.message
    else:
        return
    rule = why.split(" is not allowed: ", 1)[-1]
    rule = rule if rule.startswith(("must", "choose")) else f"is refused ({rule})"
    hint = (
        "; a bool is searched with choice(true, false)"
        if isinstance(value, int | float) and "bool" in rule
        else ""
    )
    raise UserError(f"{searched} is not allowed: it reaches {key}={value!r}, which {rule}{hint}")
