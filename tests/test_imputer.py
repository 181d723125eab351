"""VAEImputer: fills only the missing entries, estimates E[x_miss | x_obs] as a brute-force
integral does, multiple imputation, markers, indicators, empty features, pipelines, saving."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.impute import MissingIndicator
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline

from skvae import VAEImputer, load, save

FAST = dict(hidden_layer_sizes=(16,), max_iter=5, n_samples=64, random_state=0,
            device="cpu")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _correlated(n=120, seed=0):
    rng = np.random.RandomState(seed)
    z = rng.normal(size=(n, 1))
    return np.hstack([z, 2 * z + 0.3 * rng.normal(size=(n, 1)), rng.normal(size=(n, 2))])


@pytest.fixture(scope="module")
def incomplete():
    X = _correlated()
    missing = np.random.RandomState(1).uniform(size=X.shape) < 0.3
    return X, np.where(missing, np.nan, X)


@pytest.fixture(scope="module")
def fitted(incomplete):
    return VAEImputer(**FAST).fit(incomplete[1])


def test_transform_fills_only_missing_entries(incomplete, fitted):
    X_missing = incomplete[1]
    out = fitted.transform(X_missing)
    observed = ~np.isnan(X_missing)
    assert out.shape == X_missing.shape
    assert np.isfinite(out).all()
    assert np.array_equal(out[observed], X_missing[observed])
    assert not np.shares_memory(out, X_missing)


def test_complete_rows_come_back_unchanged(incomplete, fitted):
    X = incomplete[0]
    assert np.array_equal(fitted.transform(X), X)


def test_conditional_mean_agrees_with_a_brute_force_integral():
    """The importance-sampling estimate of E[x_miss | x_obs] against the same integral
    computed on a fine grid over the 2-D latent space: p(z) p(x_obs | z) weights."""
    X = _correlated(200)
    X_missing = X.copy()
    X_missing[::2, 1] = np.nan
    X_missing[1::4, 2] = np.nan
    imputer = VAEImputer(n_components=2, hidden_layer_sizes=(16,), max_iter=30,
                         n_samples=4096, random_state=0, device="cpu").fit(X_missing)
    rows = X_missing[:12]
    estimate = imputer.transform(rows)

    module = imputer._module64
    grid = torch.linspace(-5, 5, 251, dtype=torch.float64)
    z = torch.cartesian_prod(grid, grid)  # (g, 2), spacing 0.04
    x = imputer._standardizer.to_tensor(rows, torch.float64, "cpu")
    with torch.no_grad():
        decoded = module.decode(z[:, None, :].expand(-1, len(rows), -1))  # batch (g, n)
        log_w = decoded.log_prob(x) + module.prior_distribution().log_prob(z)[:, None]
        weights = torch.softmax(log_w, dim=0)
        exact = torch.einsum("gn,gnd->nd", weights, decoded.mean).numpy()
    exact = imputer._standardizer.inverse(exact)
    missing = np.isnan(rows)
    assert missing.sum() >= 8
    scale = X.std(axis=0)[np.nonzero(missing)[1]]
    assert np.max(np.abs(estimate[missing] - exact[missing]) / scale) < 0.02


def test_imputation_uses_the_observed_entries(incomplete):
    """Column 1 is twice column 0 plus noise: a fitted model fills it from column 0
    far better than the column mean does."""
    X, _ = incomplete
    X_missing = X.copy()
    hidden = np.random.RandomState(2).uniform(size=X.shape[0]) < 0.5
    X_missing[hidden, 1] = np.nan
    imputer = VAEImputer(n_components=2, hidden_layer_sizes=(32,), max_iter=300,
                         early_stopping=False, n_samples=256, random_state=0,
                         device="cpu").fit(X_missing)
    error = np.abs(imputer.transform(X_missing)[hidden, 1] - X[hidden, 1]).mean()
    mean_error = np.abs(np.nanmean(X_missing[:, 1]) - X[hidden, 1]).mean()
    assert error < 0.5 * mean_error


def test_transform_does_not_depend_on_the_rows_it_comes_with(incomplete, fitted):
    X_missing = incomplete[1]
    full = fitted.transform(X_missing)
    order = np.random.RandomState(0).permutation(X_missing.shape[0])[:37]
    np.testing.assert_allclose(fitted.transform(X_missing[order]), full[order],
                               rtol=1e-9, atol=1e-12)


def test_sample_posterior_gives_new_draws_reproducibly(incomplete):
    X_missing = incomplete[1]
    missing = np.isnan(X_missing)
    first = VAEImputer(**FAST, sample_posterior=True).fit(X_missing)
    second = VAEImputer(**FAST, sample_posterior=True).fit(X_missing)
    a, b = first.transform(X_missing), first.transform(X_missing)
    assert not np.allclose(a[missing], b[missing])
    assert np.array_equal(a[~missing], b[~missing])
    assert np.array_equal(second.transform(X_missing), a)  # same seed, same sequence
    assert np.array_equal(second.transform(X_missing), b)


def test_multiple_imputations_scatter_around_the_conditional_mean(incomplete):
    X_missing = incomplete[1][:30]
    missing = np.isnan(X_missing)
    params = {**FAST, "max_iter": 30, "n_samples": 256}
    mean = VAEImputer(**params).fit(incomplete[1]).transform(X_missing)
    drawing = VAEImputer(**params, sample_posterior=True).fit(incomplete[1])
    draws = np.stack([drawing.transform(X_missing) for _ in range(200)])
    spread = draws.std(axis=0)[missing]
    assert np.all(spread > 0)
    # The mean of 200 draws is within a few standard errors of the conditional mean.
    gap = np.abs(draws.mean(axis=0)[missing] - mean[missing]) / (spread / np.sqrt(200))
    assert np.median(gap) < 2.0


def test_a_number_as_missing_marker_gives_the_same_imputation(incomplete):
    X_missing = incomplete[1]
    X_marked = np.where(np.isnan(X_missing), -99.0, X_missing)
    by_nan = VAEImputer(**FAST).fit(X_missing).transform(X_missing)
    by_marker = VAEImputer(**FAST, missing_values=-99.0).fit(X_marked).transform(X_marked)
    assert np.array_equal(by_nan, by_marker)
    observed = ~np.isnan(X_missing)
    assert np.array_equal(by_marker[observed], X_marked[observed])
    assert not np.any(by_marker == -99.0)


def test_nan_is_refused_when_the_marker_is_a_number(incomplete):
    with pytest.raises(ValueError, match="NaN"):
        VAEImputer(**FAST, missing_values=-1.0).fit(incomplete[1])


def test_infinity_is_refused(incomplete):
    X = incomplete[1].copy()
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        VAEImputer(**FAST).fit(X)


def test_a_table_with_no_observed_value_is_refused():
    with pytest.raises(ValueError, match="every entry is missing"):
        VAEImputer(**FAST).fit(np.full((5, 2), np.nan))


def test_a_failed_fit_leaves_the_fitted_model_unchanged(incomplete, fitted):
    imputer = pickle.loads(pickle.dumps(fitted))
    before = imputer.transform(incomplete[1])
    with pytest.raises(ValueError):
        imputer.fit(np.full((5, 4), np.nan))
    assert np.array_equal(imputer.transform(incomplete[1]), before)


@pytest.mark.parametrize("keep", [False, True])
def test_empty_features_are_dropped_or_filled_with_zero(incomplete, keep):
    X_missing = incomplete[1].copy()
    X_missing[:, 2] = np.nan
    imputer = VAEImputer(**FAST, keep_empty_features=keep).fit(X_missing)
    out = imputer.transform(X_missing)
    names = imputer.get_feature_names_out()
    assert out.shape[1] == len(names) == (4 if keep else 3)
    assert ("x2" in names) == keep
    if keep:
        assert np.array_equal(out[:, 2], np.zeros(X_missing.shape[0]))
    kept = [0, 1, 3]
    observed = ~np.isnan(X_missing[:, kept])
    assert np.array_equal(out[:, kept if keep else slice(None)][observed],
                          X_missing[:, kept][observed])


def test_indicator_columns_are_those_of_missing_indicator(incomplete):
    X_missing = incomplete[1].copy()
    X_missing[:, 3] = np.nan_to_num(X_missing[:, 3])  # a feature with nothing missing
    imputer = VAEImputer(**FAST, add_indicator=True).fit(X_missing)
    out = imputer.transform(X_missing)
    expected = MissingIndicator().fit_transform(X_missing)
    assert np.array_equal(out[:, 4:], expected)
    assert list(imputer.get_feature_names_out()) == [
        "x0", "x1", "x2", "x3", "missingindicator_x0", "missingindicator_x1",
        "missingindicator_x2"]


def test_set_output_pandas_keeps_the_names(incomplete):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(incomplete[1], columns=["a", "b", "c", "d"])
    out = VAEImputer(**FAST, add_indicator=True).set_output(transform="pandas") \
        .fit(frame).transform(frame)
    assert list(out.columns[:4]) == ["a", "b", "c", "d"]
    assert list(out.columns[4:]) == [f"missingindicator_{c}" for c in "abcd"]


def test_score_is_the_elbo_of_the_observed_entries(incomplete, fitted):
    X, X_missing = incomplete
    scores = fitted.score_samples(X_missing)
    assert np.isfinite(scores).all()
    # Fewer observed entries, fewer (negative) log-density terms: a row with a
    # missing entry scores above the same row complete, on these continuous data.
    rows = np.isnan(X_missing).any(axis=1)
    assert np.mean(scores[rows] > fitted.score_samples(X)[rows]) > 0.9


def test_miwae_bound_trains(incomplete):
    imputer = VAEImputer(**FAST, n_importance=5).fit(incomplete[1])
    assert np.all(np.isfinite(imputer.loss_curve_))
    assert np.isfinite(imputer.transform(incomplete[1])).all()


def test_float32_stays_float32(incomplete, fitted):
    assert fitted.transform(incomplete[1].astype(np.float32)).dtype == np.float32


def test_in_a_pipeline_and_a_grid_search(incomplete):
    X, X_missing = incomplete
    y = X[:, 1]
    pipe = make_pipeline(VAEImputer(**FAST), Ridge())
    assert np.isfinite(cross_val_score(pipe, X_missing[:, [0, 2, 3]], y, cv=2)).all()
    search = GridSearchCV(VAEImputer(**FAST), {"n_components": [1, 2]}, cv=2)
    search.fit(X_missing)
    assert search.best_params_["n_components"] in (1, 2)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_save_load_and_pickle_round_trip(incomplete, tmp_path):
    X_missing = incomplete[1]
    imputer = VAEImputer(**FAST, add_indicator=True, sample_posterior=True).fit(X_missing)
    path = tmp_path / "imputer.skvae"
    save(imputer, path)
    for copy in (load(path), pickle.loads(pickle.dumps(imputer))):
        assert type(copy) is VAEImputer
        # The draws' stream travels too: the next imputation is the same.
        assert np.array_equal(copy.transform(X_missing),
                              pickle.loads(pickle.dumps(imputer)).transform(X_missing))
    imputer.set_params(sample_posterior=False)
    assert np.array_equal(load(path).set_params(sample_posterior=False).transform(X_missing),
                          imputer.transform(X_missing))


def test_early_stopping_scores_held_out_entries(incomplete):
    imputer = VAEImputer(**{**FAST, "max_iter": 4}, early_stopping=True).fit(incomplete[1])
    assert len(imputer.validation_scores_) == imputer.n_iter_ == 4
    assert np.isfinite(imputer.validation_scores_).all()
    assert imputer.best_validation_score_ == max(imputer.validation_scores_)


def test_auto_early_stopping_needs_ten_held_out_entries():
    X = np.random.RandomState(0).normal(size=(6, 3))  # 18 entries: 1.8 held out
    imputer = VAEImputer(**FAST).fit(X)
    assert imputer.validation_scores_ is None


def test_a_validation_share_that_hides_nothing_is_refused():
    X = np.random.RandomState(0).normal(size=(6, 2))
    with pytest.raises(ValueError, match="hid none"):
        VAEImputer(**FAST, early_stopping=True, validation_fraction=1e-9).fit(X)
