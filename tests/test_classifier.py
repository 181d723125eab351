"""VAEClassifier: scikit-learn's API checks and the semi-supervised properties."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from skvae import VAEClassifier

# A high learning rate so that five epochs reach the accuracy sklearn's checks ask for.
CHEAP = dict(n_components=2, hidden_layer_sizes=(16,), max_iter=5, learning_rate_init=1e-2,
             device="cpu")
FAST = dict(CHEAP, random_state=0)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def expected_failed_checks(estimator):
    """Checks at odds with the semi-supervised convention of sklearn itself."""
    return {
        "check_classifiers_classes": (
            "it uses -1 as a class label, which marks unlabeled rows here; sklearn "
            "exempts its own semi-supervised classifiers by name from that part"
        ),
        "check_sample_weight_equivalence_on_dense_data": (
            "integer weights and repeated rows give the same objective but other "
            "minibatches, so the two fits agree in distribution, not to 1e-7; "
            "tests/test_sample_weight.py checks that"
        ),
    }


@parametrize_with_checks([VAEClassifier(**CHEAP)], expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def _blobs(n_per_class=30, seed=0):
    rng = np.random.RandomState(seed)
    centers = np.array([[0.0, 4.0], [4.0, -2.0], [-4.0, -2.0]])
    y = np.repeat(np.arange(3), n_per_class)
    return centers[y] + rng.randn(len(y), 2), y


@pytest.fixture(scope="module")
def semi():
    X, y = _blobs()
    y_semi = y.copy()
    y_semi[np.random.RandomState(1).rand(len(y)) < 0.8] = -1
    return X, y, y_semi


@pytest.fixture(scope="module")
def fitted(semi):
    X, _, y_semi = semi
    return VAEClassifier(**FAST).fit(X, y_semi)


def test_predict_proba_rows_sum_to_one_and_argmax_is_predict(fitted, semi):
    X = semi[0]
    proba = fitted.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert np.array_equal(fitted.classes_[proba.argmax(axis=1)], fitted.predict(X))
    np.testing.assert_allclose(np.exp(fitted.predict_log_proba(X)), proba, rtol=1e-10)


def test_classes_exclude_the_unlabeled_marker(fitted):
    assert fitted.classes_.tolist() == [0, 1, 2]


def test_transform_gives_the_latent_in_the_dtype_of_X(fitted, semi):
    X = semi[0]
    assert fitted.transform(X).shape == (X.shape[0], 2)
    assert fitted.transform(X.astype(np.float32)).dtype == np.float32


def test_all_unlabeled_raises(semi):
    X = semi[0]
    with pytest.raises(ValueError, match="no labeled rows"):
        VAEClassifier(**FAST).fit(X, np.full(X.shape[0], -1))


def test_string_labels_with_object_array_and_integer_marker(semi):
    X, y, y_semi = semi
    names = np.array(["a", "b", "c"], dtype=object)[y]
    names[y_semi == -1] = -1
    clf = VAEClassifier(**FAST).fit(X, names)
    assert clf.classes_.tolist() == ["a", "b", "c"]
    assert set(clf.predict(X)) <= {"a", "b", "c"}


def test_string_array_with_minus_one_string_is_refused(semi):
    X, y, y_semi = semi
    names = np.where(y_semi == -1, "-1", np.array(["a", "b", "c"])[y])
    with pytest.raises(ValueError, match="object array"):
        VAEClassifier(**FAST).fit(X, names)


def test_same_seed_gives_bitwise_identical_fit(semi):
    X, _, y_semi = semi
    a = VAEClassifier(**FAST).fit(X, y_semi)
    b = VAEClassifier(**FAST).fit(X, y_semi)
    assert a.loss_curve_ == b.loss_curve_
    for key, value in a.module_.state_dict().items():
        assert torch.equal(value, b.module_.state_dict()[key]), key
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))


def test_global_rngs_untouched(semi):
    X, _, y_semi = semi
    torch_state = torch.get_rng_state().clone()
    numpy_state = np.random.get_state()
    clf = VAEClassifier(**FAST).fit(X, y_semi)
    clf.predict_proba(X)
    clf.transform(X)
    assert torch.equal(torch_state, torch.get_rng_state())
    after = np.random.get_state()
    assert np.array_equal(numpy_state[1], after[1]) and numpy_state[2:] == after[2:]


def test_pickle_round_trip_is_exact(fitted, semi):
    X = semi[0]
    clone = pickle.loads(pickle.dumps(fitted))
    assert np.array_equal(clone.predict_proba(X), fitted.predict_proba(X))
    assert np.array_equal(clone.transform(X), fitted.transform(X))


def _blobs_with_noise_features(n_per_class=60, n_noise=6, seed=0):
    """Three far-apart blobs in two columns, pure noise in the others, one label each."""
    rng = np.random.RandomState(seed)
    angles = 2 * np.pi * np.arange(3) / 3
    centers = 3 * np.column_stack([np.cos(angles), np.sin(angles)])
    y = np.repeat(np.arange(3), n_per_class)
    X = np.hstack([centers[y] + 0.5 * rng.randn(len(y), 2), rng.randn(len(y), n_noise)])
    labeled = np.array([np.flatnonzero(y == c)[0] for c in range(3)])
    return X, y, labeled


def test_unlabeled_rows_improve_accuracy():
    X, y, labeled = _blobs_with_noise_features()
    y_semi = np.full_like(y, -1)
    y_semi[labeled] = y[labeled]
    # One latent dimension cannot place three blobs, so the decoder must use the label.
    common = dict(FAST, n_components=1, batch_size=32, tol=0.0, n_iter_no_change=10_000)
    semi = VAEClassifier(**{**common, "max_iter": 30}).fit(X, y_semi)
    # As many Adam steps on the three labeled rows alone (one step per epoch there).
    steps = 30 * int(np.ceil((len(y) - len(labeled)) / 32))
    supervised = VAEClassifier(**{**common, "max_iter": steps}).fit(X[labeled], y[labeled])
    assert semi.score(X, y) > supervised.score(X, y) + 0.2


#: Rows of load_digits the default fit is checked on (small, so the test stays fast).
N_DIGITS = 200


@pytest.fixture(scope="module")
def default_fit_on_digits():
    """A default fit on a few digits, 3 labeled per class, and the warnings it raised."""
    X, y = load_digits(return_X_y=True)
    X, y = X[:N_DIGITS] / 16.0, y[:N_DIGITS]
    y_semi = np.full_like(y, -1)
    for c in range(10):
        y_semi[np.flatnonzero(y == c)[:3]] = c
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = VAEClassifier(random_state=0, device="cpu").fit(X, y_semi)
    return clf, [w for w in caught if issubclass(w.category, ConvergenceWarning)]


def test_default_fit_stops_by_itself_without_convergence_warning(default_fit_on_digits):
    clf, convergence_warnings = default_fit_on_digits
    assert not convergence_warnings
    assert clf.converged_ and clf.n_iter_ < clf.max_iter


def test_default_adaptive_rate_ends_divided_by_5_twice(default_fit_on_digits):
    clf, _ = default_fit_on_digits
    final = clf._optimizer_state["param_groups"][0]["lr"]
    assert final == pytest.approx(clf.learning_rate_init * 0.2**2)


def test_constant_rate_stops_at_the_first_plateau(semi):
    X, _, y_semi = semi
    clf = VAEClassifier(**{**FAST, "max_iter": 1000, "learning_rate": "constant"}).fit(
        X, y_semi)
    assert clf.converged_
    assert clf._optimizer_state["param_groups"][0]["lr"] == clf.learning_rate_init


def test_partial_fit_takes_an_all_unlabeled_batch_once_classes_are_known(semi):
    X, _, y_semi = semi
    clf = VAEClassifier(**FAST).partial_fit(X, y_semi)
    clf.partial_fit(X, np.full(X.shape[0], -1))
    assert clf.n_iter_ == 2 and clf.classes_.tolist() == [0, 1, 2]


@pytest.mark.parametrize("enumerate_labels", ["all", 1, 2, 3, 5])
def test_enumerate_labels_options_fit_and_predict(semi, enumerate_labels):
    X, y, y_semi = semi
    clf = VAEClassifier(**FAST, enumerate_labels=enumerate_labels).fit(X, y_semi)
    assert np.all(np.isfinite(clf.loss_curve_))
    assert set(clf.predict(X)) <= {0, 1, 2}


def _enumerate_every_label(module, x, noise, beta=1.0, n_labels=None):
    """Kingma et al.'s unlabeled bound as written before top-m enumeration existed."""
    n, k = x.shape[0], module.n_classes
    labels = torch.arange(k, device=x.device).repeat_interleave(n)
    elbo = module.labeled_elbo(x.repeat(k, 1), labels, noise, beta).reshape(k, n).T
    log_q = module.log_proba(x)
    return (log_q.exp() * (elbo - log_q)).sum(dim=-1)


def test_enumerating_all_labels_trains_as_full_enumeration_did(semi, monkeypatch):
    X, _, y_semi = semi
    fits = [VAEClassifier(**FAST, enumerate_labels=m).fit(X, y_semi) for m in ("all", 3)]
    from skvae import _module

    monkeypatch.setattr(_module.M2Module, "unlabeled_elbo", _enumerate_every_label)
    reference = VAEClassifier(**FAST, enumerate_labels="all").fit(X, y_semi)
    for clf in fits:
        assert clf.loss_curve_ == reference.loss_curve_
        assert np.array_equal(clf.predict_proba(X), reference.predict_proba(X))


def _tiny_module(n_classes=4, seed=0):
    from skvae._module import M2Module, build_module
    from skvae.likelihoods import get_likelihood
    from skvae.posteriors import get_posterior
    from skvae.priors import get_prior

    config = dict(n_features=3, n_components=2, n_classes=n_classes, hidden_layer_sizes=(8,))
    return build_module(M2Module, config, get_likelihood("gaussian"), get_prior("normal"),
                        get_posterior("diagonal"), seed).double()


@pytest.mark.parametrize("n_labels", [1, 2, 3, 4])
def test_top_labels_bound_is_the_truncated_posterior_elbo(n_labels):
    module = _tiny_module()
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    noise = torch.randn(1, 1, 2, generator=torch.Generator().manual_seed(1),
                        dtype=torch.float64)  # one shared draw, so rows compare exactly
    with torch.no_grad():
        bound = module.unlabeled_elbo(x, noise, n_labels=n_labels)
        q = module.log_proba(x).exp()
        for i in range(x.shape[0]):
            top = torch.argsort(q[i], descending=True)[:n_labels]
            q_top = q[i, top] / q[i, top].sum()
            elbos = torch.stack([module.labeled_elbo(x[i:i + 1], y.reshape(1), noise)[0]
                                 for y in top])
            expected = (q_top * (elbos - q_top.log())).sum()
            torch.testing.assert_close(bound[i], expected)



def test_convergence_warning_suggests_what_helps_this_model():
    # Early stopping measured worse for the classifier than a longer fit, so its
    # warning suggests the adaptive rate instead; a VAE's suggests both.
    from skvae import VAETransformer

    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(40, 3)), np.arange(40) % 2
    clf = VAEClassifier(hidden_layer_sizes=(4,), max_iter=2, learning_rate="constant",
                        random_state=0)
    with pytest.warns(ConvergenceWarning) as record:
        clf.fit(X, y)
    message = str(record[0].message)
    assert "learning_rate='adaptive'" in message and "early_stopping" not in message
    vae = VAETransformer(hidden_layer_sizes=(4,), max_iter=2, learning_rate="constant",
                         early_stopping=False, random_state=0)
    with pytest.warns(ConvergenceWarning) as record:
        vae.fit(X)
    message = str(record[0].message)
    assert "learning_rate='adaptive'" in message and "early_stopping='auto'" in message
