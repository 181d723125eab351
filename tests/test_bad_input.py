"""Bad input everywhere a user can give it: a clear ValueError/TypeError or a finite result.

Parametrised cases pin the message of each kind of bad input for every estimator,
:func:`skvae.load` and the command line; property-based tests (hypothesis) throw random
shapes, dtypes and values at a tiny VAETransformer; the script behind the table in the
docs (docs/user_guide/code/bad_inputs.py) runs and must find nothing wrong.
"""

import copy
import importlib.util
import io
import json
import os
import pickle
import re
import traceback
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse

from skvae import VAEClassifier, VAEGenerator, VAETransformer, load, save
from skvae.cli import main as cli
from skvae._training import NonFiniteLossError
from skvae._validation import check_weights
from skvae.likelihoods import GaussianLikelihood, _column_moments

pd = pytest.importorskip("pandas")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

TINY = dict(hidden_layer_sizes=(4,), max_iter=1, device="cpu", random_state=0)
ROOT = Path(__file__).resolve().parent.parent

rng = np.random.RandomState(0)
X = rng.normal(size=(30, 3))
Y = np.arange(30) % 2
COUNTS = rng.poisson(3.0, size=(30, 3)).astype(float)
BINARY = (rng.rand(30, 3) > 0.5).astype(float)
TABLE = pd.DataFrame({"age": rng.normal(40, 10, 30), "n": rng.poisson(3, 30),
                      "city": pd.Categorical(rng.choice(["a", "b", "c"], 30))})


def with_value(array, row, column, value, dtype=None):
    out = np.array(array, dtype=dtype if dtype is not None else np.asarray(array).dtype)
    out[row, column] = value
    return out


def assert_not_from_torch(exc):
    """The exception was not raised by torch's code (no frame of it on the way)."""
    frames = traceback.extract_tb(exc.__traceback__)
    assert frames, exc
    for frame in frames:
        parts = frame.filename.replace("\\", "/").split("/")
        assert "torch" not in parts, f"raised inside torch ({frame.filename}): {exc}"


def assert_finite_model(estimator):
    for name, tensor in estimator.module_.state_dict().items():
        if tensor.is_floating_point():
            assert torch.isfinite(tensor).all(), name
    assert np.isfinite(estimator._standardizer.loc).all() and np.isfinite(estimator._standardizer.scale).all()
    assert (estimator._standardizer.scale > 0).all()


def assert_unchanged(estimator, before):
    assert vars(estimator).keys() == before.keys()
    changed = [k for k in before if vars(estimator)[k] is not before[k]]
    assert not changed, changed


@pytest.fixture(scope="module")
def transformer():
    return VAETransformer(**TINY).fit(X)


@pytest.fixture(scope="module")
def generator():
    return VAEGenerator(**TINY).fit(X)


@pytest.fixture(scope="module")
def conditional():
    return VAEGenerator(**TINY).fit(X, Y)


@pytest.fixture(scope="module")
def table_model():
    return VAEGenerator(**TINY).fit(TABLE)


@pytest.fixture(scope="module")
def classifier():
    return VAEClassifier(**TINY).fit(X, Y)


ESTIMATORS = {
    "VAETransformer": lambda: VAETransformer(**TINY),
    "VAEGenerator": lambda: VAEGenerator(**TINY),
    "VAEClassifier": lambda: VAEClassifier(**TINY),
}


def fit(name, data, **params):
    estimator = ESTIMATORS[name]().set_params(**params)
    labels = (np.resize(Y, np.shape(data)[0]),) if name == "VAEClassifier" else ()
    return estimator.fit(data, *labels)


# ------------------------------------------------------------------ parameters
@pytest.mark.parametrize("device", ["meta", "xla", "lazy", torch.device("meta")])
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_devices_skvae_cannot_compute_on_are_refused(name, device):
    with pytest.raises(ValueError, match=r"is not a device skvae can compute on; it accepts "
                                         r"\"auto\", \"cpu\", \"cuda\", \"cuda:N\", \"mps\""):
        fit(name, X, device=device)


@pytest.mark.parametrize("param", ["n_components", "max_iter", "n_iter_no_change",
                                   "batch_size"])
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_a_bool_is_not_a_count(name, param):
    with pytest.raises(ValueError, match=rf"'{param}' parameter .* must be .*an int \(not a "
                                         r"bool\) in the range \[1, inf\)\. Got True"):
        fit(name, X, **{param: True})


@pytest.mark.parametrize("sizes", [(True,), (8, False), [np.True_]])
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_a_bool_is_not_a_layer_size(name, sizes):
    with pytest.raises(ValueError, match=r"hidden_layer_sizes must hold positive integers "
                                         r"\(a bool is not a size\)"):
        fit(name, X, hidden_layer_sizes=sizes)


# ------------------------------------------------------------------ fit input
FIT_CASES = [
    ("nan", with_value(X, 2, 1, np.nan), ValueError,
     r"Input X contains NaN \(first at row 2, column 1\)"),
    ("inf", with_value(X, 4, 0, -np.inf), ValueError,
     r"Input X contains infinity \(first at row 4, column 0: -inf\)"),
    ("complex", X.astype(complex), ValueError, r"Complex data not supported: X holds complex"),
    ("string", with_value(X, 1, 2, "abc", dtype=object), ValueError,
     r"X row 1, column 2 holds 'abc', which is not a number"),
    ("dict", with_value(X, 0, 0, {"a": 1}, dtype=object), TypeError,
     r"argument must be .*X row 0, column 0 holds \{'a': 1\}"),
    ("sparse", sparse.csr_matrix(X), TypeError, r"Sparse data was passed"),
    ("empty", np.empty((0, 3)), ValueError, r"0 sample\(s\)"),
    ("no-columns", np.empty((30, 0)), ValueError, r"0 feature\(s\)"),
    ("1-D", X[:, 0], ValueError,
     r"Expected 2D array, got 1D array instead: X has shape \(30,\)\. Reshape your data"),
    ("one-sample", X[:1], ValueError, r"1 sample\(s\) \(shape=\(1, 3\)\) while a minimum of 2"),
]


@pytest.mark.parametrize("name", list(ESTIMATORS))
@pytest.mark.parametrize("data, error, match", [case[1:] for case in FIT_CASES],
                         ids=[case[0] for case in FIT_CASES])
def test_fit_refuses_bad_x_with_a_clear_message(name, data, error, match):
    with pytest.raises(error, match=match) as info:
        fit(name, data)
    assert_not_from_torch(info.value)


LIKELIHOOD_CASES = [
    ("poisson-negative", "poisson", with_value(COUNTS, 3, 1, -2.0),
     r"likelihood='poisson' needs non-negative integers; column 1 holds -2 \(row 3\)"),
    ("poisson-fraction", "poisson", with_value(COUNTS, 0, 0, 2.5),
     r"poisson.*column 0 holds 2.5 \(row 0\)"),
    ("negative-binomial-negative", "negative_binomial", with_value(COUNTS, 7, 2, -1.0),
     r"negative_binomial.*column 2 holds -1 \(row 7\)"),
    ("bernoulli-2", "bernoulli", with_value(BINARY, 5, 2, 2.0),
     r"likelihood='bernoulli' needs values \[0, 1\]; column 2 holds 2 \(row 5\)"),
    ("beta-1", "beta", with_value(np.clip(BINARY, 0.1, 0.9), 0, 0, 1.0),
     r"beta.*strictly inside \(0, 1\); column 0 holds 1 \(row 0\)"),
    ("poisson-beyond-float32", "poisson", COUNTS * 1e300,
     r"poisson.*counts up to 2\*\*24.*column 0 holds .*e\+300"),
    ("negative-binomial-near-1e30", "negative_binomial", with_value(COUNTS, 4, 1, 1e30),
     r"negative_binomial.*counts up to 2\*\*24.*column 1 holds 1e\+30 \(row 4\)"),
    ("beta-rounds-to-1-in-float32", "beta",
     with_value(np.clip(BINARY, 0.1, 0.9), 2, 1, 1 - 1e-9),
     r"beta.*inside \(0, 1\) in float32.*column 1 holds 1 \(row 2\)"),
]


@pytest.mark.parametrize("name", list(ESTIMATORS))
@pytest.mark.parametrize("likelihood, data, match", [case[1:] for case in LIKELIHOOD_CASES],
                         ids=[case[0] for case in LIKELIHOOD_CASES])
def test_fit_refuses_values_outside_the_likelihoods_support(name, likelihood, data, match):
    with pytest.raises(ValueError, match=match):
        fit(name, data, likelihood=likelihood)


@pytest.mark.parametrize("likelihood, train, bad, match", [
    ("poisson", COUNTS, with_value(COUNTS, 3, 1, -2.0), r"poisson.*column 1 holds -2 \(row 3\)"),
    ("bernoulli", BINARY, with_value(BINARY, 5, 2, 2.0), r"bernoulli.*column 2 holds 2 \(row 5\)"),
])
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_methods_check_the_support_too(name, likelihood, train, bad, match):
    estimator = fit(name, train, likelihood=likelihood)
    methods = (["transform", "predict", "predict_proba"] if name == "VAEClassifier"
               else ["transform", "score_samples", "log_likelihood"])
    for method in methods:
        with pytest.raises(ValueError, match=match):
            getattr(estimator, method)(bad)


# ------------------------------------------------------------ transform input
TRANSFORM_CASES = [
    ("nan", with_value(X, 2, 1, np.nan), ValueError, r"contains NaN \(first at row 2, column 1\)"),
    ("inf", with_value(X, 4, 0, np.inf), ValueError, r"contains infinity \(first at row 4"),
    ("complex", X.astype(complex), ValueError, r"Complex data not supported"),
    ("string", with_value(X, 1, 2, "abc", dtype=object), ValueError, r"row 1, column 2 holds 'abc'"),
    ("sparse", sparse.csr_matrix(X), TypeError, r"Sparse data"),
    ("empty", np.empty((0, 3)), ValueError, r"0 sample\(s\)"),
    ("1-D", X[:, 0], ValueError, r"Expected 2D array"),
    ("feature-count", np.hstack([X, X[:, :1]]), ValueError,
     r"X has 4 features, but \w+ is expecting 3 features"),
    ("one-feature", X[:, :1], ValueError, r"X has 1 features, but \w+ is expecting 3 features"),
    ("beyond-float64", np.clip(X, -1, 1) * 1.7e308, ValueError, r"overflow float64"),
]


@pytest.mark.parametrize("data, error, match", [case[1:] for case in TRANSFORM_CASES],
                         ids=[case[0] for case in TRANSFORM_CASES])
@pytest.mark.parametrize("model, method", [
    ("transformer", "transform"), ("transformer", "score_samples"),
    ("transformer", "score"), ("transformer", "log_likelihood"),
    ("generator", "transform"), ("generator", "score_samples"),
    ("conditional", "transform"), ("conditional", "score_samples"),
    ("classifier", "transform"), ("classifier", "predict"),
    ("classifier", "predict_proba"), ("classifier", "predict_log_proba"),
])
def test_methods_refuse_bad_x_with_a_clear_message(request, model, method, data, error, match):
    estimator = request.getfixturevalue(model)
    with pytest.raises(error, match=match) as info:
        getattr(estimator, method)(data)
    assert_not_from_torch(info.value)


def test_column_names_are_checked_at_transform():
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    estimator = VAETransformer(**TINY).fit(frame)
    with pytest.raises(ValueError, match="feature names should match"):
        estimator.transform(frame.rename(columns={"c": "z"}))
    with pytest.raises(ValueError, match=r"row 0, column 1 \('b'\) holds 'x'"):
        VAETransformer(**TINY).fit(frame.assign(b=["x"] * 30))
    with pytest.raises(ValueError, match=r"NaN \(first at row 3, column 2 \('c'\)\)"):
        estimator.transform(frame.assign(c=np.where(np.arange(30) == 3, np.nan, 1.0)))


@pytest.mark.parametrize("model", ["transformer", "generator", "classifier"])
def test_far_out_float32_rows_raise_instead_of_returning_nan(request, model):
    estimator = request.getfixturevalue(model)
    far = (np.clip(X, -1, 1) * 3e38).astype(np.float32)
    with pytest.raises(ValueError, match=r"non-finite result for row \d+ .*float32.*float64"):
        estimator.transform(far)


@pytest.mark.parametrize("model", ["transformer", "generator"])
def test_unscorable_rows_raise_instead_of_returning_inf(request, model):
    estimator = request.getfixturevalue(model)
    with pytest.raises(ValueError, match=r"score_samples gives a non-finite result for row 0 "
                                         r"\(its largest magnitude is 1.76405e\+300\)"):
        estimator.score_samples(X * 1e300)


# ------------------------------------------------------------- latent input
LATENT_CASES = [
    ("nan", with_value(np.zeros((3, 2)), 0, 1, np.nan), ValueError,
     r"Input X contains NaN \(first at row 0, column 1: nan\)\. \w+\.inverse_transform"),
    ("inf", with_value(np.zeros((3, 2)), 1, 0, np.inf), ValueError, r"contains infinity"),
    ("complex", np.zeros((3, 2), dtype=complex), ValueError, r"Complex data not supported"),
    ("width", np.zeros((3, 3)), ValueError, r"expecting 2 latent components"),
    ("1-D", np.zeros(2), ValueError, r"Expected 2D array"),
    ("empty", np.empty((0, 2)), ValueError, r"0 sample\(s\)"),
    ("sparse", sparse.csr_matrix(np.ones((2, 2))), TypeError, r"Sparse data"),
]


@pytest.mark.parametrize("data, error, match", [case[1:] for case in LATENT_CASES],
                         ids=[case[0] for case in LATENT_CASES])
@pytest.mark.parametrize("model", ["transformer", "generator", "conditional", "table_model"])
def test_inverse_transform_refuses_bad_latent_rows(request, model, data, error, match):
    with pytest.raises(error, match=match):
        request.getfixturevalue(model).inverse_transform(data)


# -------------------------------------------------------------------- counts
BAD_COUNTS = [0, -1, 2.5, "3", True, None, np.float64(3.0)]


@pytest.mark.parametrize("n", BAD_COUNTS, ids=repr)
@pytest.mark.parametrize("model", ["transformer", "generator", "table_model"])
def test_sample_refuses_bad_n_samples(request, model, n):
    with pytest.raises(ValueError, match=r"n_samples must be a positive integer, got "):
        request.getfixturevalue(model).sample(n)


@pytest.mark.parametrize("n", BAD_COUNTS, ids=repr)
def test_log_likelihood_refuses_bad_n_samples(transformer, n):
    with pytest.raises(ValueError, match=r"n_samples must be a positive integer"):
        transformer.log_likelihood(X, n_samples=n)


def test_numpy_integer_counts_are_accepted(transformer):
    assert transformer.sample(np.int64(3), random_state=0).shape == (3, 3)


FRAME = pd.DataFrame(X, columns=["a", "b", "c"])

FRAME_FIT_CASES = [
    ("bool-and-category", FRAME.assign(flag=X[:, 0] > 0, c=pd.Categorical(["a"] * 30)),
     r"X row 0, column 2 \('c'\) holds 'a', which is not a number"),
    ("Int64-and-category", FRAME.assign(n=pd.array(np.arange(30), dtype="Int64"),
                                        c=pd.Categorical(["a"] * 30)),
     r"X row 0, column 2 \('c'\) holds 'a', which is not a number"),
    ("datetime", FRAME.assign(when=pd.date_range("2020-01-01", periods=30)),
     r"X column 3 \('when'\) holds datetime64\[\w+\] values, which are not numbers"),
    ("bool-and-datetime", FRAME.assign(flag=X[:, 0] > 0,
                                       when=pd.date_range("2020-01-01", periods=30)),
     r"X column 4 \('when'\) holds datetime64\[\w+\] values"),
    ("timedelta", FRAME.assign(took=pd.to_timedelta(np.arange(30), unit="s")),
     r"X column 3 \('took'\) holds timedelta64\[\w+\] values"),
]


@pytest.mark.parametrize("frame, match", [case[1:] for case in FRAME_FIT_CASES],
                         ids=[case[0] for case in FRAME_FIT_CASES])
@pytest.mark.parametrize("name", ["VAETransformer", "VAEClassifier"])
def test_dataframe_columns_that_are_not_numbers_are_named(name, frame, match):
    with pytest.raises(ValueError, match=match):
        fit(name, frame)


@pytest.mark.parametrize("name", ["transformer", "generator", "conditional"])
def test_inverse_transform_of_a_dataframe_gives_no_warning(request, name):
    model = request.getfixturevalue(name)
    latent = pd.DataFrame(model.transform(X) if name != "conditional"
                          else model.transform(X, Y))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = model.inverse_transform(latent)
    assert out.shape == X.shape


# -------------------------------------------------------------------- labels
GENERATOR_Y_CASES = [
    ("nan", np.where(np.arange(30) == 3, np.nan, Y), r"y holds nan at row 3"),
    ("none", np.array([None, *Y[1:]], dtype=object), r"y holds None at row 0"),
    ("mixed", np.array(["a", *Y[1:]], dtype=object),
     r"y mixes strings \(row 0: 'a'\) and other values \(row 1: 1\)"),
    ("continuous", np.linspace(0, 1, 30), r"y holds continuous values \(row 1: .*class labels"),
    ("length", Y[:10], r"one label per row of X \(30\); got shape \(10,\)"),
    ("2-D", np.c_[Y, Y], r"got shape \(30, 2\)"),
    ("complex", Y.astype(complex), r"y holds complex numbers"),
]


@pytest.mark.parametrize("y, match", [case[1:] for case in GENERATOR_Y_CASES],
                         ids=[case[0] for case in GENERATOR_Y_CASES])
def test_generator_refuses_bad_labels(y, match):
    with pytest.raises(ValueError, match=match):
        VAEGenerator(**TINY).fit(X, y)


@pytest.mark.parametrize("label", [1, np.int64(1), np.array(1)])
def test_conditional_sample_takes_one_label_for_every_row(conditional, label):
    rows, labels = conditional.sample(3, y=label, random_state=0)
    assert labels.tolist() == [1, 1, 1]
    assert np.array_equal(rows, conditional.sample(3, y=[1, 1, 1], random_state=0)[0])


def test_conditional_table_sample_takes_one_string_label():
    model = VAEGenerator(**TINY).fit(TABLE, np.array(["u", "v"] * 15))
    rows, labels = model.sample(4, y="v", random_state=0)
    assert labels.tolist() == ["v"] * 4 and rows.shape == (4, 3)


def test_conditional_generator_errors(conditional, generator):
    with pytest.raises(ValueError, match=r"labels not seen in fit: \[7\]"):
        conditional.transform(X, np.full(30, 7))
    with pytest.raises(ValueError, match=r"one label per row drawn \(n_samples=3\)"):
        conditional.sample(3, y=[0, 1])
    with pytest.raises(ValueError, match="fitted without y"):
        generator.sample(2, y=[0, 1])
    with pytest.raises(ValueError, match="conditional: pass y to partial_fit"):
        copy.deepcopy(conditional).partial_fit(X)
    with pytest.raises(ValueError, match=r"log_likelihood is not available .* fitted with y"):
        conditional.log_likelihood(X, n_samples=4)


CLASSIFIER_Y_CASES = [
    ("nan", np.where(np.arange(30) == 3, np.nan, Y), r"Input y contains NaN"),
    ("none", np.array([None, *Y[1:]], dtype=object), r"y holds None at row 0"),
    ("mixed", np.array(["a", *Y[1:]], dtype=object), r"y mixes strings"),
    ("continuous", np.linspace(0, 1, 30) + 0.01, r"Unknown label type: continuous"),
    ("length", Y[:10], r"inconsistent numbers of samples: \[30, 10\]"),
    ("2-D", np.c_[Y, Y], r"y should be a 1d array"),
    ("missing", None, r"requires y to be passed"),
    ("all-unlabeled", np.full(30, -1), r"no labeled rows"),
    ("string-minus-one", np.where(Y == 1, "cat", "-1"), r"string array holding '-1'"),
    ("object-string-minus-one", np.where(Y == 1, "cat", "-1").astype(object),
     r"y holds the string '-1' at row 0; unlabeled rows take the integer -1"),
]


@pytest.mark.parametrize("y, match", [case[1:] for case in CLASSIFIER_Y_CASES],
                         ids=[case[0] for case in CLASSIFIER_Y_CASES])
def test_classifier_refuses_bad_labels(y, match):
    with pytest.raises(ValueError, match=match):
        VAEClassifier(**TINY).fit(X, y)


def test_classifier_accepts_strings_with_the_integer_minus_one():
    y = np.array(["cat" if v else "dog" for v in Y], dtype=object)
    y[::3] = -1
    assert list(VAEClassifier(**TINY).fit(X, y).classes_) == ["cat", "dog"]


# --------------------------------------------------------------------- tables
TABLE_FIT_CASES = [
    ("inf", TABLE.assign(age=TABLE.age.where(TABLE.index != 4, np.inf)),
     r"Column 'age' holds inf at row 4"),
    ("complex", TABLE.assign(age=TABLE.age.astype(complex)), r"Column 'age' holds complex"),
    ("no-rows", TABLE.iloc[:0], r"0 sample\(s\)"),
    ("no-columns", TABLE.iloc[:, :0], r"X has no columns"),
    ("one-row", TABLE.iloc[:1], r"1 sample\(s\) while a minimum of 2"),
    ("all-missing", TABLE.assign(age=np.nan), r"Column 'age' has no observed values"),
]


@pytest.mark.parametrize("frame, match", [case[1:] for case in TABLE_FIT_CASES],
                         ids=[case[0] for case in TABLE_FIT_CASES])
def test_table_fit_refuses_bad_tables(frame, match):
    with pytest.raises(ValueError, match=match):
        VAEGenerator(**TINY).fit(frame)


def test_table_column_override_names_the_column_and_row():
    gen = VAEGenerator(**TINY).set_params(likelihood={"n": "poisson"})
    bad = TABLE.assign(n=TABLE.n.where(TABLE.index != 6, -3))
    with pytest.raises(ValueError, match=r"Column 'n': likelihood='poisson' needs non-negative "
                                         r"integers; row 6 holds -3\."):
        gen.fit(bad)


def string_at(frame, column, row, value):
    out = frame.copy()
    out[column] = out[column].astype(object)
    out.loc[row, column] = value
    return out


TABLE_TRANSFORM_CASES = [
    ("inf", TABLE.assign(age=TABLE.age.where(TABLE.index != 4, -np.inf)), ValueError,
     r"Column 'age' holds -inf at row 4"),
    ("complex", TABLE.assign(age=TABLE.age.astype(complex)), ValueError, r"complex numbers"),
    ("string", string_at(TABLE, "age", 1, "abc"), ValueError, r"Column 'age' must be numeric"),
    ("category", string_at(TABLE, "city", 0, "zzz"), ValueError, r"not seen in fit: \['zzz'\]"),
    ("names", TABLE.rename(columns={"age": "AGE"}), ValueError, r"feature names should match"),
    ("negative-count", TABLE.assign(n=TABLE.n.where(TABLE.index != 2, -4)), ValueError,
     r"Column 'n': likelihood='poisson' .*row 2 holds -4\."),
    ("no-rows", TABLE.iloc[:0], ValueError, r"0 sample\(s\)"),
    ("sparse", sparse.csr_matrix(np.ones((2, 3))), TypeError, r"Sparse data"),
    ("1-D", np.zeros(3), ValueError, r"Expected 2D array, got 1D array instead: X has shape"),
]


@pytest.mark.parametrize("data, error, match", [case[1:] for case in TABLE_TRANSFORM_CASES],
                         ids=[case[0] for case in TABLE_TRANSFORM_CASES])
@pytest.mark.parametrize("method", ["transform", "score_samples", "log_likelihood"])
def test_table_methods_refuse_bad_tables(table_model, method, data, error, match):
    with pytest.raises(error, match=match) as info:
        getattr(table_model, method)(data)
    assert_not_from_torch(info.value)


def test_missing_values_in_tables_are_modelled_not_refused(table_model):
    frame = TABLE.copy()
    frame.loc[[2, 5], "age"] = np.nan
    frame.loc[3, "city"] = None
    model = VAEGenerator(**TINY).fit(frame)
    assert_finite_model(model)
    assert np.isfinite(model.score_samples(frame)).all()
    assert np.isfinite(table_model.transform(frame)).all()


# ------------------------------------------------------------- magnitudes
def test_moments_of_huge_values_do_not_overflow():
    for factor in (1e300, 1.7e308 / 3):
        big = np.clip(X, -3, 3) * factor
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # no overflow on the way
            loc, scale = _column_moments(big)
        np.testing.assert_allclose(loc / factor, np.clip(X, -3, 3).mean(0), rtol=1e-12)
        np.testing.assert_allclose(scale / factor, np.clip(X, -3, 3).std(0), rtol=1e-12)


def test_moments_of_ordinary_values_are_computed_as_before():
    loc, scale = _column_moments(X)
    centred = X - X.mean(axis=0, dtype=np.float64)
    assert np.array_equal(loc, X.mean(axis=0, dtype=np.float64))
    assert np.array_equal(scale, np.sqrt(np.einsum("ij,ij->j", centred, centred) / len(X)))


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_huge_magnitudes_give_the_same_model_in_other_units(name):
    small = fit(name, X)
    big = fit(name, X * 1e300)
    assert_finite_model(big)
    np.testing.assert_allclose(big._standardizer.scale, small._standardizer.scale * 1e300, rtol=1e-12)
    np.testing.assert_allclose(big.transform(X * 1e300), small.transform(X), atol=1e-4)
    if name != "VAEClassifier":
        # A density in units 1e300 times larger: log(1e300) per column lower.
        np.testing.assert_allclose(big.score_samples(X * 1e300) + 3 * np.log(1e300),
                                   small.score_samples(X), atol=1e-3)


@pytest.mark.parametrize("data", [
    np.clip(X, -1, 1) * 1.7e308,
    (X * 1e30).astype(np.float32),
    (np.clip(X, -1, 1) * 3e38).astype(np.float32),
    X * 1e-300,
    np.ones((30, 3)),
    np.c_[X[:, :2], np.full(30, 1e300)],
], ids=["near-float64-max", "float32-1e30", "near-float32-max", "tiny", "constant",
        "one-huge-constant-column"])
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_extreme_but_finite_data_fits_a_finite_model(name, data):
    estimator = fit(name, data)
    assert_finite_model(estimator)
    Z = estimator.transform(data)
    assert Z.dtype == data.dtype and np.isfinite(Z).all()


def test_sampling_beyond_float64_raises():
    estimator = VAETransformer(**TINY).fit(np.clip(X, -1, 1) * 1.7e308)
    with pytest.raises(ValueError, match=r"sample drew values that overflow float64"):
        estimator.sample(2000, random_state=0)


class _NaNGradientLikelihood(GaussianLikelihood):
    """Its head gets NaN gradients: the loss stays finite, the weights become NaN."""

    name = "nan-gradient-for-tests"

    def head(self, n_inputs, n_features):
        head = super().head(n_inputs, n_features)
        head.loc.weight.register_hook(lambda grad: grad * float("nan"))
        return head


def test_a_fit_that_leaves_nan_weights_raises():
    # One batch, one epoch: the loss is computed before the step, so it is finite.
    estimator = VAETransformer(**{**TINY, "likelihood": _NaNGradientLikelihood()})
    with pytest.raises(NonFiniteLossError, match="weights NaN or infinite"):
        estimator.fit(X[:20])
    assert not hasattr(estimator, "module_")


def test_check_weights_passes_finite_modules():
    module = torch.nn.Linear(2, 2)
    check_weights(module, "test")
    with torch.no_grad():
        module.bias[0] = float("inf")
    with pytest.raises(NonFiniteLossError):
        check_weights(module, "test")


# ------------------------------------------------- failed fits change nothing
FAILING = [case for case in FIT_CASES if case[0] != "one-sample"] + [
    ("wrong-width", np.hstack([X, X]), ValueError, r"X has 6 features"),
    ("beyond-the-first-standardisation", X * 1e300, ValueError, r"fixed by the first fit"),
]


@pytest.mark.parametrize("data, error, match", [case[1:] for case in FAILING],
                         ids=[case[0] for case in FAILING])
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_failed_partial_fit_leaves_a_fitted_model_unchanged(name, data, error, match):
    estimator = ESTIMATORS[name]().partial_fit(X, *([Y] if name == "VAEClassifier" else []))
    before = dict(vars(estimator))
    transformed = estimator.transform(X)
    labels = (np.resize(Y, np.shape(data)[0]),) if name == "VAEClassifier" else ()
    with pytest.raises(error, match=match):
        estimator.partial_fit(data, *labels)
    assert_unchanged(estimator, before)
    assert np.array_equal(estimator.transform(X), transformed)


@pytest.mark.parametrize("data, error, match", [case[1:] for case in FIT_CASES],
                         ids=[case[0] for case in FIT_CASES])
def test_failed_refit_leaves_a_fitted_table_model_unchanged(table_model, data, error, match):
    estimator = copy.deepcopy(table_model)
    before = dict(vars(estimator))
    with pytest.raises((ValueError, TypeError)):
        estimator.fit(data)
    assert_unchanged(estimator, before)


# ---------------------------------------------------------------------- load
@pytest.fixture(scope="module")
def model_file(tmp_path_factory, transformer):
    folder = tmp_path_factory.mktemp("load")
    save(transformer, folder / "model.skvae")
    return folder / "model.skvae"


def rewrite(path, target, header=None, tensors=None):
    import safetensors.torch as safe

    with zipfile.ZipFile(path) as archive:
        old_header = json.loads(archive.read("skvae.json"))
        old_tensors = safe.load(archive.read("tensors.safetensors"))
    header = header(old_header) if header else old_header
    tensors = tensors(old_tensors) if tensors else old_tensors
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr("skvae.json", json.dumps(header))
        archive.writestr("tensors.safetensors", safe.save(tensors))
    return target


def test_load_refuses_nan_weights(model_file, tmp_path):
    pytest.importorskip("safetensors")

    def poison(tensors):
        key = next(k for k in sorted(tensors) if k.startswith("module_/"))
        return {**tensors, key: torch.full_like(tensors[key], float("nan"))}

    path = rewrite(model_file, tmp_path / "nan.skvae", tensors=poison)
    with pytest.raises(ValueError, match=r"weight '.*' holds NaN or infinite values"):
        load(path)


def test_load_refuses_a_zero_scale(model_file, tmp_path):
    pytest.importorskip("safetensors")
    path = rewrite(model_file, tmp_path / "scale.skvae",
                   tensors=lambda t: {**t, "_standardizer/scale": torch.zeros_like(t["_standardizer/scale"])})
    with pytest.raises(ValueError, match=r"standardisation.s scale is not a positive"):
        load(path)


@pytest.mark.parametrize("path, error, match", [
    (None, TypeError, r"load needs a path .* got NoneType"),
    (3, TypeError, r"got int: 3"),
    (b"PK\x03\x04\x00\x00", TypeError, r"bytes that look like a file's contents.*BytesIO"),
])
def test_load_refuses_what_is_not_a_path(path, error, match):
    with pytest.raises(error, match=match):
        load(path)


def test_load_refuses_text_mode_files_and_other_files(model_file, tmp_path):
    with open(model_file) as text, pytest.raises(TypeError, match="mode 'rb'"):
        load(text)
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ValueError, match="not an skvae model file: it is not a zip"):
        load(pickled)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.skvae")
    data = model_file.read_bytes()
    truncated = tmp_path / "truncated.skvae"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not an skvae model file"):
        load(truncated)
    assert load(io.BytesIO(data)).n_features_in_ == 3


# ------------------------------------------------------------ command line
@pytest.fixture(scope="module")
def csv_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-bad")
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame.to_csv(folder / "good.csv", index=False)
    frame.assign(b=frame.b.where(frame.index != 2)).to_csv(folder / "nan.csv", index=False)
    frame.assign(b=frame.b.where(frame.index != 2, np.inf)).to_csv(folder / "inf.csv",
                                                                   index=False)
    (frame * 1e300).to_csv(folder / "huge.csv", index=False)
    frame.iloc[:1].to_csv(folder / "one.csv", index=False)
    pd.DataFrame(with_value(COUNTS, 3, 1, -2.0), columns=list("abc")).to_csv(
        folder / "counts.csv", index=False)
    return folder


@pytest.mark.parametrize("argv, match", [
    (["fit", "nan.csv"], r"Input X contains NaN \(first at row 2, column 1 \('b'\)\)"),
    (["fit", "inf.csv"], r"Input X contains infinity \(first at row 2, column 1 \('b'\)"),
    (["fit", "one.csv"], r"1 sample\(s\)"),
    (["fit", "counts.csv", "--likelihood", "poisson"], r"poisson.*column 1 holds -2 \(row 3\)"),
])
def test_cli_reports_bad_data_in_one_line(csv_folder, capsys, argv, match):
    argv = [argv[0], str(csv_folder / argv[1]), *argv[2:], "-o",
            str(csv_folder / "out.skvae"), "--max-iter", "1", "--hidden-layer-sizes", "4",
            "--device", "cpu"]
    assert cli(argv) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("skvae: error: "), lines
    assert re.search(match, lines[0]), lines[0]


def test_cli_fits_huge_values(csv_folder, capsys):
    out = csv_folder / "huge.skvae"
    assert cli(["fit", str(csv_folder / "huge.csv"), "-o", str(out), "--max-iter", "1",
                "--hidden-layer-sizes", "4", "--device", "cpu", "--random-state", "0"]) == 0
    assert_finite_model(load(out))


# ------------------------------------------------------- the table in the docs
def _docs_script():
    path = ROOT / "docs" / "user_guide" / "code" / "bad_inputs.py"
    if not path.is_file():
        pytest.skip("no docs/ folder")
    spec = importlib.util.spec_from_file_location("skvae_docs_bad_inputs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_docs_table_finds_every_bad_input_handled():
    script = _docs_script()
    records = script.run()
    assert script.problems() == []
    rows = script.table(records)
    assert len(records) > 500 and len(rows) > 200
    places = {row[1] for row in rows}
    assert {"VAETransformer", "VAEGenerator (array)", "VAEGenerator (DataFrame)",
            "VAEClassifier", "skvae.load", "skvae (command line)"} <= places
    outcomes = {row[3] for row in rows}
    assert {"ValueError", "TypeError"} <= outcomes
    assert all(o in ("ValueError", "TypeError", "NonFiniteLossError", "FileNotFoundError",
                     "IsADirectoryError", "InvalidParameterError")
               or o.startswith(("accepted", "exit "))
               for o in outcomes), outcomes


def test_the_docs_table_detects_problems():
    script = _docs_script()
    script.PROBLEMS.clear()
    script.attempt("a NaN result", "here", "method", lambda: np.array([np.nan]))
    script.attempt("an error from torch", "here", "method",
                   lambda: torch.nn.Linear(2, 2)(torch.zeros(3)))
    script.attempt("a KeyError", "here", "method", lambda: {}["x"])
    found = script.problems()
    assert len(found) == 4, found  # the torch error is both a RuntimeError and from torch
    assert any("NaN or infinity" in p for p in found)
    assert any("inside torch" in p for p in found)


# ----------------------------------------------------- property-based tests
#: Examples per property; SKVAE_HYPOTHESIS_EXAMPLES=2000 explores further.
EXAMPLES = int(os.environ.get("SKVAE_HYPOTHESIS_EXAMPLES", "200"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])

SPECIAL = [np.nan, np.inf, -np.inf, 1e300, -1e300, 1.7e308, 3e38, -3e38, 1e-300, 5e-324,
           -1.0, 0.0, 1.0, 1e30]
DTYPES = ["float64", "float32", "int64", "bool", "object", "complex128"]
EDGE_SIZES = st.one_of(st.integers(0, 3), st.integers(0, 30))
FEW_COLUMNS = st.integers(0, 6)


@st.composite
def arrays(draw, n_rows=EDGE_SIZES, n_cols=FEW_COLUMNS):
    """A matrix of a random shape, dtype and values (special values likely)."""
    shape = (draw(n_rows), draw(n_cols))
    dtype = draw(st.sampled_from(DTYPES))
    size = shape[0] * shape[1]
    finite = st.floats(-1e6, 1e6, allow_nan=False, width=64)
    if dtype in ("float64", "float32", "object"):
        values = draw(st.lists(st.one_of(finite, st.sampled_from(SPECIAL)),
                               min_size=size, max_size=size))
        if dtype == "object" and size and draw(st.booleans()):
            values[draw(st.integers(0, size - 1))] = draw(st.sampled_from(["a", None, "1.5"]))
        with np.errstate(over="ignore"):
            array = np.array(values, dtype=dtype).reshape(shape)
    elif dtype == "int64":
        array = np.array(draw(st.lists(st.integers(-10**12, 10**12), min_size=size,
                                       max_size=size)), dtype=np.int64).reshape(shape)
    elif dtype == "bool":
        array = np.array(draw(st.lists(st.booleans(), min_size=size, max_size=size)),
                         dtype=bool).reshape(shape)
    else:
        array = np.array(draw(st.lists(st.complex_numbers(max_magnitude=1e3), min_size=size,
                                       max_size=size)), dtype=complex).reshape(shape)
    layout = draw(st.sampled_from(["2-D", "2-D", "2-D", "1-D", "list"]))
    if layout == "1-D":
        return array.ravel()
    if layout == "list":
        return array.tolist()
    return array


def call(fn, *args, **kwargs):
    """``fn(...)``'s result, or None when it raised a clear ValueError/TypeError."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(*args, **kwargs)
        except (ValueError, TypeError) as exc:
            assert str(exc).strip(), f"{type(exc).__name__} without a message"
            assert_not_from_torch(exc)
            return None


def _float_dtype(data):
    return np.float32 if getattr(data, "dtype", None) == np.float32 else np.float64


@PROPERTY
@given(data=arrays())
def test_property_fit_gives_an_error_or_a_finite_model(data):
    estimator = call(VAETransformer(**TINY).fit, data)
    if estimator is None:
        return
    assert_finite_model(estimator)
    n_rows, n_cols = np.shape(data)
    assert estimator.n_features_in_ == n_cols and n_rows >= 2
    Z = call(estimator.transform, data)
    if Z is not None:
        assert Z.shape == (n_rows, 2) and Z.dtype == _float_dtype(data)
        assert np.isfinite(Z).all()
    sample = call(estimator.sample, 3, random_state=0)
    if sample is not None:
        assert sample.shape == (3, n_cols) and np.isfinite(sample).all()


@PROPERTY
@given(data=arrays(n_cols=st.sampled_from([3, 3, 2, 0, 1, 4])))
def test_property_methods_give_an_error_or_finite_results(transformer, data):
    for method in ("transform", "score_samples", "inverse_transform"):
        result = call(getattr(transformer, method), data)
        if result is None:
            continue
        n_rows = np.shape(data)[0]
        assert np.isfinite(result).all(), method
        if method == "transform":
            assert result.shape == (n_rows, 2) and result.dtype == _float_dtype(data)
        elif method == "score_samples":
            assert result.shape == (n_rows,) and result.dtype == np.float64
        else:  # only 2-column input reaches here: the latent width
            assert result.shape == (n_rows, 3) and result.dtype == _float_dtype(data)


@PROPERTY
@given(n=st.one_of(st.integers(-3, 5), st.floats(allow_nan=True), st.booleans(), st.none(),
                   st.text(max_size=3), st.just(np.int32(2)), st.just(np.float64(2.0))))
def test_property_sample_gives_an_error_or_n_finite_rows(transformer, n):
    rows = call(transformer.sample, n, random_state=0)
    if rows is not None:
        assert isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1
        assert rows.shape == (n, 3) and rows.dtype == np.float64 and np.isfinite(rows).all()


@PROPERTY
@given(data=arrays(n_rows=st.integers(0, 8), n_cols=st.sampled_from([3, 3, 2])))
def test_property_partial_fit_gives_an_error_and_no_change_or_a_finite_model(data):
    estimator = VAETransformer(**TINY).partial_fit(X)
    before = dict(vars(estimator))
    if call(estimator.partial_fit, data) is None:
        assert_unchanged(estimator, before)
    else:
        assert_finite_model(estimator)
