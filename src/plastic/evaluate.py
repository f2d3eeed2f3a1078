"""The checks that measure learning, chosen by what the dataset allows.

- bars: coverage of the 16 bars by selective units (the spec's measure), recorded during training;
- labelled data (digits, mnist): a linear probe on the model's responses, next to the same
  probe on the raw pixels, at the end of the run.
"""

from __future__ import annotations

import numpy as np

from plastic.datasets import Dataset

SELECTIVE_COSINE = 0.8  # a unit is selective for a bar when its best cosine reaches this
PROBE_MAX_TRAIN = 10_000  # the probe is a yardstick, not the experiment: keep it to seconds


def cosine_matrix(fields: np.ndarray, templates: np.ndarray) -> np.ndarray:
    """Cosine similarity of every field (rows) with every template (columns)."""
    f = fields / np.maximum(np.linalg.norm(fields, axis=1, keepdims=True), 1e-12)
    t = templates / np.maximum(np.linalg.norm(templates, axis=1, keepdims=True), 1e-12)
    return f @ t.T


def bar_coverage(fields: np.ndarray, templates: np.ndarray) -> dict[str, float]:
    """Distinct bars that have a selective unit, the number of selective units, mean best cosine."""
    cosines = cosine_matrix(fields, templates)
    best = cosines.max(axis=1)
    selective = best >= SELECTIVE_COSINE
    covered = np.unique(cosines.argmax(axis=1)[selective])
    return {
        "bar_coverage": float(len(covered)),
        "selective_units": float(selective.sum()),
        "mean_best_cosine": float(best.mean()),
    }


def linear_probe(train_x, train_y, test_x, test_y, seed: int = 0) -> float:
    """Accuracy on the test split of a logistic regression fitted on standardised features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    probe.fit(train_x, train_y)
    return float(probe.score(test_x, test_y))


class Evaluator:
    """Metrics recorded during training (`record`) and measured once at the end (`final`)."""

    def __init__(self, dataset: Dataset, seed: int = 0):
        self.dataset, self.seed = dataset, seed

    @property
    def record_names(self) -> list[str]:
        if self.dataset.bar_templates is not None:
            return ["bar_coverage", "selective_units", "mean_best_cosine"]
        return []

    def record(self, model) -> dict[str, float]:
        if self.dataset.bar_templates is not None:
            return bar_coverage(model.receptive_fields(), self.dataset.bar_templates)
        return {}

    def final(self, model) -> dict[str, float]:
        metrics = self.record(model)
        d = self.dataset
        if d.train_labels is not None and d.test is not None:
            x, y = d.train[:PROBE_MAX_TRAIN], d.train_labels[:PROBE_MAX_TRAIN]
            metrics["probe_accuracy"] = linear_probe(
                model.encode(x), y, model.encode(d.test), d.test_labels, self.seed
            )
            metrics["probe_raw_pixels"] = linear_probe(x, y, d.test, d.test_labels, self.seed)
        return metrics
