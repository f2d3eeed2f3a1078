"""Where rules and datasets come from, built-in or not: one path for all.

- A rule is a class (a `plastic.rule.Rule`). A config names it with Hydra's `_target_`
  (conf/model/oja.yaml: `_target_: plastic.models.oja.Oja`), so a user's own
  `--config-dir myconf model=myrule` works as a built-in does.
- Installed packages offer rules and datasets through entry points, the groups `plastic.rules`
  and `plastic.datasets` (plastic's own are declared in its pyproject.toml): `model=NAME` is then
  available without a config folder, its defaults taken from the class's `Config` dataclass.

The settings of a rule are typed and checked against that dataclass (`rule_settings`), so that a
typo or a bad value in a stranger's rule gets the same one-line error as in a built-in one.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from plastic.errors import UserError

RULES = "plastic.rules"
DATASETS = "plastic.datasets"
EXPERIMENTS = "plastic.experiments"  # a package whose folder holds recipes (YAML files)
TARGET = "_target_"


@dataclass(frozen=True)
class Offer:
    """One entry point: its name, what it points to, and the distribution that declares it."""

    name: str
    target: str  # module:attribute, as the entry point writes it
    source: str  # "plastic 0.2.0", "sanger-rule 0.1.0"

    @property
    def dotted(self) -> str:
        """The same target as Hydra's _target_ writes it (module.attribute)."""
        module, _, attribute = self.target.partition(":")
        return f"{module}.{attribute}" if attribute else module


@cache
def offers(group: str) -> dict[str, Offer]:
    """The entry points of a group, by name (the first distribution wins a clash)."""
    found: dict[str, Offer] = {}
    for point in entry_points(group=group):
        dist = point.dist
        source = f"{dist.name} {dist.version}" if dist is not None else "?"
        found.setdefault(point.name, Offer(point.name, point.value, source))
    return found


def import_target(target: str, key: str) -> Any:
    """The object that `module:attribute`, `module.attribute` or `module` names; UserError if
    none."""
    if ":" in target:
        module_name, attribute = target.split(":", 1)
    else:
        module_name, attribute = target, ""
    try:
        return _resolve(module_name, attribute)
    except ImportError as error:
        raise UserError(
            f"{key}={target!r} cannot be imported ({error}); a rule's module must be installed "
            "or in the folder plastic runs from"
        ) from None
    except AttributeError as error:
        raise UserError(f"{key}={target!r} names nothing there ({error})") from None
    except Exception as error:  # the module itself fails as it loads: a bug of the plugin's
        reason = " ".join(str(error).split())[:200] or "no message"
        raise UserError(
            f"{key}={target!r} fails to import ({type(error).__name__}: {reason}); the "
            "package or file that defines it must be mended"
        ) from None


def _import(name: str) -> Any:
    """importlib.import_module, and where the module is not installed, from the folder plastic
    runs from, as `python -m` would find it (the folder then stays on sys.path, as there, so
    that the module's own imports of its neighbours work too)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        here = os.getcwd()
        top = name.split(".")[0]
        beside = Path(here, f"{top}.py").exists() or Path(here, top).is_dir()
        if error.name != top or here in sys.path or not beside:
            raise
        sys.path.insert(0, here)
        return importlib.import_module(name)


def _resolve(dotted: str, attribute: str) -> Any:
    """Import `dotted` and take `attribute` from it; without an attribute, the longest
    importable prefix of the dotted name is the module and the rest its attributes."""
    if attribute:
        return getattr(_import(dotted), attribute)
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        name = ".".join(parts[:cut])
        try:
            found = _import(name)
        except ModuleNotFoundError as error:
            if error.name != name:  # the module exists but needs a missing package: say so
                raise
            continue
        for part in parts[cut:]:
            found = getattr(found, part)
        return found
    raise ModuleNotFoundError(f"No module named {parts[0]!r}", name=parts[0])


# ----------------------------------------------------------------------------- rules
def rule_class(model_cfg: Any) -> type:
    """The rule class that a model config names by `_target_`."""
    from plastic.rule import Rule

    target = model_cfg.get(TARGET) if isinstance(model_cfg, DictConfig | dict) else None
    if not target:
        raise UserError(
            f"model has no {TARGET}: a model config names its rule class, e.g. "
            f"{TARGET}: mypackage.MyRule (plastic list shows the rules)"
        )
    cls = import_target(str(target), f"model.{TARGET}")
    if not (isinstance(cls, type) and issubclass(cls, Rule)):
        raise UserError(f"model.{TARGET}={target!r} is not a plastic rule (a plastic.rule.Rule)")
    if not dataclasses.is_dataclass(getattr(cls, "Config", None)):
        raise UserError(f"model.{TARGET}={target!r} declares no settings dataclass (Config)")
    return cls


def checked(cls: type, settings: Any, data: Any) -> None:
    """A rule's own `check`, any exception it raises turned into the one-line form: a
    UserError as it is, anything else (a ValueError, an assert) named with the rule."""
    try:
        cls.check(settings, data)
    except UserError:
        raise
    except Exception as error:
        reason = " ".join(str(error).split())[:300] or type(error).__name__
        raise UserError(f"model={cls.__name__} refuses these settings: {reason}") from None


def rule_defaults(cls: type, target: str) -> dict:
    """A model config for a rule from its class alone: _target_ and the dataclass's defaults."""
    return {TARGET: target, **OmegaConf.to_container(OmegaConf.structured(cls.Config))}


# ----------------------------------------------------------------------------- datasets
def load_dataset(cfg: Any) -> Any:
    """The Dataset that `cfg` (a dataset section) names, loaded by its module and checked for
    what no rule can learn from (plastic.datasets.check)."""
    from plastic.datasets import check

    source = dataset_source(cfg.name)
    dataset = source.load(cfg)
    check(dataset, f"dataset={cfg.name}", getattr(source, "KIND", "images"))
    return dataset


def dataset_source(name: str) -> Any:
    """The module (or object) with `Config`, `KIND` and `load(cfg)` behind dataset=NAME."""
    offer = offers(DATASETS).get(name)
    if offer is None:
        raise UserError(
            f"dataset.name={name!r} is not an installed dataset; choose one of: "
            + ", ".join(offers(DATASETS))
        )
    return import_target(offer.target, "dataset")


# ----------------------------------------------------------------------------- recipes
def recipe_roots() -> list[tuple[Any, str, str]]:
    """(folder, name, source) of each package's recipes: an entry point of the group
    `plastic.experiments` names a package; the YAML files in its folder are recipes, chosen as
    experiment=<name>/<file>. A package that cannot be found is left out."""
    from pathlib import Path

    found = []
    for name, offer in offers(EXPERIMENTS).items():
        try:
            spec = importlib.util.find_spec(offer.dotted)
        except (ImportError, ValueError):
            spec = None
        locations = list(spec.submodule_search_locations or []) if spec else []
        if locations:
            found.append((Path(locations[0]), name, offer.source))
    return found


def broken() -> list[str]:
    """One line for each installed rule, dataset or recipe package that cannot be imported
    (the distribution that offers it, and why): such a plugin is never silently missing."""
    found = []
    for group, entry_group in (("model", RULES), ("dataset", DATASETS)):
        for name, offer in offers(entry_group).items():
            try:
                import_target(offer.target, group)
            except UserError as error:
                found.append(f"{group}={name} ({offer.source}): {error.message}")
    shipped = {name for _, name, _ in recipe_roots()}
    for name, offer in offers(EXPERIMENTS).items():
        if name not in shipped:
            found.append(f"experiment={name}/* ({offer.source}): the recipe package "
                         f"{offer.dotted!r} cannot be found")  # fmt: skip
    return found
