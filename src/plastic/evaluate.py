"""The checks that measure learning, chosen by what the dataset allows.

- bars: coverage of the 16 bars by selective units (the spec's measure), recorded during training;
- labelled data (digits, mnist): a linear probe on the model's responses, next to the same
  probe on the raw pixels, at the end of the run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from plastic.datasets import Dataset
from plastic.rule import FeatureLearner
from plastic.settings import setting


@dataclass
class ProbeConfig:
    """The final linear probe of a feature learner on labelled data (plastic.evaluate), fitted
    on training images and scored on the test split; the same probe on the raw pixels and on
    the untrained network. `classifier`: a logistic regression on standardised responses
    (L-BFGS), or SoftHebb's readout: a linear layer with dropout on its inputs, trained by Adam
    on the cross-entropy in minibatches, its rate halved after 20, 35, 50, 60, 70, 80 and 90 %
    of the epochs."""

    train_size: int | None = setting(
        10_000, gt=0, help="training images the probe fits on (null: all of them)"
    )
    classifier: str = setting(
        "logistic",
        choices=("logistic", "linear"),
        help="logistic regression (L-BFGS) or a linear layer with dropout trained by Adam",
    )
    max_iter: int = setting(2000, gt=0, help="L-BFGS iterations of the logistic regression")
    epochs: int = setting(50, gt=0, help="linear: passes over the training responses")
    batch_size: int = setting(64, gt=0, help="linear: samples per Adam step")
    learning_rate: float = setting(0.001, gt=0, help="linear: Adam's initial rate")
    dropout: float = setting(0.5, ge=0, lt=1, help="linear: share of the inputs dropped")
    bar_cosine: str = setting(
        "centred",
        choices=("centred", "raw"),
        help="bar coverage's cosine: of fields and bars less their means (a uniform background "
        "does not count), or as they are (ANNarchy's tutorial)",
    )


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


log = logging.getLogger(__name__)
PROGRESS_SECONDS = 10.0  # the readout's epochs are told this often
TOLD_FROM = 20_000  # a probe on this many images takes minutes on a large model: say so

HALVING_AT = (0.2, 0.35, 0.5, 0.6, 0.7, 0.8, 0.9)  # shares of the epochs (SoftHebb's schedule)


def linear_readout(train_x, train_y, test_x, test_y, probe, seed: int = 0) -> float:
    """Accuracy on the test split of SoftHebb's readout: a linear layer (PyTorch's default
    initialisation) with dropout on its inputs, trained by Adam on the cross-entropy in
    minibatches of `probe.batch_size` for `probe.epochs`, the rate halved after 20, 35, 50, 60,
    70, 80 and 90 % of them (the authors' CustomStepLR). In float32, on the host."""
    rng = np.random.default_rng(seed)
    classes, targets = np.unique(train_y, return_inverse=True)
    x = np.asarray(train_x, dtype=np.float32)
    n, d = x.shape
    bound = 1.0 / np.sqrt(d)
    weights = rng.uniform(-bound, bound, (d, len(classes))).astype(np.float32)
    bias = rng.uniform(-bound, bound, len(classes)).astype(np.float32)
    adam = _Adam((weights, bias), probe.learning_rate)
    halvings = {int(probe.epochs * share) for share in HALVING_AT}
    keep = np.float32(1.0 - probe.dropout)
    last_line = time.perf_counter()
    for epoch in range(probe.epochs):
        if time.perf_counter() - last_line >= PROGRESS_SECONDS:
            last_line = time.perf_counter()
            log.info("linear readout: epoch %d/%d", epoch + 1, probe.epochs)
        if epoch in halvings:
            adam.rate /= 2
        order = rng.permutation(n)
        for start in range(0, n, probe.batch_size):
            rows = order[start : start + probe.batch_size]
            batch = x[rows]
            if probe.dropout:
                batch = batch * ((rng.random(batch.shape, dtype=np.float32) < keep) / keep)
            logits = batch @ weights + bias
            logits -= logits.max(axis=1, keepdims=True)
            grad = np.exp(logits)
            grad /= grad.sum(axis=1, keepdims=True)
            grad[np.arange(len(rows)), targets[rows]] -= 1.0  # d(cross-entropy)/d(logits)
            grad /= len(rows)
            adam.step((batch.T @ grad, grad.sum(axis=0)))
    scores = np.asarray(test_x, dtype=np.float32) @ weights + bias
    return float((classes[scores.argmax(axis=1)] == np.asarray(test_y)).mean())


class _Adam:
    """Adam (Kingma & Ba; PyTorch's defaults) on a tuple of arrays, in place."""

    def __init__(self, params, rate: float, betas=(0.9, 0.999), eps: float = 1e-8):
        self.params, self.rate, self.betas, self.eps, self.steps = params, rate, betas, eps, 0
        self.first = [np.zeros_like(p) for p in params]
        self.second = [np.zeros_like(p) for p in params]

    def step(self, grads) -> None:
        self.steps += 1
        b1, b2 = self.betas
        size = self.rate * np.sqrt(1 - b2**self.steps) / (1 - b1**self.steps)
        for p, g, m, v in zip(self.params, grads, self.first, self.second, strict=True):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            p -= size * m / (np.sqrt(v) + self.eps * np.sqrt(1 - b2**self.steps))


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

    def __init__(
        self,
        dataset: Dataset,
        model_metric_names=(),
        seed: int = 0,
        probe=None,
        fields_span_inputs: bool = True,
    ):
        self.dataset, self.seed = dataset, seed
        self.probe = probe or ProbeConfig()
        self.model_metric_names = list(model_metric_names)
        # bar coverage compares fields with the bars: only fields over the whole input can be
        self.bars = dataset.bar_templates is not None and fields_span_inputs

    @classmethod
    def for_model(cls, dataset: Dataset, model, seed: int = 0, probe=None) -> Evaluator:
        """The evaluator of `model`'s run: its metrics, and the bars where its fields can be
        compared with them."""
        span = isinstance(model, FeatureLearner) and model.fields_span_inputs
        return cls(dataset, model.metric_names, seed, probe, span)

    @property
    def record_names(self) -> list[str]:
        names = list(self.model_metric_names)
        if self.bars:
            names = ["bar_coverage", "selective_units", "mean_best_cosine", *names]
        return names

    def record(self, model) -> dict[str, float]:
        metrics = {}
        if self.bars and isinstance(model, FeatureLearner):
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
        if self.bars and initial_model is not None:  # the untrained control
            centred = self.probe.bar_cosine == "centred"
            untrained = bar_coverage(initial_model.receptive_fields(), d.bar_templates, centred)
            metrics["bar_coverage_random"] = untrained["bar_coverage"]
        if d.train_labels is not None and d.test is not None:
            size = self.probe.train_size or d.n_train
            x, y = d.train[:size], d.train_labels[:size]

            def probe(encode, whose: str):
                started = time.perf_counter()
                say = log.info if len(x) + len(d.test) >= TOLD_FROM else log.debug
                images = f"{len(x):,} + {len(d.test):,}"
                say("final probe: %s of %s images", whose, images)
                train, test = (
                    finite_features(encode(x), whose),
                    finite_features(encode(d.test), whose),
                )
                say(
                    "final probe: %s features each, in %.0f s; fitting the %s",
                    f"{train.shape[1]:,}",
                    time.perf_counter() - started,
                    "linear readout"
                    if self.probe.classifier == "linear"
                    else "logistic regression",
                )
                if self.probe.classifier == "linear":
                    return linear_readout(train, y, test, d.test_labels, self.probe, self.seed)
                return linear_probe(train, y, test, d.test_labels, self.seed, self.probe.max_iter)

            name = type(model).__name__
            metrics["probe_train_samples"] = float(len(x))
            metrics["probe_accuracy"] = probe(model.encode, f"{name}.encode")
            metrics["probe_raw_pixels"] = probe(lambda a: a, "the raw pixels")
            if initial_model is not None:
                untrained = f"{name}.encode of the untrained network"
                metrics["probe_random"] = probe(initial_model.encode, untrained)
        return metrics, analysis.views
