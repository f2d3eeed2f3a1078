"""Structured-config schemas, their registration in Hydra's ConfigStore, and value checks.

Hydra catches a misspelt key or a wrong type while it composes the config (the schemas are
dataclasses); `validate` then checks each value against the bounds declared next to its field
(`setting(0.1, gt=0)`), so that a bad value stops the run before any work, in one line.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import II, MISSING, DictConfig, OmegaConf

from plastic.errors import UserError
from plastic.evaluate import ProbeConfig
from plastic.settings import setting


# ----------------------------------------------------------------------------- shared sections
@dataclass
class DeviceConfig:
    name: str = setting("cpu", choices=("cpu", "gpu"), help="cpu runs numpy, gpu runs cupy")
    dtype: str = setting("float64", choices=("float32", "float64"))
    gpu_id: int = setting(0, ge=0)


@dataclass
class TrainerConfig:
    epochs: int = setting(1, gt=0, help="passes over the training samples")
    block_size: int = setting(100, gt=0, help="samples handed to model.learn at once")
    record_every: int | None = setting(
        None, gt=0, help="steps between metric rows and GIF frames (null: by the model's size)"
    )
    checkpoint_every: int | None = setting(
        None, gt=0, help="steps between checkpoints (null: every checkpoint_seconds instead)"
    )
    checkpoint_seconds: float = setting(
        30.0, gt=0, help="training seconds between checkpoints when checkpoint_every is null"
    )
    max_steps: int | None = setting(None, gt=0, help="cap on the samples (or steps) of the run")
    progress: str = setting("auto", choices=("auto", "bar", "log", "off"))
    log_every_seconds: float = setting(10.0, gt=0, help="pace of the plain progress lines")


@dataclass
class VizConfig:
    pictures: bool = True  # false: metrics, tables, summary and weights only (a large sweep)
    gif_max_frames: int = setting(100, gt=1, help="frames kept for the GIFs (evenly spaced)")
    gif_fps: float = setting(10.0, gt=0)
    tile_pixels: int = setting(48, gt=0, help="a receptive-field tile is upscaled to at least this")
    max_tiles: int = setting(100, gt=0, help="pictures show the first this many units")


@dataclass
class VerdictConfig:
    """What a run's verdict line judges (plastic.verdict); null metric: the data decides."""

    metric: str | None = setting(None, help="the final metric that matters")
    label: str | None = setting(None, help="its name in words (default: the metric's)")
    control: str | None = setting(None, help="a final metric of the same run to compare with")
    control_label: str = setting("untrained", help="the control's name in words")
    reference_low: float | None = setting(None, help="the source's figure (or its range)")
    reference_high: float | None = setting(None, help="the top of the source's range")
    source: str | None = setting(None, help="whose figure the reference is")
    higher_is_better: bool = True
    out_of: float | None = setting(None, gt=0, help="shown as value/out_of")


@dataclass
class MLflowConfig:
    tracking_uri: str | None = setting(
        None, help="any MLflow URI (a server, a database); null: sqlite under outputs/"
    )
    experiment_name: str = setting("plastic", help="the MLflow experiment the runs go to")
    artifacts: bool = True  # the run folder's pictures, GIFs and weights


@dataclass
class TensorBoardConfig:
    images: bool = True  # the receptive-field mosaic at every record


@dataclass
class LoggerConfig:
    """The tracking stores a run logs to (plastic.tracking); none by default."""

    mlflow: MLflowConfig | None = None
    tensorboard: TensorBoardConfig | None = None


@dataclass
class DatasetConfig:
    name: str = MISSING
    shuffle: bool = True
    seed: int = II("seed")


@dataclass
class PlasticConfig:
    model: Any = MISSING
    dataset: Any = MISSING
    device: DeviceConfig = field(default_factory=DeviceConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    viz: VizConfig = field(default_factory=VizConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    verdict: VerdictConfig = field(default_factory=VerdictConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    seed: int = setting(0, ge=0)
    resume: str | None = setting(
        None, help="a run folder to continue (set by `plastic run resume=DIR`)"
    )
    optimize_metric: str | None = setting(
        None, help="the final metric a run returns to a Hydra sweeper (optuna)"
    )


# ----------------------------------------------------------------------------- registration
def register_configs(config_dirs: tuple[Path, ...] = ()) -> list[str]:
    """Put the schemas, the rules and datasets of every installed package (entry points), and
    every recipe of experiments/ (and of packages) into Hydra's ConfigStore; returns a line for
    each installed plugin that cannot be imported.

    A rule or dataset offered by an entry point becomes `model=NAME` / `dataset=NAME` with the
    defaults of its dataclass, unless a YAML of that name is in conf/ or in one of the
    `config_dirs` (--config-dir): that YAML is the choice, as plastic's own conf/model/*.yaml
    are (Hydra would otherwise merge the two).
    """
    from hydra.core.config_store import ConfigStore

    from plastic import registry
    from plastic._paths import conf_dir, experiments_dir

    def has_yaml(group: str, name: str) -> bool:
        return any((d / group / f"{name}.yaml").exists() for d in (conf_dir(), *config_dirs))

    store = ConfigStore.instance()
    store.store(name="plastic_schema", node=PlasticConfig)
    store.store(group="schema/device", name="device", node=DeviceConfig)
    store.store(group="schema/trainer", name="trainer", node=TrainerConfig)
    for name, offer in registry.offers(registry.RULES).items():
        try:
            cls = registry.import_target(offer.target, "model")
            node = registry.rule_defaults(cls, offer.dotted)
        except Exception:  # a broken package stops only the runs that choose it, in one
            node = {registry.TARGET: offer.dotted}  # line: its import is tried again there
        # the defaults live in the dataclass alone: a YAML in conf/model starts from them
        # (defaults: /schema/model/NAME@_here_) and says only what differs
        store.store(group="schema/model", name=name, node=node)
        if not has_yaml("model", name):
            store.store(group="model", name=name, node=node)
    for name, offer in registry.offers(registry.DATASETS).items():
        try:
            source = registry.import_target(offer.target, "dataset")
            store.store(group="schema/dataset", name=name, node=source.Config)
            if not has_yaml("dataset", name):
                store.store(group="dataset", name=name, node=source.Config)
        except Exception:
            continue
    # Recipes live in experiments/ (not conf/) so that a user finds them at the top of the repo;
    # they enter Hydra as the `experiment` group (experiments/smoke/oja.yaml: experiment=smoke/oja).
    # A package's own recipes (the `plastic.experiments` entry points) come as
    # experiment=<entry point name>/<file>.
    roots = [(experiments_dir(), ()), *((r, (n,)) for r, n, _ in registry.recipe_roots())]
    for root, prefix in roots:
        for path in sorted(root.rglob("*.yaml")):
            group = "/".join(("experiment", *prefix, *path.relative_to(root).parent.parts))
            node = OmegaConf.load(path)
            store.store(group=group, name=path.stem, node=node, package="_global_")
    return registry.broken()  # the plugins that cannot be imported, a line each


# ----------------------------------------------------------------------------- validation
def validate(cfg: DictConfig) -> tuple[type, Any]:
    """Check every value against its field's rules; raise UserError naming key, value, rule.
    Returns the rule's class (named by model._target_) and its typed settings."""
    known = allowed_keys(PlasticConfig)
    for key in cfg:
        if key not in known and key != "hydra":  # `+name=value` can add keys to the root
            raise UserError(f"{key} is not a setting; the top-level keys are: {', '.join(known)}")
    _check_node(cfg, "", PlasticConfig)  # the root also holds Hydra's own node: name the schema
    from plastic import registry

    # `+section.key=value` adds a key that no schema has: refused as a typo is without the +
    sections = {
        "device": DeviceConfig,
        "trainer": TrainerConfig,
        "viz": VizConfig,
        "probe": ProbeConfig,
        "verdict": VerdictConfig,
        "dataset": registry.dataset_source(cfg.dataset.name).Config,
    }
    for section, schema in sections.items():
        _refuse_unknown_keys(cfg[section], schema, section)
    source = registry.dataset_source(cfg.dataset.name)
    if hasattr(source, "check"):  # a dataset's own cheap checks (its files), before any work
        source.check(cfg.dataset)
    from plastic.tracking import check_available

    check_available(cfg.logger)

    cls = registry.rule_class(cfg.model)
    settings = rule_settings(cls, cfg.model)  # typed by its dataclass, bounds, checks
    needed = cls.epochs_needed(settings)
    if needed and cfg.trainer.epochs < needed:  # later layers would never learn
        raise UserError(
            f"trainer.epochs={cfg.trainer.epochs} is not allowed with model={rule_choice(cfg)}: "
            f"its schedule takes {needed} passes over the data; set trainer.epochs={needed}"
        )
    if cfg.optimize_metric and cls.figure_names is not None:
        from plastic.evaluate import EVALUATOR_NAMES

        known = dict.fromkeys((*EVALUATOR_NAMES, *cls.metric_names, *cls.figure_names))
        if cfg.optimize_metric not in known:
            raise UserError(
                f"optimize_metric={cfg.optimize_metric} is not a final metric of "
                f"model={rule_choice(cfg)}; it can be: {', '.join(known)}"
            )
    if dataset_kind(cfg.dataset.name) not in cls.learns_from:
        # e.g. FORCE on images: it would run, meaning nothing
        fitting = [
            n for n in registry.offers(registry.DATASETS) if dataset_kind(n) in cls.learns_from
        ]
        raise UserError(
            f"dataset={cfg.dataset.name} is not allowed with model={rule_choice(cfg)}: it "
            f"learns from {' or '.join(cls.learns_from)}: "
            + " or ".join(f"dataset={name}" for name in fitting)
        )
    return cls, settings


def rule_settings(cls: type, model_cfg: Any) -> Any:
    """The model config typed by the class's Config dataclass and checked against its bounds
    (the keys other than _target_); UserError in one line for an unknown key or a bad value."""
    from plastic import registry

    node = OmegaConf.create(
        {
            k: v
            for k, v in OmegaConf.to_container(model_cfg, resolve=True).items()
            if k != registry.TARGET
        }
    )
    settings = OmegaConf.to_object(typed_section(cls.Config, node, "model"))
    registry.checked(cls, settings, None)
    return settings


def dataset_kind(name: str) -> str:
    """What a dataset feeds (its module's KIND): images, timeline, patterns."""
    from plastic import registry

    return getattr(registry.dataset_source(name), "KIND", "images")


def rule_choice(cfg: DictConfig) -> str:
    """The rule's name as the user chose it (model=NAME), else its class's name."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        choice = HydraConfig.get().runtime.choices.get("model")
        if choice:
            return str(choice)
    target = str(cfg.model.get("_target_", "model"))
    return target.rpartition(".")[2].lower()


def typed_section(schema: type, node: DictConfig, prefix: str) -> DictConfig:
    """`node` typed by the dataclass `schema` and checked against its bounds: an unknown key,
    a wrong type or a value out of bounds is a UserError naming `prefix.key`."""
    from omegaconf.errors import ConfigKeyError, ValidationError

    try:
        typed = OmegaConf.merge(OmegaConf.structured(schema), node)
    except ConfigKeyError as error:
        key = f"{prefix}.{error.full_key or error.key}"
        section = key.rpartition(".")[0]
        keys = allowed_keys(schema_at(schema, str(error.full_key or error.key)))
        raise UserError(
            f"{key} is not a setting; the keys of {section} are: {', '.join(keys)}"
        ) from None
    except ValidationError as error:
        key = f"{prefix}.{error.full_key or error.key}"
        raise UserError(invalid_value(key, error.value, error.msg)) from None
    _check_node(typed, prefix + ".", schema)
    return typed


def nested_schema(schema: type, name: str) -> type | None:
    """The settings dataclass of a nested section (model.optimizer), else None."""
    for f in dataclasses.fields(schema):
        if f.name == name and dataclasses.is_dataclass(f.default_factory):
            return f.default_factory
    return None


def schema_at(schema: type, key: str) -> type | None:
    """The dataclass that holds `key` (a.b.c: the section a.b's), None when there is none."""
    for part in key.split(".")[:-1]:
        schema = nested_schema(schema, part) if schema is not None else None
    return schema


def invalid_value(key: str, value: Any, message: str) -> str:
    """One line for OmegaConf's refusal of a value: 'model.n_units='abc' is not allowed: must
    be an integer'."""
    import re

    wanted = re.search(r"converted to (\w+)", message)
    rule = f"must be {article(wanted.group(1).lower())}" if wanted else message
    return f"{key}={value!r} is not allowed: {rule.strip().splitlines()[0]}"


def article(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _refuse_unknown_keys(node: DictConfig, schema: type, prefix: str) -> None:
    known = {f.name: f for f in dataclasses.fields(schema)}
    for key in node:
        if key not in known:
            raise UserError(
                f"{prefix}.{key} is not a setting; the keys of {prefix} are: {', '.join(known)}"
            )
        nested = nested_schema(schema, key)
        if nested is not None:
            _refuse_unknown_keys(node[key], nested, f"{prefix}.{key}")


def _check_node(node: DictConfig, prefix: str, schema: Any = None) -> None:
    schema = schema or OmegaConf.get_type(node)
    if not dataclasses.is_dataclass(schema):
        return
    for f in dataclasses.fields(schema):
        key = f"{prefix}{f.name}"
        value = node[f.name]
        if isinstance(value, DictConfig):
            _check_node(value, key + ".")
            continue
        rules = f.metadata.get("rules", {})
        if value is None or not rules:
            continue
        problem = _broken_rule(value, rules)
        if problem:
            raise UserError(f"{key}={value!r} is not allowed: {problem}")


BOUNDS = [
    ("gt", ">", lambda a, b: a > b),
    ("ge", ">=", lambda a, b: a >= b),
    ("lt", "<", lambda a, b: a < b),
    ("le", "<=", lambda a, b: a <= b),
]


def bounds_text(rules: dict) -> str:
    """A field's bounds in words: '> 0 and <= 1' ('' when it has none)."""
    return " and ".join(f"{sign} {rules[k]}" for k, sign, _ in BOUNDS if k in rules)


def _broken_rule(value: Any, rules: dict) -> str | None:
    if "choices" in rules and value not in rules["choices"]:
        return "choose one of " + ", ".join(map(str, rules["choices"]))
    bounded = any(k in rules for k, _, _ in BOUNDS)
    if bounded and isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number {bounds_text(rules)}"  # inf passes "> 0" otherwise
    if any(k in rules and not ok(value, rules[k]) for k, _, ok in BOUNDS):
        return f"must be {bounds_text(rules)}"
    return None


def allowed_keys(schema: Any) -> list[str]:
    return [f.name for f in dataclasses.fields(schema)] if dataclasses.is_dataclass(schema) else []
