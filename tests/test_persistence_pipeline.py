"""Pipelines of skvae steps in the safe format: exact round trips, tampered files refused."""

import io
import json
import os
import zipfile

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.pipeline import Pipeline, make_pipeline

from skvae import VAEClassifier, VAEGenerator, VAETransformer, load, save

FAST = dict(hidden_layer_sizes=(8,), max_iter=2, random_state=0, device="cpu")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16, y[:300]


@pytest.fixture(scope="module")
def vae_pipeline(digits):
    """Two skvae steps and a passthrough: saved without skops."""
    X, y = digits
    return Pipeline([("m1", VAETransformer(n_components=4, **FAST)), ("keep", "passthrough"),
                     ("m2", VAEClassifier(**FAST))]).fit(X, y)


@pytest.fixture(scope="module")
def vae_pipeline_file(vae_pipeline, tmp_path_factory):
    path = tmp_path_factory.mktemp("pipeline") / "pipeline.skvae"
    save(vae_pipeline, path)
    return path


def _assert_same_predictions(loaded, fitted, X):
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))


def test_pipeline_of_skvae_steps_round_trips_exactly(vae_pipeline, vae_pipeline_file, digits):
    X, _ = digits
    loaded = load(vae_pipeline_file)
    assert isinstance(loaded, Pipeline)
    assert [name for name, _ in loaded.steps] == ["m1", "keep", "m2"]
    assert loaded.steps[1][1] == "passthrough"
    _assert_same_predictions(loaded, vae_pipeline, X)
    np.testing.assert_array_equal(loaded[:-1].transform(X), vae_pipeline[:-1].transform(X))


def test_vae_classifier_round_trips_exactly(digits, tmp_path):
    X, y = digits
    clf = VAEClassifier(**FAST).fit(X, y)
    save(clf, tmp_path / "clf.skvae")
    _assert_same_predictions(load(tmp_path / "clf.skvae"), clf, X)


def test_nested_pipeline_and_file_objects_round_trip(digits):
    X, _ = digits
    inner = make_pipeline(VAEGenerator(**FAST))
    pipe = Pipeline([("inner", inner), ("vae", VAETransformer(**FAST))]).fit(X)
    buffer = io.BytesIO()
    save(pipe, buffer)
    buffer.seek(0)
    loaded = load(buffer)
    assert isinstance(loaded[0], Pipeline)
    np.testing.assert_array_equal(loaded.transform(X), pipe.transform(X))


def test_scikit_learn_steps_round_trip_through_skops(digits, tmp_path):
    pytest.importorskip("skops")
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X, y = digits
    pipe = make_pipeline(StandardScaler(), VAETransformer(**FAST),
                         LogisticRegression(max_iter=200)).fit(X, y)
    save(pipe, tmp_path / "pipe.skvae")
    loaded = load(tmp_path / "pipe.skvae")
    assert [type(step).__name__ for _, step in loaded.steps] == [
        "StandardScaler", "VAETransformer", "LogisticRegression"]
    _assert_same_predictions(loaded, pipe, X)
    with zipfile.ZipFile(tmp_path / "pipe.skvae") as archive:
        assert sorted(archive.namelist()) == ["pipeline.json", "steps/0.skops",
                                              "steps/1.skvae", "steps/2.skops"]


def test_scikit_learn_steps_need_skops(digits, tmp_path, monkeypatch):
    from sklearn.preprocessing import StandardScaler

    monkeypatch.setitem(__import__("sys").modules, "skops", None)
    monkeypatch.setitem(__import__("sys").modules, "skops.io", None)
    pipe = make_pipeline(StandardScaler(), VAETransformer(**FAST)).fit(digits[0])
    with pytest.raises(ValueError, match="needs the skops package"):
        save(pipe, tmp_path / "pipe.skvae")
    assert not os.path.exists(tmp_path / "pipe.skvae")


# ------------------------------------------------------------------ tampered files
def _rewrite(path, tmp_path, edit):
    """A copy of the file at ``path`` whose members went through ``edit(members)``."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    edit(members)
    out = tmp_path / "tampered.skvae"
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out


def _edit_header(edit):
    def apply(members):
        header = json.loads(members["pipeline.json"])
        edit(header)
        members["pipeline.json"] = json.dumps(header).encode()
    return apply


def _edit_step_header(member, edit):
    """Edit the header of the skvae model stored as ``member``."""
    def apply(members):
        with zipfile.ZipFile(io.BytesIO(members[member])) as nested:
            inner = {name: nested.read(name) for name in nested.namelist()}
        header = json.loads(inner["skvae.json"])
        edit(header)
        inner["skvae.json"] = json.dumps(header).encode()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as nested:
            for name, data in inner.items():
                nested.writestr(name, data)
        members[member] = buffer.getvalue()
    return apply


def _first_step(header):
    return header["steps"][0]


@pytest.mark.parametrize(
    "edit, match",
    [
        (_edit_header(lambda h: _first_step(h).update({"kind": "pickle"})), "'pickle'"),
        (_edit_header(lambda h: _first_step(h).update({"member": "steps/0.pkl"})),
         "bad member"),
        (_edit_header(lambda h: h["steps"][1].update({"passthrough": "os.system"})),
         "bad passthrough"),
        (_edit_header(lambda h: h["params"].update({"memory": {"type": "pickle"}})),
         "bad Pipeline parameters"),
        (_edit_header(lambda h: h["params"].update({"evil": 1})), "bad Pipeline parameters"),
        (_edit_header(lambda h: h.update({"format_version": 99})), "format version 99"),
        (_edit_header(lambda h: h.update({"format": "other"})), "does not declare format"),
        (lambda m: m.pop("steps/0.skvae"), "missing entry"),
        (lambda m: m.update({"steps/9.skops": b"extra"}), "unexpected entries"),
        (lambda m: m.update({"pipeline.json": b"{not json"}), "not valid JSON"),
        (_edit_step_header("steps/2.skvae", lambda h: h.update({"class": "os.system"})),
         "step 'm2'.*class 'os.system' is not one of"),
        (_edit_step_header("steps/0.skvae", lambda h: h["params"].update(
            {"n_components": -1})), "step 'm1'.*invalid parameters"),
    ],
    ids=["kind", "member", "passthrough", "memory", "param", "version", "format",
         "missing step", "extra member", "bad json", "step class", "step params"],
)
def test_tampered_pipeline_files_are_refused(vae_pipeline_file, tmp_path, edit, match):
    with pytest.raises(ValueError, match=match):
        load(_rewrite(vae_pipeline_file, tmp_path, edit))


def test_skops_step_naming_an_untrusted_type_is_refused(digits, tmp_path):
    skops_io = pytest.importorskip("skops.io")
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    X, _ = digits
    path = tmp_path / "pipe.skvae"
    save(make_pipeline(StandardScaler(), VAETransformer(**FAST)).fit(X), path)
    # A step that would call os.system, written as skops writes it.
    evil = skops_io.dumps(FunctionTransformer(func=os.system))
    tampered = _rewrite(path, tmp_path, lambda m: m.update({"steps/0.skops": evil}))
    with pytest.raises(ValueError, match="does not trust"):
        load(tampered)
