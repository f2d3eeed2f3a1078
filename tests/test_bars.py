"""The bars generator and the bar-coverage measure."""

import numpy as np

from plastic.datasets.bars import bar_templates, make_bars
from plastic.evaluate import bar_coverage


def test_each_bar_is_on_independently_with_probability_one_eighth():
    images, active = make_bars(40_000, 8, 0.125, np.random.default_rng(0))
    assert images.shape == (40_000, 64) and set(np.unique(images)) <= {0.0, 1.0}
    rate = active.mean(axis=0)  # 16 bars, each Bernoulli(1/8): sd of the mean ~ 0.0017
    assert np.all(np.abs(rate - 0.125) < 0.01)
    correlation = np.corrcoef(active.T.astype(float))[np.triu_indices(16, 1)]
    assert np.abs(correlation).max() < 0.03  # independent
    # a pixel is on exactly when its row or its column is on
    rows, cols = active[:, :8], active[:, 8:]
    expected = (rows[:, :, None] | cols[:, None, :]).reshape(-1, 64)
    np.testing.assert_array_equal(images, expected)


def test_same_seed_same_images():
    a, _ = make_bars(100, 8, 0.125, np.random.default_rng(5))
    b, _ = make_bars(100, 8, 0.125, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)


def test_templates_are_the_rows_then_the_columns():
    t = bar_templates(8).reshape(16, 8, 8)
    assert t[2, 2].all() and t[2].sum() == 8
    assert t[8 + 5][:, 5].all() and t[8 + 5].sum() == 8


def test_coverage_counts_distinct_bars_with_a_selective_unit():
    templates = bar_templates(8)
    perfect = bar_coverage(templates, templates)
    assert perfect["bar_coverage"] == 16 and perfect["selective_units"] == 16
    assert abs(perfect["mean_best_cosine"] - 1.0) < 1e-12
    # twice the same bar: 2 selective units, 1 bar covered; a blurred field is not selective
    fields = np.stack([templates[0], templates[0] * 2, np.ones(64)])
    got = bar_coverage(fields, templates)
    assert got["bar_coverage"] == 1 and got["selective_units"] == 2


def test_a_uniform_background_does_not_hide_a_selective_field():
    """A field that learned its bar and kept a background (as Foldiak's anti-Hebbian units
    do, about 0.23 off the bar) is selective under the centred cosine, not under the raw one."""
    templates = bar_templates(8)
    background = 0.35 + 0.65 * templates  # every bar, each on a uniform background
    assert bar_coverage(background, templates, centred=True)["bar_coverage"] == 16
    assert bar_coverage(background, templates, centred=False)["bar_coverage"] == 0
