"""Throw every kind of bad input at every public entry point of skvae, and record what
happens: the exception type and message, or that the input is accepted.

Run by the docs build (``.. skvae-bad-inputs::`` in ``bad_input.rst``), so the table
on that page is whatever this skvae does. The script fails (exit status 1, listing the
cases) when any input gets anything but a ValueError or TypeError (an OSError for a
file that is not there), an exception raised from inside torch, a fitted model or a
result with NaN or infinite values, or a failed ``fit``/``partial_fit`` that changed a
fitted model.

    python bad_inputs.py          a plain-text summary
    python bad_inputs.py --json   the table as JSON (what the docs build reads)

``tests/test_bad_input.py`` runs :func:`run` and checks :func:`problems` as well.
"""

# License: BSD 3 clause

import contextlib
import io
import json
import os
import pickle
import sys
import tempfile
import traceback
import warnings
import zipfile

import numpy as np
import pandas as pd
import torch
from scipy import sparse

from skvae import VAEClassifier, VAEGenerator, VAETransformer, load, save
from skvae.cli import main as cli

#: Small, fast estimators: the point is the validation, not the fit.
TINY = dict(hidden_layer_sizes=(4,), max_iter=1, device="cpu", random_state=0)

#: Messages longer than this are cut in the table.
MAX_MESSAGE = 420

rng = np.random.RandomState(0)
X = rng.normal(size=(30, 3))
Y = np.arange(30) % 2
COUNTS = rng.poisson(3.0, size=(30, 3)).astype(float)
BINARY = (rng.rand(30, 3) > 0.5).astype(float)
TABLE = pd.DataFrame({"age": rng.normal(40, 10, 30), "n": rng.poisson(3, 30),
                      "city": pd.Categorical(rng.choice(["a", "b", "c"], 30))})


def _with(array, row, column, value, dtype=None):
    out = np.array(array, dtype=dtype if dtype is not None else np.asarray(array).dtype)
    out[row, column] = value
    return out


def _table_with(column, row, value):
    out = TABLE.copy()
    out[column] = out[column].astype(object)
    out.loc[row, column] = value
    return out


# ------------------------------------------------------------------ the inputs
# (label, value) pairs; a value is what the method receives as X.
DATA_INPUTS = [
    ("NaN in X", _with(X, 2, 1, np.nan)),
    ("infinity in X", _with(X, 4, 0, -np.inf)),
    ("complex X", X.astype(complex)),
    ("string in a numeric column", _with(X, 1, 2, "abc", dtype=object)),
    ("sparse matrix", sparse.csr_matrix(X)),
    ("empty array, shape (0, 3)", np.empty((0, 3))),
    ("no columns, shape (30, 0)", np.empty((30, 0))),
    ("1-D array", X[:, 0]),
    ("one sample", X[:1]),
    ("one feature", X[:, :1]),
    ("huge values, 1e300", X * 1e300),
    ("values near the float64 maximum, 1.7e308", np.clip(X, -1, 1) * 1.7e308),
    ("huge float32 values, 1e30", (X * 1e30).astype(np.float32)),
    ("values near the float32 maximum, 3e38", (np.clip(X, -1, 1) * 3e38).astype(np.float32)),
    ("tiny values, 1e-300", X * 1e-300),
    ("constant columns", np.ones((30, 3))),
]

#: Inputs that only make sense once a model is fitted on 3 columns.
TRANSFORM_INPUTS = [
    ("wrong feature count (4 columns)", np.hstack([X, X[:, :1]])),
]

LATENT_INPUTS = [
    ("NaN in the latent rows", _with(np.zeros((3, 2)), 0, 1, np.nan)),
    ("infinity in the latent rows", _with(np.zeros((3, 2)), 1, 0, np.inf)),
    ("complex latent rows", np.zeros((3, 2), dtype=complex)),
    ("wrong latent width (3)", np.zeros((3, 3))),
    ("1-D latent row", np.zeros(2)),
    ("empty latent array", np.empty((0, 2))),
    ("huge latent values, 1e300", np.full((3, 2), 1e300)),
    ("huge float32 latent values, 1e38", np.full((3, 2), 1e38, dtype=np.float32)),
]

#: Parameters no fit can use: (label, set_params arguments).
PARAMETER_INPUTS = [
    ("device='meta'", dict(device="meta")),
    ("device='xla'", dict(device="xla")),
    ("device='lazy'", dict(device="lazy")),
    ("n_components=True", dict(n_components=True)),
    ("hidden_layer_sizes=(True,)", dict(hidden_layer_sizes=(True,))),
]

COUNT_INPUTS = [("n_samples=0", 0), ("n_samples=-1", -1), ("n_samples=2.5", 2.5),
                ("n_samples='3'", "3"), ("n_samples=True", True), ("n_samples=None", None)]


# --------------------------------------------------------------- bookkeeping
RECORDS = []
PROBLEMS = []


def _innermost_file(exc):
    frames = traceback.extract_tb(exc.__traceback__)
    return frames[-1].filename if frames else ""


def _from_torch(exc):
    """True when a frame of torch's own code is on the exception's way."""
    for frame in traceback.extract_tb(exc.__traceback__):
        if "torch" in frame.filename.replace("\\", "/").split("/"):
            return True
    return False


def _short(message):
    text = " ".join(str(message).split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "\u2026"


def _non_finite_model(estimator):
    module = getattr(estimator, "module_", None)
    if module is None:
        return None
    for name, tensor in module.state_dict().items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            return f"weight {name} is not finite"
    standardizer = getattr(estimator, "_standardizer", None)
    for name in ("loc", "scale"):
        value = getattr(standardizer, name, None)
        if value is not None and not np.isfinite(value).all():
            return f"the standardisation's {name} is not finite"
    return None


def _non_finite_result(result, table):
    """A description of the NaN/infinite values in a result, or None."""
    if isinstance(result, tuple):
        for part in result:
            found = _non_finite_result(part, table)
            if found:
                return found
        return None
    if isinstance(result, pd.DataFrame):
        numeric = result.select_dtypes("number").to_numpy(dtype=np.float64)
        # A table model reproduces missing values (NaN) on purpose; never infinity.
        bad = np.isinf(numeric) if table else ~np.isfinite(numeric)
        return "the result holds non-finite values" if bad.any() else None
    if isinstance(result, np.ndarray) and result.dtype.kind == "f":
        return None if np.isfinite(result).all() else "the result holds NaN or infinity"
    if isinstance(result, float):
        return None if np.isfinite(result) else f"the result is {result}"
    return None


def _describe(result):
    if hasattr(result, "module_"):
        return "accepted: the fitted model is finite"
    if isinstance(result, tuple):
        return "accepted: " + ", ".join(_describe(part).removeprefix("accepted: ")
                                         for part in result)
    if isinstance(result, pd.DataFrame):
        return f"accepted: a DataFrame of shape {result.shape}"
    if isinstance(result, np.ndarray):
        return f"accepted: finite {result.dtype} of shape {result.shape}"
    if isinstance(result, float):
        return "accepted: a finite float"
    return "accepted"


def attempt(case, where, method, call, *, table=False, fitted=None):
    """Run ``call()``; record its outcome for ``case`` at ``where``.``method``.

    ``fitted``: the fitted estimator a failing fit/partial_fit must leave unchanged.
    """
    before = dict(vars(fitted)) if fitted is not None else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", message="Stochastic optimizer")
        try:
            result = call()
        except Exception as exc:  # noqa: BLE001 - recording is the point
            kind = type(exc).__name__
            ok_type = isinstance(exc, (ValueError, TypeError)) or (
                isinstance(exc, OSError) and where == "skvae.load")
            if not ok_type:
                PROBLEMS.append(f"{case} / {where}.{method}: {kind} is not a "
                                f"ValueError or TypeError: {exc}")
            if _from_torch(exc):
                PROBLEMS.append(f"{case} / {where}.{method}: raised inside torch "
                                f"({_innermost_file(exc)}): {exc}")
            if fitted is not None:
                after = vars(fitted)
                if after.keys() != before.keys() or any(after[k] is not before[k]
                                                        for k in before):
                    PROBLEMS.append(f"{case} / {where}.{method}: the failed call changed "
                                    "the fitted model")
            RECORDS.append([case, where, method, kind, _short(exc)])
            return None
    bad = _non_finite_model(result) if hasattr(result, "module_") else \
        _non_finite_result(result, table)
    if bad:
        PROBLEMS.append(f"{case} / {where}.{method}: accepted, but {bad}")
    outcome = _describe(result)
    shown = [w for w in caught if not issubclass(w.category, DeprecationWarning)]
    message = "; ".join(dict.fromkeys(f"{w.category.__name__}: {_short(w.message)}"
                                      for w in shown))
    RECORDS.append([case, where, method, outcome, message])
    return result


# --------------------------------------------------------------- estimators
def _fitted(make, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make().fit(*args)


def _check_array_estimator(label, make, data, y=None, likelihood_cases=()):
    """Every input against fit, partial_fit and the methods of a fitted model."""
    fit_args = () if y is None else (y,)
    model = _fitted(make, data, *fit_args)
    for case, params in PARAMETER_INPUTS:
        attempt(case, label, "fit", lambda: make().set_params(**params).fit(data, *fit_args))
    for case, bad in DATA_INPUTS:
        n = bad.shape[0] if hasattr(bad, "shape") and len(bad.shape) else 0
        labels = () if y is None else (Y[:n] if n <= len(Y) else np.resize(Y, n),)
        attempt(case, label, "fit", lambda: make().fit(bad, *labels))
        attempt(case, label, "fit_transform", lambda: make().fit_transform(bad, *labels))
        attempt(case, label, "partial_fit", lambda: make().partial_fit(bad, *labels))
        refit, more = _clone(model), _clone(model)
        attempt(case, label, "fit (fitted model)", lambda: refit.fit(bad, *labels),
                fitted=refit)
        attempt(case, label, "partial_fit (fitted model)",
                lambda: more.partial_fit(bad, *labels), fitted=more)
    for case, bad in DATA_INPUTS + TRANSFORM_INPUTS:
        for method in _data_methods(model):
            attempt(case, label, method, _bound(model, method, bad))
    for case, bad in LATENT_INPUTS:
        if hasattr(model, "inverse_transform"):
            attempt(case, label, "inverse_transform", lambda: model.inverse_transform(bad))
    for case, n in COUNT_INPUTS:
        if hasattr(model, "sample"):
            attempt(case, label, "sample", lambda: model.sample(n))
        if hasattr(model, "log_likelihood") and not hasattr(model, "classes_"):
            attempt(case, label, "log_likelihood", lambda: model.log_likelihood(data, n))
    for case, likelihood, train, bad in likelihood_cases:
        def make_with():
            return make().set_params(likelihood=likelihood)
        attempt(case, label, "fit", lambda: make_with().fit(bad, *fit_args))
        good = _fitted(make_with, train, *fit_args)
        for method in _data_methods(good):
            attempt(case, label, method, _bound(good, method, bad))


def _clone(model):
    import copy

    return copy.deepcopy(model)


def _data_methods(model):
    if isinstance(model, VAEClassifier):
        return ["transform", "predict", "predict_proba", "predict_log_proba"]
    methods = ["transform", "score_samples", "score"]
    if not hasattr(model, "classes_"):
        methods.append("log_likelihood")
    return methods


def _bound(model, method, bad):
    if method == "log_likelihood":
        return lambda: model.log_likelihood(bad, n_samples=4)
    return lambda: getattr(model, method)(bad)


LIKELIHOOD_CASES = [
    ("negative counts, likelihood='poisson'", "poisson", COUNTS, _with(COUNTS, 3, 1, -2.0)),
    ("non-integer counts, likelihood='poisson'", "poisson", COUNTS, _with(COUNTS, 0, 0, 2.5)),
    ("huge counts, 1e300, likelihood='poisson'", "poisson", COUNTS, COUNTS * 1e300),
    ("2.0 for likelihood='bernoulli'", "bernoulli", BINARY, _with(BINARY, 5, 2, 2.0)),
    ("1.0 for likelihood='beta' (support is (0, 1))", "beta", np.clip(BINARY, 0.1, 0.9),
     _with(np.clip(BINARY, 0.1, 0.9), 0, 0, 1.0)),
]


def transformer_cases():
    def make():
        return VAETransformer(**TINY)

    _check_array_estimator("VAETransformer", make, X, likelihood_cases=LIKELIHOOD_CASES)
    # Column names: fitted on a DataFrame, given other names or none.
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    model = _fitted(make, frame)
    renamed = frame.rename(columns={"c": "z"})
    for method in ("transform", "score_samples"):
        attempt("wrong column names at transform", "VAETransformer", method,
                _bound(model, method, renamed))
        attempt("array without column names, fitted on a DataFrame", "VAETransformer",
                method, _bound(model, method, X))
    attempt("string column in a DataFrame", "VAETransformer", "fit",
            lambda: make().fit(frame.assign(b=["x"] * 30)))
    attempt("bool column beside a categorical column of strings", "VAETransformer", "fit",
            lambda: make().fit(frame.assign(flag=X[:, 0] > 0,
                                            c=pd.Categorical(["a"] * 30))))
    attempt("datetime column in a DataFrame", "VAETransformer", "fit",
            lambda: make().fit(frame.assign(when=pd.date_range("2020-01-01", periods=30))))
    latent = pd.DataFrame(model.transform(frame))
    attempt("latent rows as a DataFrame", "VAETransformer", "inverse_transform",
            lambda: model.inverse_transform(latent))


def generator_array_cases():
    def make():
        return VAEGenerator(**TINY)

    _check_array_estimator("VAEGenerator (array)", make, X,
                           likelihood_cases=LIKELIHOOD_CASES[:2])
    where = "VAEGenerator (array)"
    for case, y in [("y with NaN", _with(Y[:, None].astype(float), 3, 0, np.nan)[:, 0]),
                    ("y with None", np.array([None, *Y[1:]], dtype=object)),
                    ("y mixing strings and numbers", np.array(["a", *Y[1:]], dtype=object)),
                    ("continuous y", rng.normal(size=30)),
                    ("y of the wrong length", Y[:10]),
                    ("2-D y", np.c_[Y, Y])]:
        attempt(case, where, "fit", lambda: make().fit(X, y))
    conditional = _fitted(make, X, Y)
    unconditional = _fitted(make, X)
    attempt("labels not seen in fit", where, "transform",
            lambda: conditional.transform(X, np.full(30, 7)))
    attempt("labels not seen in fit", where, "sample", lambda: conditional.sample(2, y=[0, 7]))
    attempt("y of the wrong length", where, "sample", lambda: conditional.sample(3, y=[0, 1]))
    attempt("y for a model fitted without y", where, "transform",
            lambda: unconditional.transform(X, Y))
    attempt("y for a model fitted without y", where, "sample",
            lambda: unconditional.sample(2, y=[0, 1]))
    attempt("one label for every row drawn, y=1", where, "sample",
            lambda: conditional.sample(3, y=1))
    attempt("no y for a model fitted with y", where, "partial_fit",
            lambda: _clone(conditional).partial_fit(X))
    attempt("log_likelihood of a model fitted with y", where, "log_likelihood",
            lambda: conditional.log_likelihood(X, n_samples=4))


def generator_table_cases():
    def make():
        return VAEGenerator(**TINY)

    where = "VAEGenerator (DataFrame)"
    model = _fitted(make, TABLE)
    fit_cases = [
        ("NaN / None in the table (modelled as missing)", _table_with("age", 2, None)),
        ("infinity in a numeric column", TABLE.assign(age=TABLE.age.where(
            TABLE.index != 4, np.inf))),
        ("complex column", TABLE.assign(age=TABLE.age.astype(complex))),
        ("strings in a numeric column (modelled as categories)",
         _table_with("age", 1, "abc")),
        ("empty table, 0 rows", TABLE.iloc[:0]),
        ("table without columns", TABLE.iloc[:, :0]),
        ("one row", TABLE.iloc[:1]),
        ("one column", TABLE[["age"]]),
        ("a column with no observed values", TABLE.assign(age=np.nan)),
        ("huge values, 1e300", TABLE.assign(age=TABLE.age * 1e300)),
        ("constant columns", TABLE.assign(age=1.0, n=3)),
        ("negative counts, likelihood={'n': 'poisson'}", TABLE.assign(n=TABLE.n - 5)),
    ]
    for case, frame in fit_cases:
        if "poisson" in case:
            attempt(case, where, "fit",
                    lambda: make().set_params(likelihood={"n": "poisson"}).fit(frame))
            continue
        fitted = attempt(case, where, "fit", lambda: make().fit(frame))
        if fitted is not None:
            attempt(case, where, "sample", lambda: fitted.sample(5, random_state=0),
                    table=True)
    refit = _clone(model)
    attempt("infinity in a numeric column", where, "fit (fitted model)",
            lambda: refit.fit(fit_cases[1][1]), fitted=refit)
    transform_cases = [
        ("NaN / None in the table (modelled as missing)", _table_with("age", 2, None)),
        ("infinity in a numeric column", fit_cases[1][1]),
        ("complex column", fit_cases[2][1]),
        ("string in a numeric column", _table_with("age", 1, "abc")),
        ("category not seen in fit", _table_with("city", 0, "zzz")),
        ("wrong column names", TABLE.rename(columns={"age": "AGE"})),
        ("a column missing", TABLE[["age", "city"]]),
        ("an extra column", TABLE.assign(extra=1.0)),
        ("negative value in a count column", TABLE.assign(n=TABLE.n - 5)),
        ("empty table, 0 rows", TABLE.iloc[:0]),
        ("sparse matrix", sparse.csr_matrix(np.ones((2, 3)))),
        ("1-D array", np.zeros(3)),
        ("huge values, 1e300", TABLE.assign(age=TABLE.age * 1e300)),
    ]
    for case, frame in transform_cases:
        for method in ("transform", "score_samples", "log_likelihood"):
            attempt(case, where, method, _bound(model, method, frame), table=True)
    for case, bad in LATENT_INPUTS[:4] + LATENT_INPUTS[6:7]:
        attempt(case, where, "inverse_transform", lambda: model.inverse_transform(bad),
                table=True)
    for case, n in COUNT_INPUTS:
        attempt(case, where, "sample", lambda: model.sample(n))


def classifier_cases():
    def make():
        return VAEClassifier(**TINY)

    where = "VAEClassifier"
    _check_array_estimator(where, make, X, y=Y,
                           likelihood_cases=[LIKELIHOOD_CASES[0], LIKELIHOOD_CASES[3]])
    for case, y in [("y with NaN", _with(Y[:, None].astype(float), 3, 0, np.nan)[:, 0]),
                    ("y with None", np.array([None, *Y[1:]], dtype=object)),
                    ("y mixing strings and numbers", np.array(["a", *Y[1:]], dtype=object)),
                    ("continuous y", rng.normal(size=30)),
                    ("y of the wrong length", Y[:10]),
                    ("2-D y", np.c_[Y, Y]),
                    ("no y", None),
                    ("every row unlabeled (-1)", np.full(30, -1)),
                    ("string labels holding '-1'", np.where(Y == 1, "cat", "-1")),
                    ("the string '-1' in an object array of labels",
                     np.where(Y == 1, "cat", "-1").astype(object)),
                    ("a single class", np.zeros(30, dtype=int))]:
        attempt(case, where, "fit", lambda: make().fit(X, y))
    model = _fitted(make, X, Y)
    attempt("labels not in classes_", where, "partial_fit",
            lambda: _clone(model).partial_fit(X, np.full(30, 5)))
    attempt("y of the wrong length", where, "score", lambda: model.score(X, Y[:10]))


# ---------------------------------------------------------------------- files
def load_cases(folder):
    where = "skvae.load"
    model = _fitted(lambda: VAETransformer(**TINY), X)
    save(model, "model.skvae")
    data = open("model.skvae", "rb").read()
    open("empty.skvae", "wb").close()
    with open("truncated.skvae", "wb") as file:
        file.write(data[: len(data) // 2])
    with open("model.pkl", "wb") as file:
        pickle.dump(model, file)
    torch.save({"weight": torch.zeros(2)}, "weights.pt")
    header, tensors = _unzip("model.skvae")
    _rezip("foreign_class.skvae", {**header, "class": "os.system"}, tensors)
    key = next(k for k in sorted(tensors) if k.startswith("module_/"))
    _rezip("nan_weights.skvae", header,
           {**tensors, key: torch.full_like(tensors[key], float("nan"))})
    _rezip("wide_strings.skvae", _with_attribute(header, "feature_names_in_", {
        "type": "ndarray_str", "dtype": "<U400000000", "shape": [1], "values": ["a"]}),
        tensors)
    _rezip("meta_device.skvae", _with_attribute(header, "_device", {
        "type": "device", "value": "meta"}), tensors)
    _rezip("extra_attribute.skvae", _with_attribute(header, "extra_", 1), tensors)
    manifest = json.loads(json.dumps(header))
    manifest["tensors"]["manifest"][key]["shape"] = [2**31]
    _rezip("huge_manifest.skvae", manifest, tensors)
    _rezip("torch_format.skvae", {**header, "tensors": {**header["tensors"],
                                                        "format": "torch"}}, tensors)
    os.mkdir("a_folder")
    cases = [
        ("no such file", "missing.skvae"),
        ("a folder", "a_folder"),
        ("a device, /dev/zero", "/dev/zero"),
        ("a string array of dtype '<U400000000' (a tampered file)", "wide_strings.skvae"),
        ("_device='meta' (a tampered file)", "meta_device.skvae"),
        ("an attribute the class does not have (a tampered file)", "extra_attribute.skvae"),
        ("a 2**31-element tensor in the manifest (a tampered file)", "huge_manifest.skvae"),
        ("tensors written by torch.save, without allow_torch_format=True",
         "torch_format.skvae"),
        ("an empty file", "empty.skvae"),
        ("a truncated model file", "truncated.skvae"),
        ("a pickle", "model.pkl"),
        ("a torch.save file", "weights.pt"),
        ("a header naming another class", "foreign_class.skvae"),
        ("NaN weights (a tampered file)", "nan_weights.skvae"),
        ("None instead of a path", None),
        ("a number instead of a path", 3),
        ("the file's bytes instead of a path", data),
    ]
    for case, path in cases:
        attempt(case, where, "load", lambda: load(path))
    with open("model.skvae") as text:
        attempt("a file opened in text mode", where, "load", lambda: load(text))


def _with_attribute(header, name, node):
    return {**header, "attributes": {**header["attributes"], name: node}}


def _unzip(name):
    """The header and tensors of a model file (safetensors, or the torch fallback)."""
    with zipfile.ZipFile(name) as archive:
        header = json.loads(archive.read("skvae.json"))
        if header["tensors"]["format"] == "safetensors":
            import safetensors.torch

            return header, safetensors.torch.load(archive.read("tensors.safetensors"))
        data = io.BytesIO(archive.read("tensors.pt"))
        return header, torch.load(data, weights_only=True)


def _rezip(name, header, tensors):
    with zipfile.ZipFile(name, "w") as archive:
        archive.writestr("skvae.json", json.dumps(header))
        if header["tensors"]["format"] == "safetensors":
            import safetensors.torch

            archive.writestr("tensors.safetensors", safetensors.torch.save(tensors))
        else:
            buffer = io.BytesIO()
            torch.save(tensors, buffer)
            archive.writestr("tensors.pt", buffer.getvalue())


def cli_cases():
    where = "skvae (command line)"
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame.to_csv("good.csv", index=False)
    frame.iloc[:, :1].to_csv("one_column.csv", index=False)
    tables = {
        "NaN in X (an empty cell)": frame.assign(b=frame.b.where(frame.index != 2)),
        "infinity in X": frame.assign(b=frame.b.where(frame.index != 2, np.inf)),
        "string in a numeric column": frame.assign(c=frame.c.astype(object).where(
            frame.index != 1, "abc")),
        "complex X": frame.assign(a=frame.a.astype(complex)),
        "one sample": frame.iloc[:1],
        "huge values, 1e300": frame * 1e300,
        "constant columns": frame * 0 + 1,
    }
    tables["NaN in X (an empty cell)"].to_csv("nan.csv", index=False)
    for case, table in tables.items():
        table.to_csv("bad.csv", index=False)
        _cli(case, where, ["fit", "bad.csv", "-o", "out.skvae", "--max-iter", "1",
                           "--hidden-layer-sizes", "4", "--device", "cpu"])
    open("empty.csv", "w").close()
    with open("header_only.csv", "w") as file:
        file.write("a,b,c\n")
    pd.DataFrame(_with(COUNTS, 3, 1, -2.0), columns=list("abc")).to_csv("counts.csv",
                                                                       index=False)
    for case, argv in [
        ("empty file", ["fit", "empty.csv", "-o", "out.skvae"]),
        ("header only, no rows", ["fit", "header_only.csv", "-o", "out.skvae"]),
        ("no such file", ["fit", "missing.csv", "-o", "out.skvae"]),
        ("unknown table format", ["fit", "good.txt", "-o", "out.skvae"]),
        ("negative counts, --likelihood poisson",
         ["fit", "counts.csv", "-o", "out.skvae", "--likelihood", "poisson",
          "--max-iter", "1"]),
        ("--columns naming no column", ["fit", "good.csv", "-o", "out.skvae", "--columns",
                                        "a,zz"]),
        ("--max-iter 0", ["fit", "good.csv", "-o", "out.skvae", "--max-iter", "0"]),
    ]:
        _cli(case, where, argv)
    _cli("setup: a model to use below", where,
         ["fit", "good.csv", "-o", "model.skvae", "--max-iter", "1",
          "--hidden-layer-sizes", "4", "--device", "cpu", "--random-state", "0"])
    RECORDS.pop()  # the setup call is not a case
    for case, argv in [
        ("wrong column names at transform", ["transform", "model.skvae", "one_column.csv"]),
        ("NaN in X (an empty cell)", ["score", "model.skvae", "nan.csv"]),
        ("not a model file", ["transform", "good.csv", "good.csv"]),
        ("n_samples=0", ["sample", "model.skvae", "-n", "0"]),
        ("n_samples=2.5", ["sample", "model.skvae", "-n", "2.5"]),
    ]:
        _cli(case, where, argv)


def _cli(case, where, argv):
    """Run the command line in-process; record its exit status and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli(argv)
        except BaseException as exc:  # noqa: BLE001 - a crash is what we look for
            PROBLEMS.append(f"{case} / skvae {argv[0]}: crashed with {exc!r}")
            status = None
    lines = [line for line in err.getvalue().splitlines() if line.strip()]
    if status == 1 and len(lines) != 1:
        PROBLEMS.append(f"{case} / skvae {argv[0]}: an error in {len(lines)} lines")
    if any("Traceback" in line for line in lines):
        PROBLEMS.append(f"{case} / skvae {argv[0]}: printed a traceback")
    outcome = "accepted (exit 0)" if status == 0 else f"exit {status}"
    RECORDS.append([case, where, argv[0], outcome, _short(lines[-1]) if lines else ""])


# ------------------------------------------------------------------------ run
def run():
    """Run every case; return the records ``[input, where, method, outcome, message]``."""
    RECORDS.clear()
    PROBLEMS.clear()
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        try:
            transformer_cases()
            generator_array_cases()
            generator_table_cases()
            classifier_cases()
            load_cases(folder)
            cli_cases()
        finally:
            os.chdir(here)
    return list(RECORDS)


def problems():
    """What the last :func:`run` found wrong (empty when every case is handled)."""
    return list(PROBLEMS)


def table(records):
    """Rows ``[input, where, methods, outcome, message]``: the records with the same
    input, place, outcome and message merged into one row listing the methods."""
    rows, index = [], {}
    for case, where, method, outcome, message in records:
        key = (case, where, outcome, message)
        if key in index:
            rows[index[key]][2].append(method)
        else:
            index[key] = len(rows)
            rows.append([case, where, [method], outcome, message])
    return [[case, where, ", ".join(methods), outcome, message]
            for case, where, methods, outcome, message in rows]


if __name__ == "__main__":
    torch.set_num_threads(1)
    records = run()
    rows = table(records)
    if "--json" in sys.argv[1:]:
        print(json.dumps({"header": ["input", "where", "methods", "outcome", "message"],
                          "rows": rows, "calls": len(records)}))
    else:
        for row in rows:
            print(" | ".join(row))
        print(f"{len(records)} calls, {len(rows)} rows")
    if PROBLEMS:
        print(f"{len(PROBLEMS)} problems:", *PROBLEMS, sep="\n", file=sys.stderr)
        sys.exit(1)
