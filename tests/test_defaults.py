"""Each default in one place, the dataclass: a rule's (or dataset's) YAML in conf/ starts from
it (/schema/GROUP/NAME) and restates none of its values, and model=NAME / dataset=NAME compose
to exactly those defaults."""

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from plastic import registry
from plastic._paths import conf_dir
from plastic.app import register_resolvers
from plastic.config import register_configs


def composed(group: str, name: str):
    register_resolvers()
    register_configs()
    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        return compose("config", [f"{group}={name}"], return_hydra_config=False)


def plain(node) -> dict:
    return OmegaConf.to_container(node, resolve=False)


def differences(yaml: dict, defaults: dict, prefix: str = "") -> list[str]:
    """The keys where the YAML and the dataclass disagree: missing on either side, or other
    values. A nested section (model/optimizer: sgd, model/target: cosine) is a choice of its
    own group and may leave keys to the dataclass; what it sets must agree."""
    found = []
    for key in sorted(set(yaml) | set(defaults)):
        a, b = yaml.get(key, "<missing>"), defaults.get(key, "<missing>")
        if prefix and a == "<missing>":
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            found += differences(a, b, f"{prefix}{key}.")
        elif a != b or type(a) is not type(b) and not {type(a), type(b)} <= {int, float}:
            found.append(f"{prefix}{key}: yaml {a!r}, dataclass {b!r}")
    return found


@pytest.mark.parametrize("name", sorted(registry.offers(registry.RULES)))
def test_a_rules_yaml_holds_its_dataclass_defaults(name):
    model = composed("model", name).model
    cls = registry.rule_class(model)
    yaml = {k: v for k, v in plain(model).items() if k != "_target_"}
    assert not differences(yaml, plain(OmegaConf.structured(cls.Config)))


@pytest.mark.parametrize("name", sorted(registry.offers(registry.DATASETS)))
def test_a_datasets_yaml_holds_its_dataclass_defaults(name):
    dataset = plain(composed("dataset", name).dataset)
    source = registry.dataset_source(name)
    defaults = plain(OmegaConf.structured(source.Config))
    # timeline's dt follows the model's step in the YAML: the one interpolation allowed
    follows = {k for k, v in dataset.items() if isinstance(v, str) and v.startswith("${oc.select")}
    assert not differences(
        {k: v for k, v in dataset.items() if k not in follows},
        {k: v for k, v in defaults.items() if k not in follows},
    )


def test_a_drift_is_found():
    yaml = {"n_units": 32, "optimizer": {"name": "sgd", "learning_rate": 0.02}, "extra": 1}
    defaults = {"n_units": 33, "optimizer": {"name": "sgd", "learning_rate": 0.01}}
    assert differences(yaml, defaults) == [
        "extra: yaml 1, dataclass '<missing>'",
        "n_units: yaml 32, dataclass 33",
        "optimizer.learning_rate: yaml 0.02, dataclass 0.01",
    ]


@pytest.mark.parametrize("group", ["model", "dataset"])
def test_no_yaml_in_conf_restates_a_default(group):
    """A YAML that set a key to its dataclass's value would be a second copy of that default:
    each one starts from the schema and says only what differs (an interpolation may follow
    another key)."""
    for path in sorted((conf_dir() / group).glob("*.yaml")):
        node = plain(OmegaConf.load(path))
        assert f"/schema/{group}/{path.stem}@_here_" in node.get("defaults", []), path.name
        if group == "model":
            cls = registry.import_target(registry.offers(registry.RULES)[path.stem].target, group)
        else:
            cls = registry.dataset_source(path.stem)
        defaults = plain(OmegaConf.structured(cls.Config))
        for key, value in node.items():
            if key in ("defaults", "_target_") or str(value).startswith("${"):
                continue
            assert value != defaults.get(key, object()), f"{path.name} restates {key}: {value!r}"
