"""What a sweep concludes: conditions x replicates, their aggregates and the tests between them.

A sweep asks a question as conditions (the swept keys) times replicates (by default `seed`).
This module groups a sweep's runs into conditions, aggregates every final metric over each
condition's replicates, and answers two questions per metric, with tests from scipy.stats:

- which condition is best, and does it differ from the runner-up beyond the replicates' noise
  (Welch's t-test, with Hedges' g as the effect size);
- did learning beat the untrained control in each condition (the control is measured in the
  same run, so learned and untrained pair by replicate: a paired t-test on their differences).

Aggregates are mean, sample standard deviation (ddof = 1), n and a 95 % confidence interval of
the mean from Student's t distribution. Everything here is computed from numbers: nothing is
drawn or written (plastic.report does that).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

REPLICATES = ("seed",)  # the replicate axis of a sweep unless `plastic report --replicates`
ALPHA = 0.05  # the level at which a difference is called one


@dataclass(frozen=True)
class Aggregate:
    """A metric over one condition's replicates; `values` in the replicates' order."""

    values: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.values)

    # exactly rounded sums (math.fsum): the same replicates in any order give the same bits

    @property
    def mean(self) -> float:
        return math.fsum(self.values) / self.n if self.values else math.nan

    @property
    def sd(self) -> float:
        if self.n < 2:
            return math.nan
        mean = self.mean
        return math.sqrt(math.fsum((v - mean) ** 2 for v in self.values) / (self.n - 1))

    @property
    def ci95(self) -> tuple[float, float]:
        """The 95 % confidence interval of the mean (Student's t); NaN for n < 2."""
        if self.n < 2:
            return (math.nan, math.nan)
        from scipy.stats import t

        half = t.ppf(1 - ALPHA / 2, self.n - 1) * self.sd / math.sqrt(self.n)
        return (float(self.mean - half), float(self.mean + half))

    def text(self, with_n: bool = True) -> str:
        """'15.3 ± 0.58 (n=3)': mean ± standard deviation, and n."""
        if not self.values:
            return ""
        n = f" (n={self.n})" if with_n else ""
        if self.n == 1:
            return f"{number(self.mean)}{n}"
        return f"{mean_and_sd(self.mean, self.sd)}{n}"


@dataclass
class Condition:
    """One combination of the condition keys' values and the runs that share it."""

    values: tuple[tuple[str, str], ...]  # (key, value) for each condition key, in key order
    runs: list[dict] = field(default_factory=list)

    @property
    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.values) or "all runs"

    def aggregate(self, metric: str) -> Aggregate:
        """The metric over this condition's completed runs (runs without it are left out)."""
        return Aggregate(tuple(v for v in (finite(r, metric) for r in self.runs) if v is not None))

    def pairs(self, metric: str, control: str) -> tuple[np.ndarray, np.ndarray]:
        """(learned, untrained) of the runs that have both: paired by run, so by replicate."""
        both = [(finite(r, metric), finite(r, control)) for r in self.runs]
        both = [(a, b) for a, b in both if a is not None and b is not None]
        return np.array([a for a, _ in both]), np.array([b for _, b in both])


@dataclass
class Findings:
    """A sweep's conditions, their aggregates and the answers to its questions."""

    condition_keys: list[str]
    replicate_keys: list[str]
    metrics: list[str]  # every final metric, in the runs' order
    varying: list[str]  # those that are not the same in every run: they get figures and tests
    groups: list[Condition]
    goals: dict[str, str]  # metric -> "max" | "min", as the runs declare them
    controls: dict[str, str]  # metric -> its untrained control, measured in the same run
    primary: str | None  # the metric the table sorts by and the verdicts speak of
    answers: list[Difference] = field(default_factory=list)
    against: dict[str, list[AgainstControl]] = field(default_factory=dict)  # by metric

    @property
    def replicated(self) -> bool:
        return any(len(g.runs) > 1 for g in self.groups)

    def verdict(self, group: Condition) -> str:
        """The condition's verdict on the primary metric: best or runner-up, and against the
        untrained control."""
        words = []
        answer = next((a for a in self.answers if a.metric == self.primary), None)
        if answer is not None and answer.runner_up is not None:
            if group is answer.best:
                words.append(f"best on {self.primary}, {answer.words}")
            elif group is answer.runner_up:
                words.append(f"runner-up on {self.primary}")
        for result in self.against.get(self.primary, []):
            if result.condition is group:
                words.append(result.words)
        return "; ".join(words)


def finite(row: dict, metric: str) -> float | None:
    """A completed run's metric as a finite float, else None."""
    if row.get("status") != "completed":
        return None
    try:
        value = float(row["metrics"][metric])
    except (KeyError, TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def conditions(rows: list[dict], keys: list[str]) -> list[Condition]:
    """The runs grouped by the values of `keys`, in the values' order (numbers as numbers)."""
    groups: dict[tuple, Condition] = {}
    for row in rows:
        values = tuple((k, str(row["overrides"].get(k, ""))) for k in keys)
        groups.setdefault(values, Condition(values)).runs.append(row)
    return [groups[v] for v in sorted(groups, key=lambda v: [order_key(x) for _, x in v])]


def order_key(value: str):
    """Numbers first, by value; then text, alphabetically."""
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)


def constant(groups: list[Condition], metric: str) -> bool:
    """Whether every completed run has the same value of `metric` (or none has it)."""
    values = {v for c in groups for v in c.aggregate(metric).values}
    return len(values) <= 1


# ----------------------------------------------------------------------------- the tests
@dataclass(frozen=True)
class Difference:
    """The best condition for a metric against the runner-up."""

    metric: str
    goal: str | None  # "max", "min" or None (no direction declared: the largest is shown)
    best: Condition
    runner_up: Condition | None
    p_value: float | None  # Welch's t-test, two-sided; None where it cannot be computed
    hedges_g: float | None  # (best - runner-up) / pooled sd, small-sample corrected
    words: str

    @property
    def differs(self) -> bool:
        return self.words.startswith("differs")


def best_and_runner_up(groups: list[Condition], metric: str, goal: str | None) -> Difference:
    """Rank the conditions by their mean (largest first unless the goal is "min") and test the
    best against the runner-up."""
    ranked = [c for c in groups if c.aggregate(metric).n > 0]
    ranked.sort(key=lambda c: c.aggregate(metric).mean, reverse=goal != "min")
    best = ranked[0]
    runner = ranked[1] if len(ranked) > 1 else None

    def answer(p_value, g, words):
        return Difference(metric, goal, best, runner, p_value, g, words)

    if runner is None:
        return answer(None, None, "one condition: nothing to rank")
    a, b = best.aggregate(metric), runner.aggregate(metric)
    if a.n < 2 or b.n < 2:
        return answer(
            None, None, "no test: a condition has fewer than 2 replicates (add seeds: seed=0,1,2)"
        )
    if a.mean == b.mean:
        return answer(1.0, 0.0, "no difference: equal means")
    g = hedges_g(a.values, b.values)
    if a.sd == 0 and b.sd == 0:  # a t statistic divides by zero: the difference is exact
        return answer(None, g, "differs at every replicate (no spread within either condition)")
    from scipy.stats import ttest_ind

    p = _p_value(ttest_ind, a.values, b.values, equal_var=False)
    if p < ALPHA:
        return answer(p, g, f"differs beyond the replicates' noise (Welch's t-test {p_text(p)})")
    return answer(p, g, f"not distinguishable from the runner-up (Welch's t-test {p_text(p)})")


def _p_value(test, *samples, **options) -> float:
    """The test's p-value, without scipy's warning about values equal but for rounding (its
    moments lose precision; the p-value it gives is still the one to report, and the report's
    own words say what it means)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        return float(test(*samples, **options).pvalue)


def hedges_g(a, b) -> float | None:
    """Standardised mean difference (a - b) with Hedges' small-sample correction."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        return None
    pooled = math.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2))
    if pooled == 0:
        return None
    correction = 1 - 3 / (4 * (na + nb) - 9)
    return float((a.mean() - b.mean()) / pooled * correction)


@dataclass(frozen=True)
class AgainstControl:
    """Learning against the untrained network of the same runs, in one condition."""

    condition: Condition
    metric: str
    control: str
    n: int
    mean_difference: float  # learned - untrained, averaged over the pairs
    p_value: float | None  # paired t-test, two-sided
    beat: bool | None  # True: better, False: not (worse or no difference), None: cannot tell
    words: str


def against_control(
    condition: Condition, metric: str, control: str, goal: str | None
) -> AgainstControl:
    """Whether the learned network beat the untrained one on `metric`, paired by replicate."""
    learned, untrained = condition.pairs(metric, control)
    sign = -1.0 if goal == "min" else 1.0  # "better" is a larger value unless the goal is min
    difference = sign * (learned - untrained)
    n = len(difference)
    mean = float(sign * difference.mean()) if n else math.nan

    def result(p, beat, words):
        return AgainstControl(condition, metric, control, n, mean, p, beat, words)

    if n == 0:
        return result(None, None, "no run has both figures")
    if n == 1:
        better = difference[0] > 0
        return result(None, None, f"{'better' if better else 'not better'} in its one run: no test")
    if np.all(difference == difference[0]):  # no spread: the t statistic is undefined
        if difference[0] > 0:
            return result(None, True, f"better than untrained at every replicate ({n} of {n})")
        return result(
            None,
            False,
            f"{'worse' if difference[0] < 0 else 'no better'} than "
            f"untrained at every replicate ({n} of {n})",
        )
    from scipy.stats import ttest_rel

    p = _p_value(ttest_rel, learned, untrained)
    if p < ALPHA and difference.mean() > 0:
        return result(p, True, f"better than untrained (paired t-test {p_text(p)}, n={n})")
    if p < ALPHA:
        return result(p, False, f"worse than untrained (paired t-test {p_text(p)}, n={n})")
    return result(
        p, False, f"not distinguishable from untrained (paired t-test {p_text(p)}, n={n})"
    )


# ----------------------------------------------------------------------------- words
def as_number(value) -> float | None:
    """A value read from a summary or a CSV as a float, None when it is not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def number(value: float) -> str:
    """A figure in at most four significant digits; integers as integers."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    if float(value).is_integer() and abs(value) < 1e6:
        return f"{int(value)}"
    return f"{value:.4g}"


def mean_and_sd(mean: float, sd: float) -> str:
    """'0.699 ± 0.030': the sd to two significant digits, the mean to the same place."""
    if not (math.isfinite(sd) and sd > 0 and math.isfinite(mean)):
        return f"{number(mean)} ± {number(sd)}"
    places = min(12, max(0, 1 - math.floor(math.log10(sd))))
    return f"{mean:.{places}f} ± {sd:.{places}f}"


def p_text(p: float | None) -> str:
    """'p = 0.012', 'p < 0.0001' or 'p n/a'."""
    if p is None or math.isnan(p):
        return "p n/a"
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.2g}" if p < 0.01 else f"p = {p:.3f}"
