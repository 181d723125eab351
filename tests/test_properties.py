"""Properties of the fitted estimators, in the style of scikit-learn's test_pca.py."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.decomposition import PCA, FactorAnalysis
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from skvae import VAEGenerator, VAETransformer
from skvae.datasets import make_manifold

FAST = dict(hidden_layer_sizes=(16,), max_iter=5, random_state=0, device="cpu")
ESTIMATORS = [VAETransformer, VAEGenerator]

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def data():
    X, _ = make_manifold(200, n_features=6, random_state=0)
    return X


@pytest.fixture(scope="module")
def fitted(data):
    return VAETransformer(n_components=2, **FAST).fit(data)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_transform_is_deterministic(Estimator, data):
    est = Estimator(**FAST).fit(data)
    assert np.array_equal(est.transform(data), est.transform(data))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_same_int_seed_gives_bitwise_identical_fit(Estimator, data):
    a = Estimator(**FAST).fit(data)
    b = Estimator(**FAST).fit(data)
    assert a.loss_curve_ == b.loss_curve_
    for key, value in a.module_.state_dict().items():
        assert torch.equal(value, b.module_.state_dict()[key]), key
    assert np.array_equal(a.transform(data), b.transform(data))


def test_different_seeds_give_different_fits(data):
    a = VAETransformer(**{**FAST, "random_state": 0}).fit(data).transform(data)
    b = VAETransformer(**{**FAST, "random_state": 1}).fit(data).transform(data)
    assert not np.allclose(a, b)


def test_random_state_instance_is_used_not_global(data):
    a = VAETransformer(**{**FAST, "random_state": np.random.RandomState(3)}).fit(data)
    b = VAETransformer(**{**FAST, "random_state": np.random.RandomState(3)}).fit(data)
    assert np.array_equal(a.transform(data), b.transform(data))


def test_global_rngs_untouched_by_every_method(data):
    torch_state = torch.get_rng_state().clone()
    numpy_state = np.random.get_state()
    est = VAETransformer(**FAST).fit(data)
    est.transform(data)
    est.inverse_transform(est.transform(data))
    est.score_samples(data)
    est.sample(5, random_state=0)
    assert torch.equal(torch_state, torch.get_rng_state())
    after = np.random.get_state()
    assert np.array_equal(numpy_state[1], after[1]) and numpy_state[2:] == after[2:]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(fitted, data, dtype):
    X = data.astype(dtype)
    Z = fitted.transform(X)
    assert Z.dtype == dtype
    assert fitted.inverse_transform(Z).dtype == dtype
    assert fitted.score_samples(X).dtype == np.float64


def test_float32_and_float64_transforms_agree(fitted, data):
    Z64 = fitted.transform(data)
    Z32 = fitted.transform(data.astype(np.float32))
    np.testing.assert_allclose(Z32, Z64, rtol=1e-4, atol=1e-4)


def test_transform_fast_path_equals_the_posterior_mean(fitted, data):
    # transform calls the encoder's layers through their functions; it must agree with
    # the distribution that score_samples builds through the modules.
    x = torch.as_tensor((data - fitted._standardizer.loc) / fitted._standardizer.scale)
    with torch.no_grad():
        expected = fitted._module64.encode(x).mean.numpy()
    np.testing.assert_allclose(fitted.transform(data), expected, rtol=1e-12, atol=1e-14)


def test_transform_respects_forward_hooks(data):
    est = VAETransformer(n_components=2, **FAST).fit(data)
    plain = est.transform(data)
    seen = []
    layer = est._module64.encoder[0]
    handle = layer.register_forward_hook(lambda module, args, out: seen.append(out.shape))
    np.testing.assert_array_equal(est.transform(data), plain)
    assert seen == [(len(data), 16)]
    handle.remove()
    doubled = est._module64.encoder.register_forward_hook(lambda module, args, out: 2 * out)
    assert not np.allclose(est.transform(data), plain)
    doubled.remove()


def test_integer_input_is_converted_to_float64(fitted, data):
    assert fitted.transform(np.round(data * 10).astype(int)).dtype == np.float64


def test_score_is_mean_of_score_samples(fitted, data):
    assert fitted.score(data) == pytest.approx(fitted.score_samples(data).mean(), rel=1e-12)


def test_score_samples_invariant_to_order_and_batch(fitted, data):
    scores = fitted.score_samples(data)
    order = np.random.RandomState(0).permutation(len(data))
    np.testing.assert_allclose(fitted.score_samples(data[order]), scores[order], rtol=1e-12)
    np.testing.assert_allclose(fitted.score_samples(data[7:8]), scores[7:8], rtol=1e-12)
    np.testing.assert_allclose(
        np.concatenate([fitted.score_samples(data[:50]), fitted.score_samples(data[50:])]),
        scores, rtol=1e-12,
    )


def test_transform_invariant_to_batch(fitted, data):
    Z = fitted.transform(data)
    np.testing.assert_allclose(fitted.transform(data[3:4]), Z[3:4], rtol=1e-12, atol=1e-12)


def test_training_data_scores_above_shuffled_feature_noise():
    X, _ = make_manifold(400, n_features=6, random_state=0)
    est = VAETransformer(n_components=2, hidden_layer_sizes=(32,), max_iter=60,
                         random_state=0, device="cpu").fit(X)
    rng = np.random.RandomState(0)
    # Shuffling each column on its own keeps the marginals and breaks the structure.
    noise = np.column_stack([rng.permutation(col) for col in X.T])
    assert est.score(X) > est.score(noise) + 1.0


def test_score_is_in_the_units_of_x():
    # Scaling X by c scales the density by c^-n_features: the internal standardisation's
    # log-Jacobian must be added back, as PCA's log-likelihood does.
    X, _ = make_manifold(200, n_features=6, random_state=0)
    c = 1000.0
    a = VAETransformer(**FAST).fit(X)
    b = VAETransformer(**FAST).fit(X * c)
    np.testing.assert_allclose(b.score(X * c), a.score(X) - X.shape[1] * np.log(c), rtol=1e-4)
    pca_shift = PCA(2).fit(X).score(X) - PCA(2).fit(X * c).score(X * c)
    assert pca_shift == pytest.approx(X.shape[1] * np.log(c))


def test_linear_vae_elbo_is_close_below_factor_analysis():
    # A linear Gaussian VAE with per-feature noise is variational factor analysis: its
    # ELBO is a lower bound of FA's maximum log-likelihood and should come close to it.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(500, 2)) @ rng.normal(size=(2, 6))
    X += rng.normal(size=X.shape) * rng.uniform(0.2, 1.0, size=6)
    fa = FactorAnalysis(2).fit(X).score(X)
    vae = VAETransformer(n_components=2, hidden_layer_sizes=(), learning_rate_init=1e-2,
                         max_iter=300, random_state=0, device="cpu").fit(X)
    elbo = vae.score(X)
    assert elbo < fa + 0.02
    assert elbo > fa - 0.3


def test_vae_beats_pca_on_a_nonlinear_manifold():
    X, _ = make_manifold(600, n_features=10, random_state=0)
    X_train, X_test = X[:400], X[400:]
    vae = VAETransformer(n_components=2, hidden_layer_sizes=(64, 64), max_iter=150,
                         learning_rate_init=3e-3, random_state=0, device="cpu").fit(X_train)
    pca = PCA(n_components=2).fit(X_train)
    assert vae.score(X_test) > pca.score(X_test) + 3.0


def test_grid_search_on_held_out_elbo_finds_true_latent_size():
    # Two latent factors through a nonlinearity. Too few latents cost several nats;
    # more than enough cost little (unused dimensions collapse onto the prior), so the
    # held-out ELBO rises to a plateau that starts at the true size. Over four data seeds
    # the argmax was the true size three times, a near-tie with 3 the fourth time.
    rng = np.random.RandomState(0)
    Z = rng.normal(size=(450, 2))
    X = np.tanh(Z @ rng.normal(size=(2, 8))) + 0.1 * rng.normal(size=(450, 8))
    search = GridSearchCV(
        VAETransformer(hidden_layer_sizes=(32,), max_iter=60, learning_rate_init=3e-3,
                       random_state=0, device="cpu"),
        {"n_components": [1, 2, 3]}, cv=3, refit=False,
    ).fit(X)
    scores = search.cv_results_["mean_test_score"]
    assert search.best_params_ == {"n_components": 2}
    assert scores[0] < scores[1] - 1.0
    assert abs(scores[2] - scores[1]) < 0.5


def test_sample_is_reproducible_and_fresh_without_seed(fitted):
    assert np.array_equal(fitted.sample(5, random_state=0), fitted.sample(5, random_state=0))
    assert not np.array_equal(fitted.sample(5), fitted.sample(5))
    assert fitted.sample(7).shape == (7, fitted.n_features_in_)


def test_samples_match_training_moments():
    X, _ = make_manifold(1000, n_features=4, random_state=0)
    est = VAETransformer(n_components=2, hidden_layer_sizes=(32,), max_iter=60,
                         learning_rate_init=3e-3, random_state=0, device="cpu").fit(X)
    S = est.sample(4000, random_state=0)
    np.testing.assert_allclose(S.mean(axis=0), X.mean(axis=0), atol=0.15)
    np.testing.assert_allclose(S.std(axis=0), X.std(axis=0), rtol=0.2)


def test_inverse_transform_reconstructs_better_than_the_mean():
    X, _ = make_manifold(400, n_features=6, random_state=0)
    est = VAETransformer(n_components=2, hidden_layer_sizes=(32,), max_iter=60,
                         learning_rate_init=3e-3, random_state=0, device="cpu").fit(X)
    error = np.mean((est.inverse_transform(est.transform(X)) - X) ** 2)
    assert error < 0.5 * np.mean((X - X.mean(axis=0)) ** 2)


def test_feature_names_out(fitted):
    assert list(fitted.get_feature_names_out()) == ["vaetransformer0", "vaetransformer1"]
    gen = VAEGenerator(n_components=3, **FAST).fit(np.random.RandomState(0).normal(size=(50, 4)))
    assert list(gen.get_feature_names_out()) == [f"vaegenerator{i}" for i in range(3)]


def test_generator_auto_likelihood_follows_the_data():
    rng = np.random.RandomState(0)
    binary = (rng.rand(60, 5) > 0.5).astype(float)
    assert VAEGenerator(**FAST).fit(binary).likelihood_.name == "bernoulli"
    assert VAEGenerator(**FAST).fit(rng.normal(size=(60, 5))).likelihood_.name == "gaussian"


def test_beta_weighs_the_kl_term(data):
    # A larger beta pulls the posteriors towards the prior: the KL part of the ELBO shrinks.
    def mean_kl(beta):
        est = VAETransformer(n_components=2, hidden_layer_sizes=(16,), max_iter=40,
                             beta=beta, random_state=0, device="cpu").fit(data)
        x = torch.as_tensor((data - est._standardizer.loc) / est._standardizer.scale, dtype=torch.float32)
        with torch.no_grad():
            q = est.module_.encode(x)
            return float(est.module_.prior.kl(q, q.mean).mean())

    assert mean_kl(4.0) < mean_kl(1.0) < mean_kl(0.25)


def test_convergence_warning_when_max_iter_is_reached(data):
    with pytest.warns(ConvergenceWarning, match="maximum iterations"):
        VAETransformer(**{**FAST, "max_iter": 2}).fit(data)


def test_tol_stops_training_and_sets_converged(data):
    est = VAETransformer(**{**FAST, "max_iter": 500, "tol": 1e3, "n_iter_no_change": 2,
                            "early_stopping": False, "learning_rate": "constant"}).fit(data)
    # As in MLPRegressor: the first epoch sets the bar, then n_iter_no_change + 1 misses.
    assert est.converged_ and est.n_iter_ == 2 + 2


def test_diagnostics_have_consistent_lengths(data):
    est = VAETransformer(**{**FAST, "max_iter": 7, "early_stopping": False}).fit(data)
    assert est.n_iter_ == len(est.loss_curve_) == 7
    assert est.best_loss_ == min(est.loss_curve_)
    assert est.validation_scores_ is None
    es = VAETransformer(**{**FAST, "max_iter": 7, "early_stopping": True}).fit(data)
    assert len(es.validation_scores_) == es.n_iter_ and es.best_loss_ is None
    assert es.best_validation_score_ == max(es.validation_scores_)


def test_loss_curve_is_negative_elbo_in_user_units(data):
    est = VAETransformer(**{**FAST, "max_iter": 40}).fit(data)
    # The last epoch's mean loss (beta=1) estimates -ELBO of the training data.
    assert est.loss_curve_[-1] == pytest.approx(-est.score(data), abs=0.5)
    assert est.loss_curve_[-1] < est.loss_curve_[0]


def test_early_stopping_restores_the_best_epoch():
    X, _ = make_manifold(300, n_features=6, random_state=0)
    params = dict(n_components=2, hidden_layer_sizes=(32,), learning_rate_init=0.05,
                  early_stopping=True, n_iter_no_change=3, tol=0.0, random_state=0,
                  device="cpu")
    est = VAETransformer(max_iter=200, **params).fit(X)
    best_epoch = int(np.argmax(est.validation_scores_)) + 1
    assert best_epoch < est.n_iter_, "training should have gone past its best epoch"
    # Same seed, same split, same minibatches: a run that ends at the best epoch has
    # exactly the weights early stopping should have restored.
    reference = VAETransformer(max_iter=best_epoch, **params).fit(X)
    assert np.array_equal(est.transform(X), reference.transform(X))


def test_partial_fit_runs_one_epoch_per_call(data):
    est = VAETransformer(**FAST)
    for i in range(3):
        est.partial_fit(data)
        assert est.n_iter_ == i + 1 == len(est.loss_curve_)
    assert est.loss_curve_[-1] < est.loss_curve_[0]


def test_partial_fit_refuses_early_stopping(data):
    with pytest.raises(ValueError, match="early_stopping"):
        VAETransformer(**{**FAST, "early_stopping": True}).partial_fit(data)


def test_partial_fit_checks_feature_count(data):
    est = VAETransformer(**FAST).partial_fit(data)
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(data[:, :3])


def test_warm_start_continues_from_previous_weights(data):
    est = VAETransformer(**{**FAST, "warm_start": True, "max_iter": 10}).fit(data)
    before = est.loss_curve_[-1]
    est.fit(data)
    assert est.n_iter_ == 20 and len(est.loss_curve_) == 20
    cold = VAETransformer(**{**FAST, "max_iter": 10}).fit(data)
    # The warm fit's first new epoch starts near where the first fit ended, far below
    # a cold start's first epoch.
    assert abs(est.loss_curve_[10] - before) < abs(cold.loss_curve_[0] - before)


def test_warm_start_refuses_a_different_latent_size(data):
    est = VAETransformer(**{**FAST, "warm_start": True}).fit(data)
    est.set_params(n_components=3)
    with pytest.raises(ValueError, match="n_components"):
        est.fit(data)
    assert est.module_.n_components == 2


def test_verbose_shows_progress_and_logs(data, capsys, caplog):
    with caplog.at_level("INFO", logger="skvae"):
        VAETransformer(**{**FAST, "max_iter": 3, "verbose": 1}).fit(data)
    assert "epoch 3, loss =" in caplog.text
    assert "VAETransformer" in capsys.readouterr().err
    caplog.clear()
    VAETransformer(**{**FAST, "max_iter": 3}).fit(data)
    assert caplog.text == "" and capsys.readouterr().err == ""


def test_clone_gives_unfitted_copy_with_same_params(fitted):
    twin = clone(fitted)
    assert twin.get_params() == fitted.get_params()
    assert not hasattr(twin, "module_")


def test_linear_vae_hidden_layer_sizes_empty(data):
    est = VAETransformer(**{**FAST, "hidden_layer_sizes": ()}).fit(data)
    assert [type(m).__name__ for m in est.module_.encoder] == []
    assert est.transform(data).shape == (len(data), 2)


def test_bernoulli_vae_on_binary_data_beats_independent_bits():
    rng = np.random.RandomState(0)
    prototypes = rng.rand(3, 12) > 0.5
    rows = prototypes[rng.randint(3, size=600)]
    X = np.where(rng.rand(*rows.shape) < 0.05, ~rows, rows).astype(float)
    est = VAETransformer(n_components=2, hidden_layer_sizes=(32,), likelihood="bernoulli",
                         max_iter=60, learning_rate_init=3e-3, random_state=0,
                         device="cpu").fit(X[:400])
    p = X[:400].mean(axis=0).clip(1e-3, 1 - 1e-3)
    independent = np.mean(X[400:] @ np.log(p) + (1 - X[400:]) @ np.log(1 - p))
    assert est.score(X[400:]) > independent + 1.0
    assert set(np.unique(est.sample(50, random_state=0))) <= {0.0, 1.0}


def test_gpu_device_is_refused_clearly_without_cuda(data):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="CUDA is not available"):
        VAETransformer(**{**FAST, "device": "cuda"}).fit(data)


def test_auto_device_uses_cpu_without_accelerators(data):
    if torch.cuda.is_available() or torch.backends.mps.is_available():
        pytest.skip("this machine has an accelerator")
    est = VAETransformer(**{**FAST, "device": "auto"}).fit(data)
    assert next(est.module_.parameters()).device.type == "cpu"


def test_warnings_are_not_raised_for_plain_use(data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = VAETransformer(**FAST).fit(data)
        est.transform(data)
        est.score(data)
        est.sample(3, random_state=0)


def test_pipeline_grid_search_over_latent_size_and_beta_in_parallel():
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16.0, y[:300]
    pipe = Pipeline([("vae", VAETransformer(hidden_layer_sizes=(32,), max_iter=10,
                                            random_state=0, device="cpu")),
                     ("clf", LogisticRegression(max_iter=500))])
    grid = {"vae__n_components": [2, 8], "vae__beta": [0.5, 1.0]}
    search = GridSearchCV(pipe, grid, cv=2, n_jobs=2, error_score="raise").fit(X, y)
    serial = GridSearchCV(pipe, grid, cv=2, n_jobs=1, error_score="raise").fit(X, y)
    # Same seeds in worker processes and in this one: the same scores, the same choice.
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               serial.cv_results_["mean_test_score"])
    assert search.best_params_["vae__n_components"] == 8
    assert search.score(X, y) > 0.5
