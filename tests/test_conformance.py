"""Every rule, built-in or the worked example, passes plastic.testing's conformance kit."""

import sys

import pytest

from plastic.testing import CHECKS, DYNAMICAL_CHECKS, rule_checks
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "examples" / "own_rule"))  # the worked example's rule
SANGER = REPO / "examples" / "own_rule" / "sanger.py"

# small settings that keep each rule's checks to seconds
RULES = {
    "plastic.models.oja:Oja": {"n_units": 8, "steps_per_trial": 10},
    "plastic.models.bcm:BCM": {"n_units": 6, "batch_size": 20, "orthogonalize": True},
    "plastic.models.hopfield:KrotovHopfield": {"n_units": 6, "batch_size": 20, "k": 2},
    "plastic.models.topo_wta:TopoWTA": {"kx": 4, "ky": 3, "n_winners": 2},
    "plastic.models.force:Force": {"n_units": 40, "train_until": 50.0},
    "plastic.models.attractor:Attractor": {"diagnostics_every": 10, "retrieval_trials": 4},
    "plastic.models.softhebb:SoftHebb": {
        "channels": [4, 6],
        "kernel": [3, 3],
        "padding": [1, 1],
        "t_invert": [1.0, 0.65],
        "learning_rate": [0.08, 0.01],
        "triangle_power": [0.7, 1.0],
        "pool": ["max_2_2_0", "avg_2_2_0"],
        "batch_size": 5,
        "mode": "consecutive",
    },
    "sanger:Sanger": {"n_components": 4},
}


@pytest.mark.parametrize("check", CHECKS + DYNAMICAL_CHECKS)
@pytest.mark.parametrize("target", list(RULES), ids=lambda t: t.rpartition(":")[2])
def test_rule_keeps_the_runners_promises(target, check):
    checks = dict(rule_checks(target, RULES[target]))
    if check not in checks:
        pytest.skip(f"{check} is for dynamical systems")
    checks[check]()


def test_rules_compute_and_never_draw_or_write():
    """No rule module imports the drawing or writing code, nor opens a file."""
    import ast

    forbidden = {
        "plastic.pictures.primitives",
        "plastic.pictures",
        "plastic.artifacts",
        "matplotlib",
        "imageio",
    }
    source = REPO / "src" / "plastic"
    for path in sorted(
        [*source.joinpath("models").glob("*.py"), *source.joinpath("kernels").glob("*.py")]
    ):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                assert not any(name == f or name.startswith(f + ".") for f in forbidden), (
                    f"{path.name} imports {name}"
                )
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "open":
                raise AssertionError(f"{path.name} opens a file")
            if isinstance(node, ast.Attribute) and node.attr in (
                "write_text",
                "write_bytes",
                "savefig",
            ):
                raise AssertionError(f"{path.name} writes a file ({node.attr})")


def test_no_rule_branches_on_its_device():
    """A rule's learning code is the reference, in the array namespace: a fast path for a
    device is a registered kernel (plastic.kernels), never an `if` on the device in the rule
    (a refusal of settings that a device cannot run is allowed)."""
    import ast

    for path in sorted((REPO / "src" / "plastic" / "models").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.If | ast.IfExp):
                continue
            test = ast.unparse(node.test)
            if "backend" in test or "on_device" in test:
                body = node.body if isinstance(node, ast.If) else [node.body]
                assert all(isinstance(n, ast.Raise) for n in body), (
                    f"{path.name}:{node.lineno} branches on the device: {test}"
                )


def test_every_rule_declares_its_state_and_writes_no_state_dict():
    """Checkpoints, round trips and the guard follow from each rule's State: no rule (nor the
    worked example) keeps a state_dict of its own."""
    import ast

    from plastic import registry

    files = [*(REPO / "src" / "plastic" / "models").glob("*.py"), SANGER]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                assert node.name not in ("state_dict", "load_state_dict"), (
                    f"{path.name}:{node.lineno} writes its own {node.name}"
                )
    for name, offer in registry.offers(registry.RULES).items():
        rule = registry.import_target(offer.target, name)
        assert rule.State is not None, f"model={name} declares no State"


def test_a_wrong_kernel_fails_the_kit(monkeypatch):
    """A mutation in a fast path (here: the compiled Oja loop forgets one decay term) is caught
    by the kit's kernels check, which names the kernel."""
    from plastic.kernels import oja_cpu
    from plastic.testing import check_rule

    def forgets_the_lateral_decay(rule, images, rates, mean_rates, learn_ff, learn_lateral):
        alpha = rule.cfg.alpha_lateral
        rule.cfg.alpha_lateral = 0.0
        try:
            oja_cpu.run_trials(
                rule.feedforward, rule.lateral, rates, images, mean_rates,
                rule.cfg.steps_per_trial, *rule.step_sizes, rule.cfg.alpha_feedforward,
                0.0, learn_ff, learn_lateral,
            )  # fmt: skip
        finally:
            rule.cfg.alpha_lateral = alpha

    monkeypatch.setattr(oja_cpu, "trials", forgets_the_lateral_decay)
    settings = RULES["plastic.models.oja:Oja"]
    wrong = "kernels .*oja_cpu:trials.* differs from the reference"
    with pytest.raises(AssertionError, match=wrong):
        check_rule("plastic.models.oja:Oja", settings, checks=("kernels",))
    monkeypatch.undo()
    check_rule("plastic.models.oja:Oja", settings, checks=("kernels",))  # the true one passes


def test_the_runner_probes_no_rule_attribute():
    source = (REPO / "src" / "plastic" / "app.py").read_text()
    assert "getattr(model" not in source and "hasattr(model" not in source


def test_the_kit_fails_a_rule_that_keeps_or_changes_its_block():
    """The buffer a shuffled run reuses would corrupt such a rule silently: the kit says so."""
    from plastic.models.oja import Oja
    from plastic.testing import check_rule

    class KeepsItsBlock(Oja):
        def learn(self, block):
            previous, self.previous = getattr(self, "previous", None), block
            if previous is not None:
                super().learn(previous[:1])  # reads the last block after learn returned
            super().learn(block)

    class ScalesItsBlock(Oja):
        def learn(self, block):
            super().learn(block)
            block *= 0.5

    settings = RULES["plastic.models.oja:Oja"]
    with pytest.raises(AssertionError, match="borrowed_block.*reference"):
        check_rule(KeepsItsBlock, settings, checks=("borrowed_block",))
    with pytest.raises(AssertionError, match="borrowed_block: learn changed its block"):
        check_rule(ScalesItsBlock, settings, checks=("borrowed_block",))
    check_rule(Oja, settings, checks=("borrowed_block",))  # and passes one that does neither
