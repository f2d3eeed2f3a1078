"""The checks that measure learning, chosen by what the dataset allows.

- bars: coverage of the 16 bars by selective units (the spec's measure), recorded during training;
- labelled data (digits, mnist): a linear probe on the model's responses, next to the same
  probe on the raw pixels, at the end of the run.
"""

from __future__ import annotations

import numpy as np

from plastic.config import ProbeConfig
from plastic.datasets import Dataset
from plastic.rule import FeatureLearner

# the final figures the evaluator itself may add, whatever the rule
EVALUATOR_NAMES = (
    "bar_coverage",
    "selective_units",
    "mean_best_cosine",
    "bar_coverage_random",
    "duplicate_fields",
    "probe_accuracy",
    "probe_raw_pixels",
    "probe_random",
    "probe_train_samples",
)
# which way is better for the evaluator's figures, and the untrained control measured beside
# each in the same run (plastic report pairs them by replicate)
EVALUATOR_GOALS = {
    "bar_coverage": "max",
    "mean_best_cosine": "max",
    "duplicate_fields": "min",
    "probe_accuracy": "max",
}
EVALUATOR_CONTROLS = {"bar_coverage": "bar_coverage_random", "probe_accuracy": "probe_random"}
SELECTIVE_COSINE = 0.8  # a unit is selective for a bar when its best cosine reaches this
DUPLICATE_COSINE = 0.95  # two fields this alike are near-duplicates


def cosine_matrix(fields: np.ndarray, templates: np.ndarray) -> np.ndarray:
    """Cosine similarity of every field (rows) with every template (columns)."""
    f = fields / np.maximum(np.linalg.norm(fields, axis=1, keepdims=True), 1e-12)
    t = templates / np.maximum(np.linalg.norm(templates, axis=1, keepdims=True), 1e-12)
    return f @ t.T


def bar_coverage(
    fields: np.ndarray, templates: np.ndarray, centred: bool = True
) -> dict[str, float]:
    """Distinct bars that have a selective unit, the number of selective units, mean best cosine.

    `centred`: the cosine of each field and each bar less its own mean over the pixels, so that
    a field that keeps a uniform background (b + (1 - b) bar) is as selective as the bar alone;
    else the cosine of the arrays as they are (ANNarchy's tutorial measures so)."""
    if centred:
        fields = fields - fields.mean(axis=1, keepdims=True)
        templates = templates - templates.mean(axis=1, keepdims=True)
    cosines = cosine_matrix(fields, templates)
    best = cosines.max(axis=1)
    selective = best >= SELECTIVE_COSINE
    covered = np.unique(cosines.argmax(axis=1)[selective])
    return {
        "bar_coverage": float(len(covered)),
        "selective_units": float(selective.sum()),
        "mean_best_cosine": float(best.mean()),
    }


def linear_probe(train_x, train_y, test_x, test_y, seed: int = 0, max_iter: int = 2000) -> float:
    """Accuracy on the test split of a logistic regression fitted on standardised features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=max_iter, random_state=seed)
    )
    probe.fit(train_x, train_y)
    return float(probe.score(test_x, test_y))


def finite_features(features, whose: str) -> np.ndarray:
    """The features a probe fits, refused in one line (RuleFault) when any is NaN or infinite:
    scikit-learn would stop with its own traceback."""
    from plastic.errors import RuleFault

    features = np.asarray(features)
    bad = int(features.size - np.isfinite(features).sum())
    if bad:
        raise RuleFault(
            f"{whose} gave {bad:,} non-finite values (NaN or infinite) of {features.size:,}: "
            "the linear probe needs finite features"
        )
    return features


def duplicate_fields(fields: np.ndarray, threshold: float = DUPLICATE_COSINE) -> int:
    """Units whose field has a near-twin (cosine above the threshold) among the others."""
    cosines = cosine_matrix(fields, fields)
    np.fill_diagonal(cosines, -np.inf)
    return int((cosines.max(axis=1) > threshold).sum()) if len(fields) > 1 else 0


class Evaluator:
    """Metrics recorded during training (`record`) and measured once at the end (`final`)."""

    def __init__(self, dataset: Dataset, model_metric_names=(), seed: int = 0, probe=None):
        self.dataset, self.seed = dataset, seed
        self.probe = probe or ProbeConfig()
        self.model_metric_names = list(model_metric_names)

    @property
    def record_names(self) -> list[str]:
        names = list(self.model_metric_names)
        if self.dataset.bar_templates is not None:
            names = ["bar_coverage", "selective_units", "mean_best_cosine", *names]
        return names

    def record(self, model) -> dict[str, float]:
        metrics = {}
        if self.dataset.bar_templates is not None and isinstance(model, FeatureLearner):
            centred = self.probe.bar_cosine == "centred"
            fields = model.receptive_fields()
            metrics.update(bar_coverage(fields, self.dataset.bar_templates, centred))
        metrics.update(model.metrics())
        return metrics

    def final(self, model, initial_model=None) -> tuple[dict[str, float], list]:
        """The record's figures, near-duplicate fields, the rule's own analysis and, for a
        feature learner on labelled data, the probes: on the model's responses, on the raw
        pixels and on the untrained (initial) network. Returns the figures and the views."""
        metrics = self.record(model)
        metrics["duplicate_fields"] = float(duplicate_fields(model.snapshot()))
        analysis = model.analyse(self.dataset)
        metrics.update(analysis.figures)
        d = self.dataset
        if not isinstance(model, FeatureLearner):
            return metrics, analysis.views
        if d.bar_templates is not None and initial_model is not None:  # the untrained control
            centred = self.probe.bar_cosine == "centred"
            untrained = bar_coverage(initial_model.receptive_fields(), d.bar_templates, centred)
            metrics["bar_coverage_random"] = untrained["bar_coverage"]
        if d.train_labels is not None and d.test is not None:
            size = self.probe.train_size or d.n_train
            x, y = d.train[:size], d.train_labels[:size]

            def probe(encode, whose: str):
                train, test = (
                    finite_features(encode(x), whose),
                    finite_features(encode(d.test), whose),
                )
                return linear_probe(train, y, test, d.test_labels, self.seed, self.probe.max_iter)

            name = type(model).__name__
            metrics["probe_train_samples"] = float(len(x))
            metrics["probe_accuracy"] = probe(model.encode, f"{name}.encode")
            metrics["probe_raw_pixels"] = probe(lambda a: a, "the raw pixels")
            if initial_model is not None:
                untrained = f"{name}.encode of the untrained network"
                metrics["probe_random"] = probe(initial_model.encode, untrained)
        return metrics, analysis.views
