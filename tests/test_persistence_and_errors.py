"""Pickle round trips, device portability, version stamps, and bad input."""

import pickle

import joblib
import numpy as np
import pytest
import torch

from skvae import InconsistentVersionWarning, VAEGenerator, VAETransformer
from skvae._training import NonFiniteLossError
from skvae.likelihoods import GaussianLikelihood, Likelihood

FAST = dict(hidden_layer_sizes=(16,), max_iter=5, random_state=0, device="cpu")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def data():
    return np.random.RandomState(0).normal(size=(120, 5))


@pytest.fixture(scope="module")
def fitted(data):
    return VAETransformer(n_components=2, **FAST).fit(data)


@pytest.mark.parametrize("Estimator", [VAETransformer, VAEGenerator])
def test_pickle_round_trip_is_exact(Estimator, data):
    est = Estimator(**FAST).fit(data)
    loaded = pickle.loads(pickle.dumps(est))
    assert np.array_equal(loaded.transform(data), est.transform(data))
    assert np.array_equal(loaded.score_samples(data), est.score_samples(data))
    assert np.array_equal(loaded.sample(4, random_state=1), est.sample(4, random_state=1))
    assert loaded.loss_curve_ == est.loss_curve_


def test_joblib_round_trip(fitted, data, tmp_path):
    joblib.dump(fitted, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    assert np.array_equal(loaded.transform(data), fitted.transform(data))


def test_pickled_model_keeps_training_with_partial_fit(data):
    est = VAETransformer(**FAST).partial_fit(data)
    loaded = pickle.loads(pickle.dumps(est))
    est.partial_fit(data)
    loaded.partial_fit(data)
    # The optimiser state and the RNG travel too: the next epoch is the same.
    assert loaded.loss_curve_ == est.loss_curve_


def test_pickle_holds_cpu_tensors_only(fitted):
    state = fitted.__getstate__()
    tensors = list(state["module_"].state_dict().values())
    assert tensors and all(t.device.type == "cpu" for t in tensors)


def test_model_fitted_on_gpu_loads_on_a_cpu_only_machine(fitted, data):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    # A state as a CUDA fit would pickle it: CPU tensors, the fitted device recorded.
    state = fitted.__getstate__()
    state["_device"] = torch.device("cuda", 0)
    loaded = VAETransformer.__new__(VAETransformer)
    loaded.__setstate__(state)
    assert loaded._device.type == "cpu"
    np.testing.assert_array_equal(loaded.transform(data), fitted.transform(data))


def test_version_mismatch_warns(fitted):
    state = fitted.__getstate__()
    state["_skvae_version"] = "0.0.0-other"
    loaded = VAETransformer.__new__(VAETransformer)
    with pytest.warns(InconsistentVersionWarning, match="0.0.0-other"):
        loaded.__setstate__(state)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "bad, match",
    [
        (np.array([[np.nan, 1.0], [1.0, 2.0]]), "NaN"),
        (np.array([[np.inf, 1.0], [1.0, 2.0]]), "infinity"),
        (np.array([[1.0, 2.0]]), "minimum of 2 is required"),
        (np.empty((0, 3)), "0 sample"),
        (np.array([1.0, 2.0, 3.0]), "2D array"),
        (np.array([["a", "b"], ["c", "d"]]), "convert|string"),
    ],
)
def test_fit_rejects_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        VAETransformer(**FAST).fit(bad)


def test_complex_input_is_rejected():
    with pytest.raises(ValueError, match="[Cc]omplex"):
        VAETransformer(**FAST).fit(np.ones((5, 2), dtype=complex))


def test_sparse_input_is_rejected_clearly():
    from scipy import sparse

    with pytest.raises(TypeError, match="[Ss]parse"):
        VAETransformer(**FAST).fit(sparse.random(20, 4, density=0.5, format="csr"))


def test_transform_checks_feature_count(fitted, data):
    with pytest.raises(ValueError, match="X has 3 features, but VAETransformer is expecting 5"):
        fitted.transform(data[:, :3])


def test_inverse_transform_checks_latent_size(fitted):
    with pytest.raises(ValueError, match="expecting 2 latent components"):
        fitted.inverse_transform(np.zeros((3, 4)))


@pytest.mark.parametrize("n", [0, -1, 2.5, "3"])
def test_sample_rejects_bad_counts(fitted, n):
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        fitted.sample(n)


@pytest.mark.parametrize("sizes", [(0,), (16, -2), ("a",)])
def test_bad_hidden_layer_sizes(data, sizes):
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        VAETransformer(**{**FAST, "hidden_layer_sizes": sizes}).fit(data)


def test_bad_device_string(data):
    with pytest.raises(ValueError, match="not a torch device"):
        VAETransformer(**{**FAST, "device": "gpu7"}).fit(data)


def test_bernoulli_names_the_column_out_of_support(data):
    X = np.random.RandomState(0).rand(20, 4)
    X[3, 2] = 1.5
    with pytest.raises(ValueError, match="bernoulli.*column 2"):
        VAETransformer(**{**FAST, "likelihood": "bernoulli"}).fit(X)


def test_bernoulli_transform_checks_support_too():
    X = np.random.RandomState(0).rand(20, 4)
    est = VAETransformer(**{**FAST, "likelihood": "bernoulli"}).fit(X)
    with pytest.raises(ValueError, match="column 0"):
        est.score_samples(X - 1.0)


def test_early_stopping_needs_a_big_enough_validation_set():
    X = np.random.RandomState(0).normal(size=(10, 3))
    with pytest.raises(ValueError, match="validation set"):
        VAETransformer(**{**FAST, "early_stopping": True, "validation_fraction": 0.05}).fit(X)


class _NaNLikelihood(GaussianLikelihood):
    """A Gaussian whose decoder mean turns NaN: a stand-in for a diverging fit."""

    name = "nan-for-tests"

    def head(self, n_inputs, n_features):
        head = super().head(n_inputs, n_features)
        head.loc.register_forward_hook(lambda module, args, out: out * float("nan"))
        return head


def test_non_finite_loss_raises_with_likely_causes(data):
    with pytest.raises(NonFiniteLossError, match="learning_rate_init.*scales"):
        VAETransformer(**{**FAST, "likelihood": _NaNLikelihood()}).fit(data)
    assert issubclass(NonFiniteLossError, ValueError)


def test_failed_refit_leaves_the_fitted_model_unchanged(data):
    est = VAETransformer(**FAST).fit(data)
    before = est.transform(data)
    est.set_params(likelihood=_NaNLikelihood())
    state = dict(est.__dict__)
    with pytest.raises(NonFiniteLossError):
        est.fit(data)
    assert est.__dict__.keys() == state.keys()
    assert all(est.__dict__[k] is state[k] for k in state)
    assert np.array_equal(est.transform(data), before)


def test_failed_partial_fit_leaves_the_model_unchanged(data):
    est = VAETransformer(**FAST).partial_fit(data)
    before = est.transform(data)
    with pytest.raises(ValueError):
        est.partial_fit(np.full_like(data, np.nan))
    assert est.n_iter_ == 1
    assert np.array_equal(est.transform(data), before)


class _InterruptingLikelihood(GaussianLikelihood):
    """Raises KeyboardInterrupt on a chosen forward call, as a Ctrl-C would."""

    name = "interrupt-for-tests"

    def __init__(self, at_call=30):
        self.at_call = at_call

    def head(self, n_inputs, n_features):
        head = super().head(n_inputs, n_features)
        calls = [0]

        def hook(module, args):
            calls[0] += 1
            if calls[0] == self.at_call:
                raise KeyboardInterrupt

        head.register_forward_pre_hook(hook)
        return head


def test_ctrl_c_ends_training_with_a_usable_model_and_reaches_the_caller(data):
    est = VAETransformer(**{**FAST, "max_iter": 100,
                            "likelihood": _InterruptingLikelihood(at_call=40)})
    with pytest.raises(KeyboardInterrupt, match="interrupted"):
        est.fit(data)
    assert 0 < est.n_iter_ < 100
    assert np.all(np.isfinite(est.transform(data)))
    assert np.isfinite(est.score(data))


def test_custom_likelihood_instance_is_accepted_and_not_modified(data):
    likelihood = GaussianLikelihood()
    est = VAETransformer(**{**FAST, "likelihood": likelihood}).fit(data)
    assert est.likelihood is likelihood and est.likelihood_ == likelihood
    assert isinstance(est.likelihood_, Likelihood)


def test_pickling_does_not_change_the_estimator(fitted):
    before = dict(fitted.__dict__)
    pickle.dumps(fitted)
    assert fitted.__dict__.keys() == before.keys()
    assert all(fitted.__dict__[k] is before[k] for k in before)
