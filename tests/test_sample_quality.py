"""The sample-quality measures of benchmarks/sample_quality.py order what they should.

Frechet distance and improved precision/recall judge the image families; here they are
held to independent computations and to orderings any sound measure must respect.
"""

# License: BSD 3 clause

import numpy as np
import pytest
from scipy import linalg

from benchmarks.sample_quality import (FeatureSpace, _coverage, _trace_sqrt_product,
                                       digit_images)


@pytest.fixture(scope="module")
def fitted():
    X_train, X_test, y_train, y_test = digit_images()
    space = FeatureSpace(hidden_layer_size=32, max_iter=100).fit(X_train, y_train)
    return space, X_train, X_test, y_train


def test_trace_sqrt_product_agrees_with_a_matrix_square_root():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 6, 6))
    a, b = a @ a.T, b @ b.T
    expected = np.trace(np.real(linalg.sqrtm(a @ b)))
    assert _trace_sqrt_product(a, b) == pytest.approx(expected, rel=1e-8)


def test_frechet_distance_is_zero_on_identical_sets_and_grows_with_damage(fitted):
    space, X_train, X_test, _ = fitted
    rng = np.random.default_rng(0)
    real = X_train[:400]
    assert abs(space.frechet_distance(X_test, X_test)) < 1e-6
    clean = space.frechet_distance(X_test, real)
    noisy = space.frechet_distance(
        X_test, np.clip(real + rng.normal(0.0, 0.3, real.shape), 0.0, 1.0))
    assert 0.0 < clean < noisy


def test_precision_and_recall_see_realism_and_variety_separately(fitted):
    space, X_train, X_test, y_train = fitted
    one_class = X_train[y_train == 3]
    precision, recall = space.precision_recall(X_test, one_class)
    all_precision, all_recall = space.precision_recall(X_test, X_train[:len(X_test)])
    # one digit class: realistic samples (high precision) without variety (low recall)
    assert precision > 0.8 and recall < 0.3 < all_recall
    assert 0.0 <= all_precision <= 1.0


def test_coverage_against_brute_force():
    rng = np.random.default_rng(1)
    manifold, queries = rng.normal(size=(30, 3)), rng.normal(size=(20, 3))
    k = 2
    distances = np.linalg.norm(manifold[:, None] - manifold[None], axis=-1)
    radii = np.sort(distances, axis=1)[:, k]  # k-th neighbour, itself excluded
    inside = np.linalg.norm(queries[:, None] - manifold[None], axis=-1) <= radii
    assert _coverage(manifold, queries, k) == pytest.approx(inside.any(axis=1).mean())
