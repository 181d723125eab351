"""``sample_weight`` in fit and partial_fit: a weighted ELBO, where weight 0 is a row left
out and integer weights act like repeated rows."""

import numpy as np
import pytest
import torch

from skvae import VAEGAN, VAEClassifier, VAEGenerator, VAETransformer

FAST = dict(hidden_layer_sizes=(16,), max_iter=6, batch_size=16, random_state=0, device="cpu")
ESTIMATORS = [VAETransformer, VAEGenerator, VAEClassifier, VAEGAN]

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    latent = rng.normal(size=(150, 2))
    X = latent @ rng.normal(size=(2, 6)) + 0.1 * rng.normal(size=(150, 6))
    y = (latent[:, 0] > 0).astype(int)
    y[rng.rand(150) < 0.5] = -1
    w = rng.randint(0, 4, size=150).astype(float)
    return X, y, w


def fit(Estimator, X, y, method="fit", **kwargs):
    est = Estimator(**FAST)
    args = (X, y) if Estimator is VAEClassifier else (X,)
    return getattr(est, method)(*args, **kwargs)


def same_fit(a, b):
    return a.loss_curve_ == b.loss_curve_ and all(
        torch.equal(a.module_.state_dict()[k], v) for k, v in b.module_.state_dict().items())


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_weight_zero_is_exactly_a_row_left_out(Estimator, method, data):
    X, y, w = data
    kept = w > 0
    weighted = fit(Estimator, X, y, method, sample_weight=(w > 0).astype(float))
    dropped = fit(Estimator, X[kept], y[kept], method)
    assert same_fit(weighted, dropped)


def test_weight_zero_leaves_a_table_row_out_exactly():
    import pandas as pd

    rng = np.random.RandomState(0)
    table = pd.DataFrame({"x": rng.normal(size=60), "c": rng.choice(["a", "b"], 60)})
    table.loc[0, "c"] = "only-in-row-0"
    w = np.ones(60)
    w[0] = 0.0
    weighted = VAEGenerator(**FAST).fit(table, sample_weight=w)
    dropped = VAEGenerator(**FAST).fit(table.iloc[1:])
    assert same_fit(weighted, dropped)
    assert "only-in-row-0" not in set(weighted.sample(200, random_state=0)["c"])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_equal_weights_are_the_unweighted_fit(Estimator, data):
    X, y, _ = data
    assert same_fit(fit(Estimator, X, y, sample_weight=np.full(150, 2.5)),
                    fit(Estimator, X, y))


def _two_clusters():
    rng = np.random.RandomState(1)
    X = np.vstack([rng.normal(-3.0, 0.5, size=(60, 2)), rng.normal(3.0, 0.5, size=(60, 2))])
    w = np.r_[np.full(60, 4.0), np.ones(60)]
    return X, w


def _share_of_left_cluster(est):
    return float(np.mean(est.sample(4000, random_state=0)[:, 0] < 0))


def test_integer_weights_fit_the_distribution_repeated_rows_fit():
    # The same objective, other minibatches: the fitted models agree in distribution
    # (here, the mass of each cluster in their samples), not weight by weight.
    X, w = _two_clusters()
    params = dict(n_components=1, hidden_layer_sizes=(16,), max_iter=300, random_state=0,
                  device="cpu", early_stopping=False)
    weighted = VAETransformer(**params).fit(X, sample_weight=w)
    repeated = VAETransformer(**params).fit(np.repeat(X, w.astype(int), axis=0))
    unweighted = VAETransformer(**params).fit(X)
    # The left cluster holds 4/5 of the weight, and 1/2 of the rows.
    assert _share_of_left_cluster(weighted) == pytest.approx(0.8, abs=0.07)
    assert _share_of_left_cluster(repeated) == pytest.approx(0.8, abs=0.07)
    assert _share_of_left_cluster(unweighted) == pytest.approx(0.5, abs=0.07)


def test_early_stopping_scores_the_validation_rows_by_their_weight(data):
    X, _, _ = data
    w = np.ones(150)
    w[X[:, 0] > 0] = 5.0
    est = VAETransformer(**{**FAST, "early_stopping": True}).fit(X, sample_weight=w)
    model = VAETransformer(**{**FAST, "early_stopping": True}).fit(X)
    # Same validation rows (the split does not depend on the weights), other weights.
    assert len(est.validation_scores_) == len(model.validation_scores_)
    assert est.validation_scores_ != model.validation_scores_


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("weights, message", [
    (-np.ones(150), "(?i)negative"),
    (np.ones(149), "shape|samples"),
    (np.zeros(150), "weight.*zero|zero.*weight"),
])
def test_bad_sample_weight_is_refused_like_scikit_learn(Estimator, weights, message, data):
    X, y, _ = data
    est = Estimator(**FAST)
    with pytest.raises(ValueError, match=message):
        est.fit(*((X, y) if Estimator is VAEClassifier else (X,)), sample_weight=weights)
    assert not hasattr(est, "module_")
