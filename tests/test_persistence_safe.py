"""The safe model format: exact round trips, and tampered or foreign files refused."""

import io
import json
import os
import pathlib
import pickle
import zipfile

import numpy as np
import pytest
import torch

from skvae import InconsistentVersionWarning, VAEGenerator, VAETransformer, _persistence
from skvae._persistence import FORMAT_VERSION, load, save
from skvae.likelihoods import LIKELIHOODS, GaussianLikelihood
from skvae.posteriors import POSTERIORS
from skvae.priors import PRIORS

FAST = dict(hidden_layer_sizes=(8,), max_iter=2, random_state=0, device="cpu")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def data():
    return np.random.RandomState(0).normal(size=(60, 4))


@pytest.fixture(scope="module")
def model_file(data, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.skvae"
    save(VAETransformer(**FAST).partial_fit(data), path)
    return path


def _comparable(params):
    return {k: v.get_state(legacy=False) if isinstance(v, np.random.RandomState) else v
            for k, v in params.items()}


def assert_same_model(loaded, est, X):
    assert type(loaded) is type(est)
    expected, found = _comparable(est.get_params()), _comparable(loaded.get_params())
    rng = found.pop("random_state"), expected.pop("random_state")
    assert found == expected
    if isinstance(rng[0], dict):
        assert rng[0]["state"]["pos"] == rng[1]["state"]["pos"]
        assert np.array_equal(rng[0]["state"]["key"], rng[1]["state"]["key"])
    else:
        assert rng[0] == rng[1]
    assert set(vars(loaded)) == set(vars(est))
    assert np.array_equal(loaded.transform(X), est.transform(X))
    assert np.array_equal(loaded.score_samples(X), est.score_samples(X))
    assert np.array_equal(loaded.sample(5, random_state=0), est.sample(5, random_state=0))
    Z = est.transform(X)
    assert np.array_equal(loaded.inverse_transform(Z), est.inverse_transform(Z))
    assert loaded.loss_curve_ == est.loss_curve_
    assert loaded.n_iter_ == est.n_iter_


def round_trip(est, tmp_path):
    path = tmp_path / "model.skvae"
    save(est, path)
    return load(path)


# ------------------------------------------------------------------ round trips
@pytest.mark.parametrize("Estimator", [VAETransformer, VAEGenerator])
def test_round_trip_is_exact_and_partial_fit_continues_identically(Estimator, data, tmp_path):
    est = Estimator(**FAST).partial_fit(data)
    loaded = round_trip(est, tmp_path)
    assert_same_model(loaded, est, data)
    # The RNG and the Adam state travel: the next epochs are bitwise the same.
    for _ in range(2):
        est.partial_fit(data)
        loaded.partial_fit(data)
    assert_same_model(loaded, est, data)


@pytest.mark.parametrize(
    "params",
    [
        dict(early_stopping=True, max_iter=3),
        dict(likelihood=GaussianLikelihood(), beta=0.5, batch_size=16),
        dict(hidden_layer_sizes=()),
        dict(random_state=np.random.RandomState(3)),
        *[dict(prior=name) for name in sorted(PRIORS)],
        *[dict(posterior=name) for name in sorted(POSTERIORS)],
    ],
    ids=["early_stopping", "likelihood_instance", "linear", "random_state_instance",
         *[f"prior={name}" for name in sorted(PRIORS)],
         *[f"posterior={name}" for name in sorted(POSTERIORS)]],
)
def test_round_trip_of_variants(params, data, tmp_path):
    est = VAETransformer(**{**FAST, **params}).fit(data)
    assert_same_model(round_trip(est, tmp_path), est, data)


@pytest.mark.parametrize("likelihood", ["bernoulli", "poisson"])
def test_round_trip_of_other_likelihoods(likelihood, tmp_path):
    X = np.random.RandomState(0).poisson(0.5, size=(40, 3)).clip(0, 1).astype(float)
    est = VAEGenerator(**FAST, likelihood=likelihood).fit(X)
    assert_same_model(round_trip(est, tmp_path), est, X)


def test_dataframe_and_float32_round_trip(data, tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(data.astype(np.float32), columns=["a", "b", "c", "d"])
    est = VAETransformer(**FAST).fit(frame)
    loaded = round_trip(est, tmp_path)
    assert list(loaded.feature_names_in_) == ["a", "b", "c", "d"]
    assert loaded.feature_names_in_.dtype == object
    out = loaded.transform(frame)
    assert out.dtype == np.float32 and np.array_equal(out, est.transform(frame))


def test_unfitted_estimator_round_trips(tmp_path):
    est = VAEGenerator(n_components=3, hidden_layer_sizes=[4, 5])
    loaded = round_trip(est, tmp_path)
    assert loaded.get_params() == est.get_params()
    assert not hasattr(loaded, "module_")


def test_values_are_stored_by_their_type():
    # Attribute values are encoded by type, not by a hand-kept list per attribute.
    value = {
        "tuple": (1, 2.5, None, True, "s"),
        7: [float("nan"), float("-inf")],
        "uint32": np.arange(4, dtype=np.uint32),
        "scalar": np.float32(1.5),
        "strings": np.array([["x", "yy"]]),
        "tensor": torch.arange(3.0),
        "device": torch.device("cpu"),
    }
    encoder = _persistence._Encoder()
    node = json.loads(json.dumps(encoder.encode(value, "extra_")))
    extra = _persistence._Decoder(encoder.tensors).decode(node)
    assert extra.keys() == value.keys()
    assert extra["tuple"] == (1, 2.5, None, True, "s")
    assert np.isnan(extra[7][0]) and extra[7][1] == float("-inf")
    assert extra["uint32"].dtype == np.uint32 and extra["uint32"].tolist() == [0, 1, 2, 3]
    assert type(extra["scalar"]) is np.float32 and extra["scalar"] == 1.5
    assert extra["strings"].dtype == np.dtype("<U2") and extra["strings"].shape == (1, 2)
    assert torch.equal(extra["tensor"], torch.arange(3.0))
    assert extra["device"] == torch.device("cpu")


def test_save_writes_atomically_with_the_usual_permissions(data, tmp_path):
    est = VAETransformer(**FAST).fit(data)
    (tmp_path / "model.skvae").write_bytes(b"old")
    (tmp_path / "plain").write_bytes(b"")
    save(est, tmp_path / "model.skvae")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.skvae", "plain"]
    mode = os.stat(tmp_path / "model.skvae").st_mode & 0o777
    assert mode == os.stat(tmp_path / "plain").st_mode & 0o777


def test_file_object_round_trip(data):
    est = VAETransformer(**FAST).fit(data)
    buffer = io.BytesIO()
    save(est, buffer)
    buffer.seek(0)
    assert np.array_equal(load(buffer).transform(data), est.transform(data))


def test_torch_fallback_without_safetensors(data, tmp_path, monkeypatch):
    est = VAETransformer(**FAST).partial_fit(data)
    monkeypatch.setattr(_persistence, "_import_safetensors", lambda: None)
    with pytest.warns(UserWarning, match=r"load\(path, allow_torch_format=True\)"):
        save(est, tmp_path / "model.skvae")
    with zipfile.ZipFile(tmp_path / "model.skvae") as archive:
        assert sorted(archive.namelist()) == ["skvae.json", "tensors.pt"]
    with pytest.raises(ValueError, match="allow_torch_format=True"):
        load(tmp_path / "model.skvae")
    assert_same_model(load(tmp_path / "model.skvae", allow_torch_format=True), est, data)


def test_safetensors_file_needs_safetensors(model_file, monkeypatch):
    monkeypatch.setattr(_persistence, "_import_safetensors", lambda: None)
    with pytest.raises(ValueError, match="pip install safetensors"):
        load(model_file)


def test_load_never_unpickles(model_file, data, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("load unpickled something")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    assert load(model_file).transform(data).shape == (60, 2)


def test_model_fitted_on_gpu_loads_on_cpu_only_machine(data, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    est = VAETransformer(**FAST).fit(data)
    expected = est.transform(data)
    est._device = torch.device("cuda", 0)  # as recorded by a fit on a GPU
    loaded = round_trip(est, tmp_path)
    assert loaded._device == torch.device("cpu")
    assert np.array_equal(loaded.transform(data), expected)


# ------------------------------------------------------------------ save errors
class _UnregisteredLikelihood(GaussianLikelihood):
    name = "unregistered"


def test_save_refuses_an_unregistered_likelihood(tmp_path):
    with pytest.raises(ValueError, match="not a registered likelihood"):
        save(VAETransformer(likelihood=_UnregisteredLikelihood()), tmp_path / "m.skvae")
    assert "unregistered" not in LIKELIHOODS


def test_save_refuses_a_part_with_state_its_constructor_does_not_take(tmp_path):
    likelihood = GaussianLikelihood()
    likelihood.min_scale = 0.5
    with pytest.raises(ValueError, match=r"state \['min_scale'\].*does not rebuild"):
        save(VAETransformer(likelihood=likelihood), tmp_path / "m.skvae")


def test_configured_part_round_trips(data, tmp_path):
    if "vamp" not in PRIORS:
        pytest.skip("no VampPrior")
    prior = PRIORS["vamp"](n_pseudo_inputs=7)
    est = VAETransformer(**FAST, prior=prior).fit(data)
    loaded = round_trip(est, tmp_path)
    assert loaded.prior == prior and loaded.prior is not prior
    assert_same_model(loaded, est, data)


def test_save_fails_loudly_on_an_unknown_attribute_type(data, tmp_path):
    est = VAETransformer(**FAST).fit(data)
    est.best_loss_ = object()
    with pytest.raises(ValueError, match="Cannot save 'best_loss_'.*builtins.object"):
        save(est, tmp_path / "m.skvae")
    assert not (tmp_path / "m.skvae").exists()
    est.best_loss_ = {"deep": [1, {"x": 1j}]}
    with pytest.raises(ValueError, match="best_loss_/deep/1/x"):
        save(est, tmp_path / "m.skvae")


def test_save_refuses_other_classes(tmp_path):
    class Custom(VAETransformer):
        pass

    with pytest.raises(ValueError, match="save supports"):
        save(Custom(), tmp_path / "m.skvae")
    from sklearn.decomposition import PCA

    with pytest.raises(ValueError, match="save supports"):
        save(PCA(), tmp_path / "m.skvae")


# ----------------------------------------------------- tampered and foreign files
class _Payload:
    """Unpickling this creates ``marker``: proof that code ran."""

    def __init__(self, marker):
        self.marker = pathlib.Path(marker)

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_payload_runs_when_unpickled(tmp_path):
    # The control: the payload is live, so its absence below proves nothing ran.
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.exists()


def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)


def _malicious_files(model_file, marker, folder):
    """Files that run the payload if anything unpickles them."""
    payload = pickle.dumps({"weights": _Payload(marker)})
    files = {}
    files["pickle"] = folder / "pickle.skvae"
    files["pickle"].write_bytes(payload)
    files["torch_save"] = folder / "torch.skvae"
    torch.save({"weights": _Payload(marker)}, files["torch_save"])
    # A genuine header whose tensors are a malicious torch.save file.
    members = _members(model_file)
    header = json.loads(members.pop("skvae.json"))
    header["tensors"]["format"] = "torch"
    buffer = io.BytesIO()
    torch.save({"weights": _Payload(marker)}, buffer)
    files["zip_torch_payload"] = folder / "zip_torch.skvae"
    _write(files["zip_torch_payload"], {"skvae.json": json.dumps(header),
                                        "tensors.pt": buffer.getvalue()})
    # The same pickle in place of the safetensors member, and beside it.
    members = _members(model_file)
    files["zip_safetensors_payload"] = folder / "zip_st.skvae"
    _write(files["zip_safetensors_payload"], {**members, "tensors.safetensors": payload})
    files["zip_extra_member"] = folder / "zip_extra.skvae"
    _write(files["zip_extra_member"], {**members, "data.pkl": payload})
    return files


@pytest.mark.parametrize("kind", ["pickle", "torch_save", "zip_torch_payload",
                                  "zip_safetensors_payload", "zip_extra_member"])
@pytest.mark.parametrize("allow_torch_format", [False, True])
def test_malicious_pickle_is_rejected_without_running(kind, allow_torch_format, model_file,
                                                      tmp_path):
    marker = tmp_path / "ran"
    path = _malicious_files(model_file, marker, tmp_path)[kind]
    with pytest.raises(ValueError, match="skvae model file|allow_torch_format=True"):
        load(path, allow_torch_format=allow_torch_format)
    assert not marker.exists()


def _tampered(model_file, tmp_path, edit_header=None, edit_members=None):
    members = _members(model_file)
    if edit_header is not None:
        header = json.loads(members["skvae.json"])
        edit_header(header)
        members["skvae.json"] = json.dumps(header).encode()
    if edit_members is not None:
        edit_members(members)
    path = tmp_path / "tampered.skvae"
    _write(path, members)
    return path


def _reshape_first_weight(members):
    from safetensors.torch import load as st_load
    from safetensors.torch import save as st_save

    tensors = st_load(members["tensors.safetensors"])
    tensors["module_/encoder.0.weight"] = torch.zeros(3, 3)
    members["tensors.safetensors"] = st_save(tensors)


def _set_config(header, key, value):
    for item in header["attributes"]["module_"]["config"]["items"]:
        if item[0] == key:
            item[1] = value


def _set_manifest(header, key, shape):
    header["tensors"]["manifest"][key]["shape"] = shape


@pytest.mark.parametrize(
    "edit_header, edit_members, match",
    [
        (None, lambda m: m.update({"skvae.json": b"{not json"}), "not valid JSON"),
        (None, lambda m: m.update({"skvae.json": b"\xff\xfe"}), "not valid JSON"),
        (lambda h: h.pop("params"), None, "missing entry 'params'"),
        (lambda h: h.pop("attributes"), None, "missing entry 'attributes'"),
        (lambda h: h["attributes"].pop("_standardizer"), None, "standardisation does not fit"),
        (lambda h: h["attributes"].pop("module_"), None, "not referred to"),
        (lambda h: h["attributes"]["module_"]["state"].pop("encoder.0.bias"), None,
         "weights do not fit"),
        (None, _reshape_first_weight, "do not match the manifest"),
        (lambda h: _set_manifest(h, "module_/encoder.0.weight", [3, 3]),
         _reshape_first_weight, "weights do not fit the model.*encoder.0.weight"),
        (lambda h: h["tensors"]["manifest"].pop("_standardizer/scale"), None, "manifest"),
        (None, lambda m: m.pop("tensors.safetensors"), "missing"),
        (None, lambda m: m.update({"tensors.safetensors": b"garbage"}),
         "not a valid safetensors"),
        (lambda h: h.update({"class": "os.system"}), None, "class 'os.system' is not one of"),
        (lambda h: h.update({"class": "PCA"}), None, "class 'PCA' is not one of"),
        (lambda h: h["attributes"].update(
            {"likelihood_": {"type": "part", "kind": "likelihood", "name": "evil"}}),
         None, "unknown likelihood 'evil'"),
        (lambda h: h["attributes"].update({"prior_": {"type": "part", "kind": "prior",
                                                      "name": "normal",
                                                      "config": {"evil": 1}}}),
         None, "takes no arguments|unexpected keyword"),
        (lambda h: h["attributes"].update({"loss_curve_": {"type": "pickle",
                                                           "data": "gASV"}}),
         None, "unknown value type 'pickle'"),
        (lambda h: h["attributes"].update({"x_": 1}), None, "'x_' is not a fitted attribute"),
        (lambda h: h["attributes"].update({"__class__": 1}), None, "not allowed"),
        (lambda h: h["attributes"].update({"transform": 1}), None, "not allowed"),
        (lambda h: h["params"].update({"evil": 1}), None, "unknown parameters"),
        (lambda h: h["params"].update({"n_components": -1}), None, "invalid parameters"),
        (lambda h: _set_config(h, "n_components", 3), None, "weights do not fit"),
        (lambda h: _set_config(h, "n_features", 10**9), None, "weights do not fit"),
        (lambda h: _set_config(h, "n_features", 10**12), None, "not a size"),
        (lambda h: _set_config(h, "hidden_layer_sizes", "big"), None, "not a size"),
        (lambda h: h["attributes"]["module_"].update({"class": "Evil"}), None,
         "'Evil' is not one of"),
        (lambda h: h.update({"format_version": "1"}), None, "format_version"),
        (lambda h: h.update({"format": "other"}), None, "does not declare format"),
        (lambda h: h["tensors"].update({"format": "pickle"}), None, "is not one of"),
        (lambda h: h["attributes"]["_rng"]["state"]["items"].__setitem__(0, "PCG64"), None,
         "valid skvae model"),
    ],
)
def test_tampered_files_fail_with_a_clear_error(model_file, tmp_path, edit_header,
                                                edit_members, match):
    path = _tampered(model_file, tmp_path, edit_header, edit_members)
    with pytest.raises(ValueError, match=match):
        load(path)


def test_newer_format_is_refused(model_file, tmp_path):
    path = _tampered(model_file, tmp_path,
                     lambda h: h.update({"format_version": FORMAT_VERSION + 1}))
    with pytest.raises(ValueError, match=f"format version {FORMAT_VERSION + 1}.*Upgrade skvae"):
        load(path)


def test_other_skvae_version_warns(model_file, data, tmp_path):
    path = _tampered(model_file, tmp_path, lambda h: h.update({"skvae_version": "0.0.1"}))
    with pytest.warns(InconsistentVersionWarning, match="0.0.1"):
        loaded = load(path)
    assert loaded.transform(data).shape == (60, 2)


def test_damaged_bytes_are_refused(model_file, tmp_path):
    content = bytearray(model_file.read_bytes())
    truncated = tmp_path / "truncated.skvae"
    truncated.write_bytes(bytes(content[: len(content) // 2]))
    with pytest.raises(ValueError, match="skvae model file"):
        load(truncated)
    # Flip a byte inside the stored tensors: the zip's CRC check catches it.
    offset = bytes(content).find(b"tensors.safetensors") + 200
    content[offset] ^= 0xFF
    flipped = tmp_path / "flipped.skvae"
    flipped.write_bytes(bytes(content))
    with pytest.raises(ValueError, match="skvae model file"):
        load(flipped)


def test_decompression_bomb_is_refused(model_file, tmp_path):
    members = _members(model_file)
    path = tmp_path / "bomb.skvae"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("skvae.json", members["skvae.json"])
        archive.writestr("tensors.safetensors", bytes(20 * 2**20))
    with pytest.raises(ValueError, match="decompression bomb"):
        load(path)


def test_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "absent.skvae")
