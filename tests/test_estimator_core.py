"""The shared estimator core: every estimator gets the same persistence, fault handling,
streaming and fitted-state guarantees, because they share one fit path."""

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from skvae import VAEGAN, VAEClassifier, VAEGenerator, VAEImputer, VAETransformer, load, save
from skvae import _training
from skvae._module import M2Module, VAEModule

FAST = dict(hidden_layer_sizes=(16,), max_iter=4, batch_size=16, random_state=0, device="cpu")
ESTIMATORS = [VAETransformer, VAEGenerator, VAEClassifier, VAEGAN, VAEImputer]

#: The module method each family's training step goes through (to make it fail).
TRAINING_METHOD = {VAEImputer: "encode"}  # the MIWAE bound: encode, then K decodes

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
    name = TRAINING_METHOD.get(Estimator, "elbo_terms")
    original = getattr(VAEModule, name)

    def no_room(self, x, *rest, **kwargs):
        if x.shape[0] > 8:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return original(self, x, *rest, **kwargs)

    monkeypatch.setattr(VAEModule, name, no_room)
    with pytest.raises(torch.OutOfMemoryError, match="smaller batch_size.*unchanged"):
        est.fit(*args)
    assert est.loss_curve_ == before[1] and est.n_iter_ == before[2]
    assert all(torch.equal(est.module_.state_dict()[k], v) for k, v in before[0].items())


def _out_of_memory(kind):
    """The error a full device (CUDA) or full host memory (the CPU allocator) raises."""
    if kind == "cuda":
        return torch.OutOfMemoryError("CUDA out of memory (simulated)")
    return RuntimeError(_CPU_OOM)


@pytest.mark.parametrize("kind", ["cuda", "cpu"])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_inference_retries_with_smaller_blocks(Estimator, kind, data, monkeypatch):
    X = data[0]
    est = Estimator(**FAST).fit(*fit_args(Estimator, data))
    expected = est.transform(X)
    module_class = type(est.module_)
    name = "latent_mean" if module_class is M2Module else "encode_mean"
    original = getattr(module_class, name)

    def no_room(self, x, *rest, **kwargs):
        if x.shape[0] > 7:
            raise _out_of_memory(kind)
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
    if not isinstance(est, (VAEClassifier, VAEImputer)):  # the imputer's Z is X filled
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


# ------------------------------------------------------------------ randomness
def _table():
    import pandas as pd

    rng = np.random.RandomState(0)
    return pd.DataFrame({"x": rng.normal(size=120), "n": rng.poisson(3.0, 120),
                         "c": pd.Categorical(rng.choice(["a", "b", "c"], 120)),
                         "p": rng.beta(2.0, 5.0, 120)})


SAMPLERS = {
    "normal": lambda X: VAETransformer(**FAST).fit(X),
    "mog": lambda X: VAETransformer(prior="mog", **FAST).fit(X),
    "vamp": lambda X: VAEGenerator(prior="vamp", **FAST).fit(X),
    "student_t": lambda X: VAEGenerator(likelihood="student_t", **FAST).fit(X),
    "table": lambda X: VAEGenerator(**FAST).fit(_table()),
}


def _same(a, b):
    if hasattr(a, "equals"):
        return a.equals(b)
    return np.array_equal(a, b)


@pytest.mark.parametrize("kind", SAMPLERS)
def test_the_same_seed_samples_the_same_rows_from_four_threads_at_once(kind, data):
    from concurrent.futures import ThreadPoolExecutor

    est = SAMPLERS[kind](data[0])
    expected = est.sample(50, random_state=7)
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda _: est.sample(50, random_state=7), range(40)))
    assert all(_same(rows, expected) for rows in found)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_no_method_reads_or_changes_the_global_generators(Estimator, data):
    X = data[0]
    torch_state, numpy_state = torch.random.get_rng_state(), np.random.get_state()
    est = Estimator(**FAST).fit(*fit_args(Estimator, data))
    est.partial_fit(*fit_args(Estimator, data))
    est.transform(X)
    if isinstance(est, VAEClassifier):
        est.predict_proba(X)
        est.score(*data)
    else:
        est.score(X)
        est.sample(20, random_state=0)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state[1])


# ---------------------------------------------------------------------- Ctrl-C
def _interrupt_in_epoch(monkeypatch, epoch, calls):
    """Raise KeyboardInterrupt, as a Ctrl-C would, two steps into the given epoch."""
    original = _training.run_epoch

    def run_epoch(data, batch_size, step, generator):
        calls.append(1)
        if len(calls) < epoch:
            return original(data, batch_size, step, generator)
        steps = []

        def interrupted_step(batch):
            if len(steps) == 2:
                raise KeyboardInterrupt
            steps.append(1)
            return step(batch)

        return original(data, batch_size, interrupted_step, generator)

    monkeypatch.setattr(_training, "run_epoch", run_epoch)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_ctrl_c_keeps_the_best_weights_then_reaches_the_caller(Estimator, data, monkeypatch):
    args = fit_args(Estimator, data)
    params = {**FAST, "max_iter": 20}
    three_epochs = Estimator(**{**params, "max_iter": 3}).fit(*args)
    assert np.all(np.diff(three_epochs.loss_curve_) < 0)  # the third epoch is the best
    _interrupt_in_epoch(monkeypatch, 4, [])
    est = Estimator(**params)
    with pytest.raises(KeyboardInterrupt, match="best weights"):
        est.fit(*args)
    assert est.n_iter_ == 3 and est.loss_curve_ == three_epochs.loss_curve_
    assert_same_weights(est, three_epochs)
    assert np.array_equal(est.transform(data[0]), three_epochs.transform(data[0]))


def test_ctrl_c_during_the_first_epoch_leaves_the_model_as_it_was(data, monkeypatch):
    est = VAETransformer(**FAST).fit(data[0])
    before = weights(est), list(est.loss_curve_)
    _interrupt_in_epoch(monkeypatch, 1, [])
    with pytest.raises(KeyboardInterrupt):
        est.fit(data[0])
    assert est.loss_curve_ == before[1]
    assert all(torch.equal(est.module_.state_dict()[k], v) for k, v in before[0].items())


def test_ctrl_c_stops_a_grid_search(data, monkeypatch):
    calls = []
    _interrupt_in_epoch(monkeypatch, 3, calls)
    search = GridSearchCV(VAETransformer(**{**FAST, "max_iter": 20}),
                          {"n_components": [1, 2]}, cv=3)
    with pytest.raises(KeyboardInterrupt):
        search.fit(data[0])
    assert len(calls) == 3  # no epoch of any further fit ran


# --------------------------------------------------------------- refit publication
def test_a_reader_during_a_refit_sees_the_old_or_the_new_model(data):
    import threading

    X = data[0].astype(np.float32)  # float32 rows are encoded by module_ itself
    params = {**FAST, "max_iter": 60, "batch_size": 8}
    est = VAETransformer(**params).fit(X)
    old = est.transform(X)
    new = VAETransformer(**{**params, "random_state": 1}).fit(X).transform(X)
    est.set_params(random_state=1)
    reads, done = [], threading.Event()

    def reader():
        while not done.is_set():
            reads.append(est.transform(X))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        est.fit(X)
    finally:
        done.set()
        thread.join()
    assert len(reads) > 5
    assert all(np.array_equal(Z, old) or np.array_equal(Z, new) for Z in reads)
    assert np.array_equal(est.transform(X), new)


# ----------------------------------------------------------------------- memory
_CPU_OOM = ("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough "
            "memory: you tried to allocate 123456789 bytes.")


@pytest.mark.parametrize("Estimator", [VAETransformer, VAEGenerator])
def test_sample_refuses_more_rows_than_memory_holds(Estimator, data, monkeypatch):
    from skvae import _validation

    est = Estimator(**FAST).fit(data[0])
    with monkeypatch.context() as patch:
        patch.setattr(_validation, "available_host_memory", lambda: 2**30)
        with pytest.raises(ValueError, match="only 1 GiB are available"):
            est.sample(10**8)
        assert est.sample(1000, random_state=0).shape == (1000, data[0].shape[1])
    with pytest.raises(ValueError, match=r"needs about .* GiB .* smaller batches"):
        est.sample(10**12)  # some 100 TB: refused before anything is allocated


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_cpu_out_of_memory_in_training_gives_advice_and_keeps_the_model(Estimator, data,
                                                                        monkeypatch):
    args = fit_args(Estimator, data)
    est = Estimator(**FAST).fit(*args)
    before = weights(est), est.n_iter_

    def no_room(self, *args, **kwargs):
        raise RuntimeError(_CPU_OOM)

    monkeypatch.setattr(VAEModule, TRAINING_METHOD.get(Estimator, "elbo_terms"), no_room)
    with pytest.raises(MemoryError, match="host memory.*smaller batch_size.*unchanged"):
        est.fit(*args)
    assert est.n_iter_ == before[1]
    assert all(torch.equal(est.module_.state_dict()[k], v) for k, v in before[0].items())


# -------------------------------------------------------------------- divergence
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_a_diverging_fit_warns_and_names_the_learning_rate(Estimator, data):
    est = Estimator(**{**FAST, "learning_rate_init": 1.0, "max_iter": 10})
    with pytest.warns(ConvergenceWarning, match="diverged.*learning_rate_init"):
        est.fit(*fit_args(Estimator, data))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_a_normal_fit_does_not_warn_of_divergence(Estimator, data):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Estimator(**{**FAST, "max_iter": 30}).fit(*fit_args(Estimator, data))
    assert not [w for w in caught if "diverged" in str(w.message)]
