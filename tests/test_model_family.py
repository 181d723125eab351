"""The worked example of the developer page "Adding a model family" works end to end.

The family (an importance-weighted autoencoder) lives in the page's script,
docs/user_guide/code/model_family.py; here it is imported and held to what every skvae
estimator promises: scikit-learn's checks, exact save/load, and its own maths.
"""

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.utils.estimator_checks import check_estimator

from skvae import load, save

SCRIPT = Path(__file__).resolve().parent.parent / "docs/user_guide/code/model_family.py"

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def family():
    spec = importlib.util.spec_from_file_location("model_family", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["model_family"] = module  # its classes pickle by module name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    return rng.normal(size=(120, 2)) @ rng.normal(size=(2, 5)) + 0.1 * rng.normal(size=(120, 5))


FAST = dict(n_components=2, hidden_layer_sizes=(8,), max_iter=5, device="cpu", random_state=0)


def test_family_passes_the_estimator_checks(family):
    check_estimator(family.IWAETransformer(**{**FAST, "random_state": None}),
                    expected_failed_checks=family.EXPECTED_FAILED_CHECKS)


def test_family_fits_transforms_scores_and_round_trips(family, data, tmp_path):
    est = family.IWAETransformer(n_importance=3, **FAST).fit(data)
    assert est.transform(data).shape == (120, 2)
    assert np.isfinite(est.score(data))
    save(est, tmp_path / "iwae.skvae")
    loaded = load(tmp_path / "iwae.skvae")
    assert type(loaded) is family.IWAETransformer and loaded.n_importance == 3
    assert np.array_equal(loaded.transform(data), est.transform(data))


def test_objective_is_the_importance_weighted_bound(family, data):
    est = family.IWAETransformer(n_importance=4, **FAST).fit(data)
    objective = est._objective(est.module_, data, None)
    x = est._standardizer.to_tensor(data, torch.float32, "cpu")
    generator_state = objective.generator.get_state()
    loss = objective.loss((x, None))
    objective.generator.set_state(generator_state)
    noise = torch.randn(4, 120, 2, generator=objective.generator)
    log_weights = est.module_.log_weights(x, noise)
    expected = -(torch.logsumexp(log_weights, 0) - math.log(4)).mean()
    torch.testing.assert_close(loss, expected)
