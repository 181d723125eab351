"""What a model file may make :func:`skvae.load` do: refuse cheaply, never allocate much.

Tampered files claim sizes they do not hold (huge widths in the module config, a
'<U400000000' string array, ``_n_columns=3e7``, a 2**31-element tensor in the manifest
or the safetensors index, zip members larger than the file, a header of half a
million lists) or are not files at all (/dev/zero, a FIFO, a folder). Each must be a clear
ValueError, TypeError or OSError, and cost at most 100 MB of peak memory beyond what
loading the honest model costs.

The memory is measured in a separate interpreter: it imports skvae and loads the honest
model once (so lazy imports are paid), then forks once per file; each fork loads the
honest model, reads its peaks, loads the tampered file and reads them again. Two peaks
are compared, both from Linux: the resident set (``ru_maxrss``, the pages the process
touched, numpy's and torch's allocations and the Python heap alike) and the virtual
size (``VmPeak``, which also counts memory reserved and never touched, such as a
``np.empty`` of gigabytes). A fork starts with both peaks at the parent's current use.
"""

import builtins
import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
import torch

import skvae
from skvae import (
    CVAEGAN,
    VAEGAN,
    VAEClassifier,
    VAEGenerator,
    VAETransformer,
    _persistence,
    load,
    save,
)
from skvae.networks import ConvNetwork

pd = pytest.importorskip("pandas")
safetensors_torch = pytest.importorskip("safetensors.torch")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(hidden_layer_sizes=(8,), max_iter=2, random_state=0, device="cpu")

#: The bound of the issue: memory a tampered file may cost beyond the honest model's.
LIMIT_BYTES = 100 * 2**20


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    X = pd.DataFrame(np.random.RandomState(0).normal(size=(60, 4)), columns=list("abcd"))
    path = tmp_path_factory.mktemp("honest") / "model.skvae"
    save(VAETransformer(**FAST).partial_fit(X), path)
    return path


# ------------------------------------------------------------- tampered files
def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


#: Stands for a value json.dumps cannot write (too deeply nested), spliced in after.
_DEEP = "deeply nested lists"


def _write(path, header, tensors):
    text = json.dumps(header, separators=(",", ":"))
    text = text.replace(json.dumps(_DEEP), "[" * 100_000 + "]" * 100_000)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("skvae.json", text.encode())
        archive.writestr("tensors.safetensors", tensors)
    return path


def _edited(model_file, path, edit):
    """The model with its header changed by ``edit(header)``."""
    members = _members(model_file)
    header = json.loads(members["skvae.json"])
    edit(header)
    return _write(path, header, members["tensors.safetensors"])


def _set_config(header, **values):
    items = header["attributes"]["module_"]["config"]["items"]
    for item in items:
        if item[0] in values:
            item[1] = values[item[0]]


def _huge_widths(header):
    _set_config(header, hidden_layer_sizes={"type": "tuple", "items": [12000, 12000]})


def _as_version_1(header, n_columns):
    # Version 1 built the module from the parameters and _n_columns (no config).
    header["format_version"] = 1
    header["params"]["hidden_layer_sizes"] = {"type": "tuple", "items": [12000, 12000]}
    header["attributes"]["_n_columns"] = n_columns
    module = header["attributes"]["module_"]
    module.pop("class"), module.pop("config")


def _wide_strings(header):
    header["attributes"]["feature_names_in_"] = {
        "type": "ndarray_str", "dtype": "<U400000000", "shape": [1], "values": ["a"]}


def _many_strings(header):
    # 3.6 MB of short strings, near the most the header's bound lets through.
    n = 450_000
    header["attributes"]["feature_names_in_"] = {
        "type": "ndarray_object", "shape": [n], "values": [f"{i:x}" for i in range(n)]}


def _many_lists(header):
    header["attributes"]["loss_curve_"] = [[] for _ in range(2**19)]


def _deep_nesting(header):
    header["attributes"]["loss_curve_"] = _DEEP


def _huge_tensor_in_manifest(header):
    header["tensors"]["manifest"]["module_/encoder.0.weight"]["shape"] = [2**31]


def _safetensors_claim(tensors):
    """A safetensors file whose index claims a 2**31-element tensor it does not hold."""
    length = int.from_bytes(tensors[:8], "little")
    index = json.loads(tensors[8 : 8 + length])
    index["module_/encoder.0.weight"]["shape"] = [2**31]
    begin = index["module_/encoder.0.weight"]["data_offsets"][0]
    index["module_/encoder.0.weight"]["data_offsets"] = [begin, begin + 4 * 2**31]
    raw = json.dumps(index).encode()
    return len(raw).to_bytes(8, "little") + raw + tensors[8 + length :]


def _claiming_member(model_file, path):
    """A zip whose central directory says the tensor member holds 2 GiB."""
    data = bytearray(model_file.read_bytes())
    entry = data.rfind(b"PK\x01\x02")  # the last member's central directory entry
    assert data[entry + 46 : entry + 46 + 19] == b"tensors.safetensors"
    for offset in (20, 24):  # compressed and uncompressed sizes
        data[entry + offset : entry + offset + 4] = (2**31 - 1).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    return path


def _deflated(model_file, path):
    members = _members(model_file)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("skvae.json", members["skvae.json"])
        archive.writestr("tensors.safetensors", bytes(200 * 2**20),
                         compress_type=zipfile.ZIP_DEFLATED)
    return path


def _fifo(path):
    os.mkfifo(path)
    return path


def _tampered_files(model_file, folder):
    members = _members(model_file)
    header = json.loads(members["skvae.json"])

    def edited(name, edit):
        return _edited(model_file, folder / f"{name}.skvae", edit)

    files = {
        "huge widths in the module config": edited("widths", _huge_widths),
        "huge widths and _n_columns=3e7 (format 1)":
            edited("v1", lambda h: _as_version_1(h, 30_000_000)),
        "_n_columns=3e7": edited("columns", lambda h: h["attributes"].update(
            {"_n_columns": 30_000_000})),
        "'<U400000000' string array": edited("wide", _wide_strings),
        "450,000 short strings (3.6 MB header)": edited("strings", _many_strings),
        "half a million empty lists in the header": edited("lists", _many_lists),
        "100,000 nested lists": edited("deep", _deep_nesting),
        "2**31-element tensor in the manifest": edited("manifest", _huge_tensor_in_manifest),
        "2**31-element tensor in the safetensors index": _write(
            folder / "index.skvae", header, _safetensors_claim(members["tensors.safetensors"])),
        "zip member claiming 2 GiB": _claiming_member(model_file, folder / "claim.skvae"),
        "200 MB of zeros, deflated": _deflated(model_file, folder / "bomb.skvae"),
        "/dev/zero": "/dev/zero",
        "a FIFO": _fifo(folder / "fifo.skvae"),
        "a folder": str(folder),
    }
    return {case: str(path) for case, path in files.items()}


# ------------------------------------------------------------------ measuring
_CHILD = textwrap.dedent("""
    import gc, json, os, resource, sys
    import numpy as np
    import torch
    torch.set_num_threads(1)
    from skvae import load

    def peaks():
        with open("/proc/self/status") as status:
            vm = next(int(line.split()[1]) for line in status if line.startswith("VmPeak:"))
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, vm * 1024

    honest, cases = sys.argv[1], json.loads(sys.argv[2])

    def run(path):
        if path in ("ones", "empty"):  # the controls: 150 MiB, touched or not
            return getattr(np, path)(150 * 2**20 // 8)
        return load(path)

    load(honest)
    gc.collect()
    for case, path in cases.items():
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            start = peaks()
            load(honest)
            gc.collect()
            honest_peaks = peaks()
            try:
                run(path)
                outcome = "loaded"
            except BaseException as exc:
                outcome = f"{type(exc).__name__}: {exc}"
            end = peaks()
            os.write(write, json.dumps({
                "case": case, "outcome": outcome,
                "honest_rss": honest_peaks[0] - start[0],
                "rss": end[0] - honest_peaks[0], "vm": end[1] - honest_peaks[1],
            }).encode())
            os._exit(0)
        os.close(write)
        with os.fdopen(read) as pipe:
            print(pipe.read(), flush=True)
        os.waitpid(pid, 0)
""")


@pytest.fixture(scope="module")
def measured(model_file, tmp_path_factory):
    if not (sys.platform.startswith("linux") and os.path.exists("/proc/self/status")):
        pytest.skip("peak memory is read from Linux's /proc")
    files = {**_tampered_files(model_file, tmp_path_factory.mktemp("tampered")),
             "control: np.ones": "ones", "control: np.empty": "empty"}
    # The child imports the skvae under test, wherever it was imported from here.
    path = os.pathsep.join([os.path.dirname(os.path.dirname(skvae.__file__)),
                            os.environ.get("PYTHONPATH", "")])
    result = subprocess.run([sys.executable, "-c", _CHILD, str(model_file), json.dumps(files)],
                            capture_output=True, text=True, timeout=600,
                            env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path})
    assert result.returncode == 0, result.stderr
    rows = {row["case"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert set(rows) == set(files), result.stderr
    return rows


CASES = ["huge widths in the module config", "huge widths and _n_columns=3e7 (format 1)",
         "_n_columns=3e7", "'<U400000000' string array", "450,000 short strings (3.6 MB header)",
         "half a million empty lists in the header", "100,000 nested lists",
         "2**31-element tensor in the manifest",
         "2**31-element tensor in the safetensors index", "zip member claiming 2 GiB",
         "200 MB of zeros, deflated", "/dev/zero", "a FIFO", "a folder"]


def test_the_measurement_sees_memory_touched_or_only_reserved(measured):
    touched, reserved = measured["control: np.ones"], measured["control: np.empty"]
    assert touched["rss"] > 140 * 2**20 and touched["vm"] > 140 * 2**20, touched
    assert reserved["vm"] > 140 * 2**20, reserved  # untouched pages are not resident


@pytest.mark.parametrize("case", CASES)
def test_tampered_file_is_refused_within_100_mb_of_the_honest_model(measured, case):
    row = measured[case]
    error = getattr(builtins, row["outcome"].split(":")[0], None)
    assert isinstance(error, type) and issubclass(error, (ValueError, TypeError, OSError)), \
        row["outcome"]
    assert "MemoryError" not in row["outcome"] and "alloc" not in row["outcome"], row
    print(f"{case}: {row['rss'] / 2**20:.1f} MiB resident, {row['vm'] / 2**20:.1f} MiB "
          f"virtual beyond the honest model ({row['honest_rss'] / 2**20:.1f} MiB); "
          f"{row['outcome'][:150]}")
    assert row["rss"] <= LIMIT_BYTES, row
    assert row["vm"] <= LIMIT_BYTES, row


# ------------------------------------------------------------- what is refused
def test_a_file_larger_than_the_limit_is_refused_before_reading(model_file, monkeypatch):
    monkeypatch.setattr(_persistence, "MAX_FILE_BYTES", 1000)
    with pytest.raises(ValueError, match=r"holds \d+ bytes, more than the 1000"):
        load(model_file)
    with open(model_file, "rb") as file, pytest.raises(ValueError, match="more than the 1000"):
        load(file)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_devices_and_fifos_are_refused_without_reading(tmp_path):
    with pytest.raises(ValueError, match="is a character device; load reads models from"):
        load("/dev/zero")
    with open("/dev/zero", "rb") as file, pytest.raises(ValueError, match="character device"):
        load(file)
    os.mkfifo(tmp_path / "fifo")  # opening it for reading alone would wait for a writer
    with pytest.raises(ValueError, match=r"is a FIFO \(named pipe\); load reads"):
        load(tmp_path / "fifo")


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(ValueError, match="is a directory; load reads"):
        load(tmp_path)


@pytest.mark.parametrize("case, match", [
    ("'<U400000000' string array", r"string arrays would take more than"),
    ("huge widths in the module config", r"weights do not fit"),
    ("huge widths and _n_columns=3e7 (format 1)", r"weights do not fit"),
    ("_n_columns=3e7", r"_n_columns is 30000000, the model has 4"),
    ("450,000 short strings (3.6 MB header)", r"feature_names_in_ does not name"),
    ("half a million empty lists in the header", r"more than 262144 JSON lists"),
    ("100,000 nested lists", r"not valid JSON"),
    ("2**31-element tensor in the manifest", r"do not match the manifest"),
    ("2**31-element tensor in the safetensors index", r"claims bytes the file does not"),
    ("zip member claiming 2 GiB", r"members claim \d+ bytes, more than the file's"),
    ("200 MB of zeros, deflated", r"tensors.safetensors is compressed.*decompression bomb"),
])
def test_each_tampered_file_gets_a_message_that_says_what_is_wrong(model_file, tmp_path,
                                                                   case, match):
    path = _tampered_files(model_file, tmp_path)[case]
    with pytest.raises(ValueError, match=match):
        load(path)


def _edit_header(model_file, tmp_path, edit):
    return _edited(model_file, tmp_path / "edited.skvae", edit)


@pytest.mark.parametrize("edit, match", [
    (lambda h: h["attributes"].update({"_device": {"type": "device", "value": "meta"}}),
     r"'meta' is not a device skvae can compute on"),
    (lambda h: h["attributes"].update({"_device": "cpu"}), r"_device\) is not a torch device"),
    (lambda h: h["params"].update({"device": "xla"}), r"device='xla' is not a device"),
    (lambda h: h["attributes"].update({"extra_": 1}),
     r"'extra_' is not a fitted attribute of VAETransformer"),
    (lambda h: h["attributes"].update({"n_features_in_": 5}),
     r"n_features_in_ is 5, the model reads 4 columns"),
    (lambda h: h["attributes"].update({"feature_names_in_": {
        "type": "ndarray_object", "shape": [3], "values": ["a", "b", "c"]}}),
     r"feature_names_in_ does not name the model's 4 columns"),
    (lambda h: h["attributes"].update({"feature_names_in_": {
        "type": "ndarray_str", "dtype": "<U1", "shape": [4], "values": ["a", "b", "c", "dd"]}}),
     r"'<U1' is narrower than its longest value"),
    (lambda h: h["attributes"].update({"feature_names_in_": {
        "type": "ndarray_str", "dtype": "<S4", "shape": [1], "values": ["a"]}}),
     r"bad string dtype '<S4'"),
    (lambda h: h["attributes"].update({"classes_": {
        "type": "ndarray_object", "shape": [2], "values": [0, 1]}}),
     r"'classes_' is not a fitted attribute of VAETransformer"),
])
def test_fitted_state_that_disagrees_with_the_model_is_refused(model_file, tmp_path, edit,
                                                               match):
    with pytest.raises(ValueError, match=match):
        load(_edit_header(model_file, tmp_path, edit))


@pytest.fixture(scope="module")
def conditional_file(tmp_path_factory):
    X = np.random.RandomState(0).normal(size=(60, 4))
    path = tmp_path_factory.mktemp("conditional") / "model.skvae"
    save(VAEGenerator(**FAST).fit(X, np.arange(60) % 2), path)
    return path


def _set_array(header, name, values):
    node = header["attributes"][name]
    key = node["tensor"]
    header["attributes"][name] = {"type": "ndarray_object", "shape": [len(values)],
                                  "values": values}
    header["tensors"]["manifest"].pop(key)
    return key


@pytest.mark.parametrize("name, values, match", [
    ("classes_", [0, 1, 2], r"classes_ does not hold the model's 2 classes"),
    ("class_prior_", [0.5, 0.6], r"class_prior_ is not a distribution over 2 classes"),
])
def test_classes_that_disagree_with_the_model_are_refused(conditional_file, tmp_path, name,
                                                         values, match):
    members = _members(conditional_file)
    header = json.loads(members["skvae.json"])
    key = _set_array(header, name, values)
    tensors = safetensors_torch.load(members["tensors.safetensors"])
    tensors.pop(key)
    path = _write(tmp_path / "classes.skvae", header, safetensors_torch.save(tensors))
    with pytest.raises(ValueError, match=match):
        load(path)


def test_a_header_load_would_refuse_is_never_written(model_file, monkeypatch, tmp_path):
    est = load(model_file)
    monkeypatch.setattr(_persistence, "_MAX_HEADER_BYTES", 100)
    with pytest.raises(ValueError, match="Cannot save: the header is larger than 100"):
        save(est, tmp_path / "m.skvae")
    assert not (tmp_path / "m.skvae").exists()


# ------------------------------------------------------- the torch fallback
@pytest.fixture
def torch_file(model_file, tmp_path, monkeypatch):
    est = load(model_file)
    monkeypatch.setattr(_persistence, "_import_safetensors", lambda: None)
    with pytest.warns(UserWarning, match=r"allow_torch_format=True"):
        save(est, tmp_path / "torch.skvae")
    monkeypatch.undo()
    return tmp_path / "torch.skvae"


def test_torch_format_is_read_only_when_allowed(torch_file, model_file):
    with pytest.raises(ValueError, match=r"written with torch.save .*allow_torch_format=True"):
        load(torch_file)
    loaded, honest = load(torch_file, allow_torch_format=True), load(model_file)
    X = pd.DataFrame(np.random.RandomState(1).normal(size=(5, 4)), columns=list("abcd"))
    assert np.array_equal(loaded.transform(X), honest.transform(X))


def test_legacy_torch_format_is_refused_even_when_allowed(torch_file, tmp_path):
    members = _members(torch_file)
    tensors = torch.load(io.BytesIO(members["tensors.pt"]), weights_only=True)
    buffer = io.BytesIO()
    torch.save(tensors, buffer, _use_new_zipfile_serialization=False)
    path = tmp_path / "legacy.skvae"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("skvae.json", members["skvae.json"])
        archive.writestr("tensors.pt", buffer.getvalue())
    with pytest.raises(ValueError, match="not in torch's zip format"):
        load(path, allow_torch_format=True)


# ------------------------------------------------- the fitted attributes
def _table(n=60):
    rng = np.random.RandomState(0)
    return pd.DataFrame({"x": rng.normal(size=n), "count": rng.poisson(3, n),
                         "city": pd.Categorical(rng.choice(["a", "b", "c"], n)),
                         "flag": rng.rand(n) > 0.5})


def _fitted_models():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 4))
    y = np.arange(60) % 3
    y_semi = np.where(rng.rand(60) < 0.5, -1, y)
    frame = pd.DataFrame(X, columns=list("abcd"))
    return {
        "VAETransformer": (VAETransformer(**FAST).fit(X), X, None),
        "VAETransformer on a DataFrame, pandas output": (
            VAETransformer(**FAST).set_output(transform="pandas").fit(frame), frame, None),
        "VAETransformer, early stopping, partial_fit": (
            VAETransformer(**FAST, early_stopping=True).fit(X).set_params(
                early_stopping=False).partial_fit(X), X, None),
        "VAEGenerator": (VAEGenerator(**FAST).fit(X), X, None),
        "VAEGenerator on a table": (VAEGenerator(**FAST).fit(_table()), _table(), None),
        "conditional VAEGenerator": (VAEGenerator(**FAST).fit(X, y), X, y),
        "conditional VAEGenerator on a table": (
            VAEGenerator(**FAST).fit(_table(), np.array(["u", "v"] * 30)), _table(),
            np.array(["u", "v"] * 30)),
        "VAEClassifier": (VAEClassifier(**FAST).fit(X, y_semi), X, y_semi),
        "VAEClassifier, string labels": (
            VAEClassifier(**FAST).fit(X, np.array(["p", "q", "r"])[y]), X, None),
        "VAEGAN": (VAEGAN(**FAST).fit(X), X, None),
        "CVAEGAN": (CVAEGAN(**FAST).fit(X, y), X, y),
        "VAETransformer, conv network": (
            VAETransformer(**FAST, network=ConvNetwork(channels=(2,))).fit(X), X, None),
    }


@pytest.fixture(scope="module")
def fitted_models():
    return _fitted_models()


MODELS = ["VAETransformer", "VAETransformer on a DataFrame, pandas output",
          "VAETransformer, early stopping, partial_fit", "VAEGenerator",
          "VAEGenerator on a table", "conditional VAEGenerator",
          "conditional VAEGenerator on a table", "VAEClassifier",
          "VAEClassifier, string labels", "VAEGAN", "CVAEGAN",
          "VAETransformer, conv network"]


def test_the_list_of_models_is_complete(fitted_models):
    assert sorted(fitted_models) == sorted(MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_every_fitted_attribute_is_known_and_round_trips(fitted_models, name, tmp_path):
    est, X, y = fitted_models[name]
    params = set(est.get_params(deep=False))
    missing = set(vars(est)) - params - type(est)._fitted_attributes
    assert not missing, f"{type(est).__name__}._fitted_attributes lacks {missing}"
    save(est, tmp_path / "m.skvae")
    loaded = load(tmp_path / "m.skvae")
    assert set(vars(loaded)) == set(vars(est))
    if isinstance(est, VAEClassifier):
        assert np.array_equal(loaded.predict_proba(X), est.predict_proba(X))
        return
    out, expected = loaded.transform(X), est.transform(X)
    assert np.array_equal(np.asarray(out), np.asarray(expected))
    if y is None:
        sampled, expected = loaded.sample(4, random_state=0), est.sample(4, random_state=0)
    else:
        sampled, expected = (loaded.sample(4, y=y[:4], random_state=0)[0],
                             est.sample(4, y=y[:4], random_state=0)[0])
    if isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(sampled, expected)
    else:
        assert np.array_equal(sampled, expected)


def test_save_refuses_an_attribute_load_would_refuse(tmp_path):
    est = VAETransformer(**FAST).fit(np.random.RandomState(0).normal(size=(30, 3)))
    est.extra_ = 1
    with pytest.raises(ValueError, match=r"Cannot save 'extra_': it is not a fitted attribute"):
        save(est, tmp_path / "m.skvae")
    assert not (tmp_path / "m.skvae").exists()
