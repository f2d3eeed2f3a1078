"""`plastic list`: every choice of every config group, and any choice's settings.

- `plastic list`: a row per choice (model, dataset, device, trainer, logger, model/optimizer,
  model/target, experiment, launcher, sweeper) with its whole description and where it comes
  from (plastic, an installed package, a package's recipes);
- `plastic list GROUP=NAME` (or a section, `plastic list viz`): one line per setting, its
  default, what is allowed and its help, from the dataclass that checks it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from plastic.errors import UserError

# the groups of conf/ whose choices are YAML files, and the schema of what each holds
YAML_GROUPS = ("device", "trainer", "logger", "model/optimizer", "model/target")
SECTIONS = ("device", "trainer", "viz", "probe", "verdict", "logger")
LAUNCHERS = (
    ("launcher", "pool", "the default for -m: a worker process per core, job after job"),
    ("launcher", "basic", "Hydra's own: one job after another in the sweep's process"),
    ("launcher", "joblib", "Hydra's joblib: a local process per job call"),
    ("launcher", "submitit_local", "local processes through submitit"),
    ("launcher", "slurm", "a SLURM cluster: conf/hydra/launcher/slurm.yaml, to copy and edit"),
    ("sweeper", "optuna", "hyperparameter search (hydra/sweeper=optuna, optimize_metric=)"),
)


def description(text: str | None) -> str:
    """A docstring's (or comment's) first paragraph, on one line: never cut mid-sentence."""
    lines = []
    for line in (text or "").strip().splitlines():
        if not line.strip():
            break
        lines.append(line.strip())
    return " ".join(lines)


def describe_yaml(path: Path) -> str:
    """The first comment paragraph of a YAML file that is not a Hydra directive."""
    lines = []
    for line in path.read_text().splitlines():
        text = line.strip()
        if text.startswith("#") and "@package" not in text:
            if text.strip("# "):
                lines.append(text.lstrip("# ").strip())
            elif lines:
                break
        elif lines or (text and not text.startswith("#")):
            break
    return " ".join(lines)


def choices() -> list[tuple[str, str, str, str]]:
    """(group, name, description, from) for every choice."""
    from plastic import registry
    from plastic._paths import conf_dir

    rows = []
    for group, entry_group in (("model", registry.RULES), ("dataset", registry.DATASETS)):
        for name, offer in registry.offers(entry_group).items():
            try:
                text = description(registry.import_target(offer.target, group).__doc__)
            except UserError as error:  # a broken package is listed with its reason
                text = f"cannot be imported: {error.message}"
            rows.append((group, name, text, offer.source))
    for group in YAML_GROUPS:
        for path in sorted((conf_dir() / group).glob("*.yaml")):
            rows.append((group, path.stem, describe_yaml(path), ""))
    for name, path, source in recipes():
        rows.append(("experiment", name, describe_yaml(path), source))
    rows += [(group, name, text, "") for group, name, text in LAUNCHERS]
    return rows


def recipes() -> list[tuple[str, Path, str]]:
    """(name, file, from) of every recipe: plastic's experiments/ and those that installed
    packages ship (the `plastic.experiments` entry points)."""
    from plastic import registry
    from plastic._paths import experiments_dir

    found = []
    roots = [(experiments_dir(), "", ""), *registry.recipe_roots()]
    for root, prefix, source in roots:
        for path in sorted(root.rglob("*.yaml")):
            name = path.relative_to(root).with_suffix("").as_posix()
            found.append((f"{prefix}/{name}" if prefix else name, path, source))
    return found


def print_choices() -> None:
    from rich.markup import escape
    from rich.table import Table

    from plastic.terminal import console

    table = Table(show_header=True, header_style="bold", box=None, padding=(0, 2))
    table.add_column("group", no_wrap=True)
    table.add_column("name", no_wrap=True)
    table.add_column("description")
    table.add_column("from", no_wrap=True)
    for row in choices():
        table.add_row(*(escape(cell) for cell in row))
    console().print(table)
    print("a choice's settings: plastic list GROUP=NAME (plastic list model=oja, "
          "plastic list logger=mlflow); a section's: plastic list viz")  # fmt: skip


def print_settings(asked: str) -> None:
    """One line a setting: key = default  [allowed]  help; readable at any width, greppable."""
    group, _, name = asked.partition("=")
    schema, values, source = _schema_of(group, name, asked)
    prefix = group.replace("/", ".")  # model/optimizer=adam is set as model.optimizer.*
    if group == "logger":  # a logger's YAML sets one section per store (many: both)
        rows = [
            row
            for store, store_schema in _logger_schemas().items()
            if not name or store in {k.partition(".")[0] for k in values}
            for row in settings_rows(store_schema, f"logger.{store}", _below(values, store))
        ]
        if not rows:
            print(f"{asked} ({source}): no tracking store, nothing to set")
            return
    else:
        rows = settings_rows(schema, prefix, values)
    width = max(len(f"{key} = {default}") for key, default, _, _ in rows)
    print(f"{asked} ({source}): its settings, their defaults and what is allowed")
    for key, default, allowed, text in rows:
        line = f"{key} = {default}".ljust(width) + f"  [{allowed}]"
        print(f"  {line}  {text}".rstrip())


def _schema_of(group: str, name: str, asked: str) -> tuple[type, dict, str]:
    """The dataclass behind GROUP=NAME, the values its YAML sets, and where it comes from."""
    from omegaconf import OmegaConf

    from plastic import config, registry
    from plastic._paths import conf_dir

    if group in ("model", "dataset"):
        entry_group = registry.RULES if group == "model" else registry.DATASETS
        offer = registry.offers(entry_group).get(name)
        if offer is None:
            known = ", ".join(registry.offers(entry_group))
            raise UserError(f"plastic list {asked}: {group}={name} is not available; choose "
                            f"one of: {known}")  # fmt: skip
        return registry.import_target(offer.target, group).Config, {}, offer.source
    schemas = {
        "device": config.DeviceConfig,
        "trainer": config.TrainerConfig,
        "viz": config.VizConfig,
        "probe": config.ProbeConfig,
        "verdict": config.VerdictConfig,
        "model/optimizer": _optimizer_schema(),
        "model/target": _target_schema(),
    }
    if group == "logger":
        schemas["logger"] = config.LoggerConfig
    if group not in schemas:
        every = ", ".join(["model=", "dataset=", *[f"{g}=" for g in YAML_GROUPS], *SECTIONS])
        raise UserError(f"plastic list {asked}: {group} is not a config group; choose one of: "
                        f"{every}")  # fmt: skip
    if not name:
        return schemas[group], {}, "plastic"
    path = conf_dir() / group / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(p.stem for p in sorted((conf_dir() / group).glob("*.yaml")))
        raise UserError(f"plastic list {asked}: {group}={name} is not available; choose one "
                        f"of: {known or '(none: plastic list ' + group + ')'}")  # fmt: skip
    values = OmegaConf.to_container(OmegaConf.load(path))
    for entry in values.pop("defaults", None) or []:  # logger=many: the stores it composes
        if isinstance(entry, str) and entry != "_self_":
            values.setdefault(entry, {})
    return schemas[group], _flat(values), "plastic"


def _logger_schemas() -> dict[str, type]:
    from plastic import config

    return {"mlflow": config.MLflowConfig, "tensorboard": config.TensorBoardConfig}


def _below(values: dict, key: str) -> dict:
    return {k.partition(".")[2]: v for k, v in values.items() if k.startswith(f"{key}.")}


def _optimizer_schema() -> type:
    from plastic.optim import OptimizerConfig

    return OptimizerConfig


def _target_schema() -> type:
    from plastic.models.force import TargetConfig

    return TargetConfig


def _flat(values: dict, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict) and not value:
            flat[f"{prefix}{key}."] = None  # a section present with its defaults
        elif isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def settings_rows(schema, prefix: str, values: dict | None = None) -> list[tuple[str, ...]]:
    """(key, default, allowed, help) for every field of a settings dataclass, nested ones too;
    `values` (dotted keys below the prefix) replace the dataclass's defaults where given."""
    from plastic.config import bounds_text, nested_schema

    values = values or {}
    rows = []
    for f in dataclasses.fields(schema):
        key = f"{prefix}.{f.name}"
        nested = nested_schema(schema, f.name)
        if nested is not None:
            inner = {
                k.partition(".")[2]: v for k, v in values.items() if k.startswith(f"{f.name}.")
            }
            rows += settings_rows(nested, key, inner)
            continue
        rules = f.metadata.get("rules", {})
        allowed = bounds_text(rules)
        if "choices" in rules:
            allowed = " | ".join(map(str, rules["choices"]))
        kind = getattr(f.type, "__name__", str(f.type))
        if f.name in values:
            default = repr(values[f.name])
        else:
            default = (
                repr(f.default_factory())  # a list of values, one a layer
                if f.default is dataclasses.MISSING and f.default_factory is not dataclasses.MISSING
                else ("" if f.default is dataclasses.MISSING else repr(f.default))
            )
        rows.append((key, default, allowed or kind, f.metadata.get("help", "")))
    return rows


def check_plugins() -> int:
    """`plastic list --check`: each installed plugin that cannot be imported, a line each, and
    exit 1 (as npe2 validate does for napari's); 0 and one line when every one imports."""
    from plastic import registry

    failing = registry.broken()
    for line in failing:
        print(f"plastic: {line}")
    if failing:
        return 1
    counts = {g: len(registry.offers(g)) for g in (registry.RULES, registry.DATASETS,
                                                     registry.EXPERIMENTS)}  # fmt: skip
    print(f"every plugin imports: {counts[registry.RULES]} rules, {counts[registry.DATASETS]} "
          f"datasets, {counts[registry.EXPERIMENTS]} recipe packages")  # fmt: skip
    return 0
