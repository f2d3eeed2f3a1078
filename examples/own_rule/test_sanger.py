"""The rule's own tests: plastic's conformance kit, and what Sanger's rule is for."""

import numpy as np
from omegaconf import OmegaConf
from sanger import Sanger, SangerConfig
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA

from plastic.backend import make_backend
from plastic.registry import dataset_source
from plastic.testing import check_rule


def test_sanger_keeps_plastics_promises():
    check_rule(Sanger, config={"n_components": 4})


def test_rows_span_the_leading_principal_components():
    source = dataset_source("digits")
    digits = source.load(OmegaConf.merge(OmegaConf.structured(source.Config), {"seed": 0}))
    cpu = make_backend(OmegaConf.create({"name": "cpu", "dtype": "float64"}), 0)
    rule = Sanger(SangerConfig(n_components=8), cpu, 64, np.random.default_rng(0))
    untrained = rule.receptive_fields().copy()
    order = np.random.default_rng(0)
    for _ in range(20):  # epochs
        rule.learn(digits.train[order.permutation(len(digits.train))])
    pca = PCA(8).fit(digits.train).components_
    learned = np.degrees(subspace_angles(rule.receptive_fields().T, pca.T))
    before = np.degrees(subspace_angles(untrained.T, pca.T))
    assert learned.max() < 10.0, learned  # about 5 degrees; untrained weights: near 90
    assert before.max() > 60.0, before
    # and in order: row i is the i-th component, up to its sign
    rows = rule.receptive_fields() / np.linalg.norm(rule.receptive_fields(), axis=1)[:, None]
    assert (np.abs((rows * pca).sum(axis=1)) > np.cos(np.radians(10))).all()
