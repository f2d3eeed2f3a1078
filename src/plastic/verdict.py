"""The verdict: one line, in words a newcomer reads, on whether a run learned what it should.

A recipe names the final metric that matters and what to hold it against: the source's
figure (`verdict.reference_low..reference_high`, whose: `verdict.source`) and/or a control
measured in the same run (`verdict.control`, e.g. the untrained network's `probe_random`).
Without a recipe's word, the data decides: bar coverage on the bars problem, the linear probe
against the untrained network's on labelled data.

    bar coverage 16/16 vs 0/16 untrained (ANNarchy's tutorial: 14-16): as the source
    features 0.903 vs untrained 0.944: worse than the untrained network
"""

from __future__ import annotations

from typing import Any


def judge(cfg: Any, final: dict[str, float], status: str, out_of: float | None = None) -> str:
    """The verdict line for a run's final metrics (`cfg`: the verdict config section)."""
    if status != "completed":
        return f"no verdict: the run {status}"
    judged = judged_metric(cfg, final)
    if judged is None:
        return "no verdict: this run names no metric to judge (set verdict.metric)"
    metric, control, label = judged
    if metric not in final:
        return f"no verdict: verdict.metric={metric} is not a final metric of this run"
    label = label or metric.replace("_", " ")
    value = final[metric]
    scale = cfg.out_of if cfg.out_of is not None else (out_of if metric == "bar_coverage" else None)
    paired = control is not None and control in final
    decimals = _decimals_to_tell_apart(value, final[control]) if paired else None
    words = [f"{label} {_number(value, scale, decimals)}"]
    judgements = []
    if paired:
        words.append(f"vs {_number(final[control], scale, decimals)} {cfg.control_label}")
        judgements.append(_against_control(value, final[control], cfg))
    if cfg.reference_low is not None or cfg.reference_high is not None:
        words.append(f"({cfg.source or 'the source'}: {_range(cfg)})")
        judgements.append(_against_source(value, cfg))
    return " ".join(words) + (": " + "; ".join(judgements) if judgements else "")


def judged_metric(cfg: Any, final: dict[str, float]) -> tuple[str, str | None, str] | None:
    """(metric, control, label) that the verdict speaks of: the recipe's, else the data's."""
    if cfg.metric is not None:
        return cfg.metric, cfg.control, cfg.label
    if "bar_coverage" in final:  # the data decides
        return "bar_coverage", "bar_coverage_random", "bar coverage"
    if "probe_accuracy" in final:
        return "probe_accuracy", "probe_random", "features"
    return None


def goals_and_controls(rule: type, cfg: Any, final: dict[str, float]) -> dict[str, dict]:
    """For summary.json: which way is better for each final metric (the evaluator's, the
    rule's `metric_goals`, the verdict's), the untrained control beside each, and the metric
    the verdict judges; `plastic report` reads them to rank a sweep's conditions."""
    from plastic.evaluate import EVALUATOR_CONTROLS, EVALUATOR_GOALS

    goals = {**EVALUATOR_GOALS, **getattr(rule, "metric_goals", {})}
    controls = dict(EVALUATOR_CONTROLS)
    judged = judged_metric(cfg, final)
    if judged is not None:
        metric, control, _ = judged
        goals[metric] = "max" if cfg.higher_is_better else "min"
        if control:
            controls[metric] = control
    return {
        "goals": {k: v for k, v in goals.items() if k in final},
        "controls": {k: v for k, v in controls.items() if k in final and v in final},
        "judged": {"metric": judged[0], "control": judged[1]}
        if judged and judged[0] in final
        else None,
    }


GOOD = ("better than", "as the source", "beyond")  # the words judge() writes, by their tone
BAD = ("worse", "below", "no better")


def judged(line: str | None) -> bool:
    """Whether a verdict line judges the run (not "no verdict: why")."""
    return bool(line) and not line.startswith("no verdict")


def colour(line: str) -> str:
    """The line's colour for a terminal: green all good, red all bad, yellow mixed."""
    good, bad = any(w in line for w in GOOD), any(w in line for w in BAD)
    return {(True, False): "green", (True, True): "yellow", (False, True): "red"}.get(
        (good, bad), "default"
    )


def _against_control(value: float, control: float, cfg: Any) -> str:
    better = value > control if cfg.higher_is_better else value < control
    if value == control:
        return f"no better than the {cfg.control_label} network"
    return f"{'better' if better else 'worse'} than the {cfg.control_label} network"


def _against_source(value: float, cfg: Any) -> str:
    low, high = cfg.reference_low, cfg.reference_high
    if cfg.higher_is_better:
        if low is not None and value < low:
            return f"below {cfg.source or 'the source'}"
        return "as the source" if high is None or value <= high else "beyond the source"
    if high is not None and value > high:
        return f"worse than {cfg.source or 'the source'}"
    return "as the source" if low is None or value >= low else "beyond the source"


def _range(cfg: Any) -> str:
    low, high = cfg.reference_low, cfg.reference_high
    if low is not None and high is not None and low != high:
        return f"{_number(low)}-{_number(high)}"
    return _number(low if low is not None else high)


def _decimals_to_tell_apart(value: float, control: float) -> int:
    """Three decimals, or as many more (up to six) as it takes for two different numbers not
    to print alike: "0.9922 vs 0.9915", never "0.992 vs 0.992: better than"."""
    for decimals in range(3, 7):
        if f"{value:.{decimals}f}" != f"{control:.{decimals}f}":
            return decimals
    return 3


def _number(value: float, out_of: float | None = None, decimals: int | None = None) -> str:
    if out_of is not None:
        return f"{value:g}/{out_of:g}"
    if value != value:  # NaN
        return "nan"
    if float(value).is_integer() and abs(value) < 1e6:
        return f"{int(value)}"
    if abs(value) < 10:
        return f"{value:.{decimals or 3}f}"
    return f"{value:.4g}"
