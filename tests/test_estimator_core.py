"""The shared estimator core: every estimator gets the same persistence, fault handling,
streaming and fitted-state guarantees, because they share one fit path."""

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV

from skvae import VAEClassifier, VAEGenerator, VAETransformer, load, save
from skvae import _training
from skvae._module import M2Module, VAEModule

FAST = dict(hidden_layer_sizes=(16,), max_iter=4, batch_size=16, random_state=0, device="cpu")
ESTIMATORS = [VAETransformer, VAEGenerator, VAEClassifier]

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    latent = rng.normal(size=(150, 2))
    X = latent @ rng.normal(size=(2, 6)) + 0.1 * rng.normal(size=(150, 6))
    y = (latent[:, 0] > 0).astype(int)
    y[rng.rand(150) < 0.6] = -1  # semi-supervised: most rows unlabeled
    return X, y


def fit_args(Estimator, data):
    X, y = data
    return (X, y) if Estimator is VAEClassifier else (X,)


def outputs(est, X):
    """What a fitted estimator answers, as arrays to compare."""
    found = [est.transform(X)]
    if isinstance(est, VAEClassifier):
        found.append(est.predict_proba(X))
    else:
        found += [est.score_samples(X), est.sample(5, random_state=0)]
    return found


def weights(est):
    return {k: v.clone() for k, v in est.module_.state_dict().items()}


def assert_same_weights(a, b):
    for name, value in weights(a).items():
        assert torch.equal(weights(b)[name], value), name


# ------------------------------------------------------------------ persistence
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_save_load_is_exact_and_partial_fit_continues_identically(Estimator, data, tmp_path):
    args = fit_args(Estimator, data)
    est = Estimator(**FAST).fit(*args)
    save(est, tmp_path / "m.skvae")
    loaded = load(tmp_path / "m.skvae")
    assert type(loaded) is Estimator and set(vars(loaded)) == set(vars(est))
    for found, expected in zip(outputs(loaded, data[0]), outputs(est, data[0])):
        assert np.array_equal(found, expected)
    est.partial_fit(*args)
    loaded.partial_fit(*args)
    assert loaded.loss_curve_ == est.loss_curve_
    assert_same_weights(loaded, est)


def _tamper(path, out, edit):
    """Rewrite the saved file at ``path`` into ``out`` with ``edit(header, tensors)``."""
    import io
    import json
    import zipfile

    import safetensors.torch

    with zipfile.ZipFile(path) as archive:
        header = json.loads(archive.read("skvae.json"))
        tensors = safetensors.torch.load(archive.read("tensors.safetensors"))
    edit(header, tensors)
    header["tensors"]["manifest"] = {k: {"dtype": str(v.dtype).removeprefix("torch."),
                                         "shape": list(v.shape)} for k, v in tensors.items()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("skvae.json", json.dumps(header))
        archive.writestr("tensors.safetensors", safetensors.torch.save(tensors))
    out.write_bytes(buffer.getvalue())
    return out


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_load_refuses_an_optimizer_state_of_the_wrong_shape(Estimator, data, tmp_path):
    # Adam's fused kernel writes into these tensors unchecked: a wrong shape would
    # corrupt memory at the next partial_fit, so load must refuse the file.
    pytest.importorskip("safetensors")
    save(Estimator(**FAST).fit(*fit_args(Estimator, data)), tmp_path / "m.skvae")

    def shrink(header, tensors):
        key = next(k for k in tensors if k.startswith("_optimizer_state/") and "exp_avg" in k)
        tensors[key] = torch.zeros(1)

    path = _tamper(tmp_path / "m.skvae", tmp_path / "bad.skvae", shrink)
    with pytest.raises(ValueError, match="optimiser state of parameter .* does not fit"):
        load(path)


def test_load_checks_a_huge_module_config_without_allocating_it(data, tmp_path):
    pytest.importorskip("safetensors")
    save(VAETransformer(**FAST).fit(data[0]), tmp_path / "m.skvae")

    def widen(header, tensors):
        config = header["attributes"]["module_"]["config"]["items"]
        for item in config:
            if item[0] == "hidden_layer_sizes":
                item[1] = {"type": "tuple", "items": [2**30]}

    path = _tamper(tmp_path / "m.skvae", tmp_path / "wide.skvae", widen)
    # A real (2**30 x 6) layer would need 24 GiB: the check runs on the meta device.
    with pytest.raises(ValueError, match="weights do not fit the model"):
        load(path)


def test_saved_file_names_the_module_class_and_config(data, tmp_path):
    import json
    import zipfile

    est = VAEClassifier(**FAST).fit(*data)
    save(est, tmp_path / "m.skvae")
    with zipfile.ZipFile(tmp_path / "m.skvae") as archive:
        node = json.loads(archive.read("skvae.json"))["attributes"]["module_"]
    assert node["class"] == "M2Module"
    keys = [item[0] for item in node["config"]["items"]]
    assert keys == list(M2Module.CONFIG_KEYS)


# ------------------------------------------------------------------- streaming
def _no_room(tensor, device):
    raise torch.OutOfMemoryError("CUDA out of memory (simulated)")


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_data_too_large_for_the_device_is_streamed_with_the_same_fit(Estimator, data,
                                                                     monkeypatch):
    args = fit_args(Estimator, data)
    expected = Estimator(**FAST).fit(*args)
    monkeypatch.setattr(_training, "_transfer", _no_room)
    monkeypatch.setattr(_training, "STREAM_CHUNK_ELEMENTS", 2 * 16 * 6)
    with pytest.warns(UserWarning, match="streamed to the device in chunks"):
        streamed = Estimator(**FAST).fit(*args)
    assert streamed.loss_curve_ == expected.loss_curve_
    assert_same_weights(streamed, expected)


# ------------------------------------------------------------- out of memory
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_out_of_memory_in_training_gives_advice_and_keeps_the_model(Estimator, data,
                                                                    monkeypatch):
    args = fit_args(Estimator, data)
    est = Estimator(**FAST).fit(*args)
    before = (weights(est), list(est.loss_curve_), est.n_iter_)
    original = VAEModule.elbo_terms

    def no_room(self, x, *rest, **kwargs):
        if x.shape[0] > 8:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return original(self, x, *rest, **kwargs)

    monkeypatch.setattr(VAEModule, "elbo_terms", no_room)
    with pytest.raises(torch.OutOfMemoryError, match="smaller batch_size.*unchanged"):
        est.fit(*args)
    assert est.loss_curve_ == before[1] and est.n_iter_ == before[2]
    assert all(torch.equal(est.module_.state_dict()[k], v) for k, v in before[0].items())


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_inference_retries_with_smaller_blocks(Estimator, data, monkeypatch):
    X = data[0]
    est = Estimator(**FAST).fit(*fit_args(Estimator, data))
    expected = est.transform(X)
    module_class = type(est.module_)
    name = "latent_mean" if module_class is M2Module else "encode_mean"
    original = getattr(module_class, name)

    def no_room(self, x, *rest, **kwargs):
        if x.shape[0] > 7:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return original(self, x, *rest, **kwargs)

    monkeypatch.setattr(module_class, name, no_room)
    np.testing.assert_allclose(est.transform(X), expected, rtol=1e-12)


# ------------------------------------------------------------- fitted state
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_set_params_after_fit_takes_effect_at_the_next_fit(Estimator, data):
    X = data[0]
    est = Estimator(n_components=2, **FAST).fit(*fit_args(Estimator, data))
    Z = est.transform(X)
    est.set_params(n_components=3)
    assert np.array_equal(est.transform(X), Z)
    if not isinstance(est, VAEClassifier):
        assert est.inverse_transform(Z).shape == X.shape


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_warm_start_with_another_architecture_is_refused(Estimator, data):
    args = fit_args(Estimator, data)
    est = Estimator(warm_start=True, **FAST).fit(*args)
    n_iter = est.n_iter_
    est.set_params(hidden_layer_sizes=(32,))
    with pytest.raises(ValueError, match=r"hidden_layer_sizes: \(16,\) -> \(32,\)"):
        est.fit(*args)
    assert est.n_iter_ == n_iter
    est.set_params(hidden_layer_sizes=(16,)).fit(*args)
    assert est.n_iter_ > n_iter


# -------------------------------------------------------- semi-supervised scores
def test_classifier_score_counts_labeled_rows_only(data):
    X, y = data
    clf = VAEClassifier(**FAST).fit(X, y)
    labeled = y != -1
    expected = np.mean(clf.predict(X[labeled]) == y[labeled])
    assert clf.score(X, y) == pytest.approx(expected)
    with pytest.raises(ValueError, match="no labeled rows"):
        clf.score(X, np.full_like(y, -1))


def test_grid_search_over_the_classifier_picks_by_labeled_accuracy(data):
    X, y = data
    search = GridSearchCV(VAEClassifier(**FAST), {"alpha": [0.0, 50.0]}, cv=3).fit(X, y)
    # With most rows unlabeled, plain accuracy would stay below the labeled share (0.4).
    assert search.best_score_ > 0.5
    for params, score in zip(search.cv_results_["params"],
                             search.cv_results_["mean_test_score"]):
        assert 0.0 <= score <= 1.0, params
