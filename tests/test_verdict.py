"""The verdict line: the recipe's metric against the source's figure and the run's control."""

from omegaconf import OmegaConf

from plastic.config import VerdictConfig
from plastic.verdict import judge


def verdict(**settings):
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(VerdictConfig), settings))


BARS = dict(
    metric="bar_coverage", label="bar coverage", control="bar_coverage_random", out_of=16,
    reference_low=14, reference_high=16, source="ANNarchy's tutorial",
)  # fmt: skip


def test_a_recipe_against_its_source_and_its_control():
    final = {"bar_coverage": 16.0, "bar_coverage_random": 0.0}
    assert judge(verdict(**BARS), final, "completed") == (
        "bar coverage 16/16 vs 0/16 untrained (ANNarchy's tutorial: 14-16): "
        "better than the untrained network; as the source"
    )
    final["bar_coverage"] = 13.0
    assert judge(verdict(**BARS), final, "completed").endswith(
        "better than the untrained network; below ANNarchy's tutorial"
    )


def test_without_a_recipe_the_data_decides():
    final = {"probe_accuracy": 0.903, "probe_random": 0.944, "probe_raw_pixels": 0.89}
    assert judge(verdict(), final, "completed") == (
        "features 0.903 vs 0.944 untrained: worse than the untrained network"
    )
    bars = {"bar_coverage": 12.0, "bar_coverage_random": 0.0}
    assert judge(verdict(), bars, "completed", out_of=16) == (
        "bar coverage 12/16 vs 0/16 untrained: better than the untrained network"
    )
    assert judge(verdict(), {"asymmetry": 0.9}, "completed").startswith("no verdict")


def test_lower_is_better_and_runs_that_did_not_complete():
    force = verdict(
        metric="test_rmse", label="test RMSE", reference_low=0.018, reference_high=0.020,
        higher_is_better=False, source="the seed's loop",
    )  # fmt: skip
    assert judge(force, {"test_rmse": 0.019}, "completed") == (
        "test RMSE 0.019 (the seed's loop: 0.018-0.020): as the source"
    )
    assert judge(force, {"test_rmse": 0.5}, "completed").endswith("worse than the seed's loop")
    assert judge(force, {}, "diverged") == "no verdict: the run diverged"
    assert "not a final metric" in judge(verdict(metric="nosuch"), {"x": 1.0}, "completed")


def test_a_metric_and_its_control_print_apart_when_they_differ():
    softhebb = verdict(
        metric="probe_accuracy", label="test accuracy", control="probe_random",
        reference_low=0.994, source="Journé et al.",
    )  # fmt: skip
    final = {"probe_accuracy": 0.9922, "probe_random": 0.9915}
    assert judge(softhebb, final, "completed") == (
        "test accuracy 0.9922 vs 0.9915 untrained (Journé et al.: 0.994): "
        "better than the untrained network; below Journé et al."
    )
    final = {"probe_accuracy": 0.99141, "probe_random": 0.99143}
    assert judge(softhebb, final, "completed").startswith("test accuracy 0.99141 vs 0.99143 ")
    final = {"probe_accuracy": 0.9, "probe_random": 0.9}
    assert judge(softhebb, final, "completed").startswith("test accuracy 0.900 vs 0.900 untrained")
