"""Column types that keep their meaning in VAEGenerator tables: counts, integers with
large offsets, positive skewed columns, datetimes, bounds, wide categories, messages."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning

from skvae import VAEGenerator, load, save
from skvae._tabular import MAX_CATEGORIES, TableSchema

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

TINY = dict(hidden_layer_sizes=(16, 16), max_iter=3, random_state=0, device="cpu")


def make_table(n, random_state=0):
    """One column of each type that "auto" must tell apart."""
    rng = np.random.RandomState(random_state)
    start = pd.Timestamp("2021-03-01")
    return pd.DataFrame({
        "year": rng.randint(2000, 2021, n),
        "unix_time": rng.randint(1_500_000_000, 1_700_000_000, n),
        "visits": rng.poisson(3, n),
        "clicks": rng.negative_binomial(1, 0.1, n),
        "income": np.exp(rng.normal(10.5, 0.6, n)),
        "share": rng.uniform(0.0, 1.0, n),
        "small": rng.randint(-5, 6, n).astype(np.int32),
        "when": start + pd.to_timedelta(rng.randint(0, 300 * 86400, n), unit="s"),
        "when_utc": (start + pd.to_timedelta(rng.randint(0, 10**9, n), unit="ms")
                     ).tz_localize("UTC").tz_convert("Europe/Paris").as_unit("ns"),
        "waited": pd.to_timedelta(rng.exponential(3600, n).round(), unit="s"),
        "city": pd.Categorical(rng.choice(["lyon", "oslo", "rome"], n)),
        "member": rng.uniform(size=n) < 0.3,
    })


@pytest.fixture(scope="module")
def table():
    return make_table(300)


@pytest.fixture(scope="module")
def generator(table):
    return VAEGenerator(**TINY).fit(table)


@pytest.fixture(scope="module")
def samples(generator):
    return generator.sample(2000, random_state=0)


# ------------------------------------------------------------ what auto chooses
def test_auto_reports_a_kind_likelihood_and_transform_per_column(generator, table):
    chosen = generator.likelihoods_
    assert list(chosen) == list(table.columns)
    assert chosen["year"] == ("integer", "gaussian", None)
    assert chosen["unix_time"] == ("integer", "gaussian", None)
    assert chosen["visits"] == ("count", "poisson", None)
    assert chosen["clicks"] == ("count", "negative_binomial", None)
    assert chosen["income"] == ("float", "gaussian", "log")
    assert chosen["share"] == ("float", "gaussian", None)
    assert chosen["small"] == ("integer", "gaussian", None)
    assert chosen["when"] == ("datetime", "gaussian", None)
    assert chosen["waited"] == ("timedelta", "gaussian", "log")
    assert chosen["city"] == ("category", "categorical", None)
    assert chosen["member"] == ("bool", "bernoulli", None)


def test_an_override_is_modelled_without_transform(table):
    schema = TableSchema({"income": "gaussian"}).fit(table)
    assert schema.likelihoods_["income"] == ("float", "gaussian", None)


def test_an_array_model_has_no_column_likelihoods():
    gen = VAEGenerator(**TINY).fit(np.random.RandomState(0).normal(size=(20, 2)))
    assert not hasattr(gen, "likelihoods_")


# ----------------------------------------------------- values keep their meaning
def test_year_time_and_count_columns_keep_their_medians_and_mean():
    df = make_table(500)[["year", "unix_time", "visits"]]
    gen = VAEGenerator(hidden_layer_sizes=(32, 32), max_iter=20, random_state=0,
                       device="cpu").fit(df)
    out = gen.sample(20000, random_state=0)
    for column in ["year", "unix_time"]:
        assert out[column].median() == pytest.approx(df[column].median(), rel=0.02), column
    assert out["visits"].mean() == pytest.approx(df["visits"].mean(), rel=0.05)


def test_positive_skewed_columns_come_back_positive(samples, table):
    assert (samples["income"] > 0).all()
    assert samples["income"].median() == pytest.approx(table["income"].median(), rel=0.3)


def test_numeric_columns_stay_within_their_training_range(samples, table):
    for column in ["year", "unix_time", "visits", "clicks", "income", "share", "small",
                   "when", "when_utc", "waited"]:
        assert samples[column].min() >= table[column].min(), column
        assert samples[column].max() <= table[column].max(), column


def test_integer_columns_come_back_integer_with_their_dtype(samples, table):
    for column in ["year", "unix_time", "visits", "clicks", "small"]:
        assert samples[column].dtype == table[column].dtype, column
        values = samples[column].to_numpy(dtype=float)
        assert np.array_equal(values, np.round(values)), column


def test_nullable_integer_column_keeps_its_dtype_and_missing_values():
    df = pd.DataFrame({"n": pd.array([1, 2, None, 4, 3, 2, None, 5] * 10, dtype="Int64")})
    out = VAEGenerator(**TINY).fit(df).sample(400, random_state=0)
    assert out["n"].dtype == df["n"].dtype
    assert 0 < out["n"].isna().mean() < 0.5


@pytest.mark.parametrize("column", ["when", "when_utc", "waited"])
def test_datetime_columns_come_back_as_new_datetimes_within_range(samples, table, column):
    assert samples[column].dtype == table[column].dtype
    assert table[column].min() <= samples[column].min()
    assert samples[column].max() <= table[column].max()
    # Modelled as continuous values, not as categories that repeat training dates.
    assert samples[column].isin(table[column]).mean() < 0.5


def test_inverse_transform_decodes_every_column_type(generator, table):
    out = generator.inverse_transform(generator.transform(table.head(10)))
    assert out.dtypes.tolist() == table.dtypes.tolist()
    assert (out["income"] > 0).all()


# --------------------------------------------------------------- honest units
def test_log_jacobian_is_minus_the_sum_of_log_x_over_observed_entries(table):
    schema = TableSchema().fit(table)
    frame = table.head(6).copy()
    frame.loc[frame.index[2], "income"] = np.nan
    expected = -np.nan_to_num(np.log(frame["income"].to_numpy()))
    expected -= np.log(frame["waited"].to_numpy().astype(np.int64))  # in its own ticks
    np.testing.assert_allclose(schema.log_jacobian(frame), expected, rtol=1e-12)
    np.testing.assert_allclose(schema.encoded_log_jacobian(schema.encode(frame)), expected,
                               rtol=1e-12)


def test_a_log_column_scores_as_the_model_of_log_x_plus_the_jacobian():
    rng = np.random.RandomState(0)
    df = pd.DataFrame({"income": np.exp(rng.normal(10.0, 0.7, 200)), "x": rng.normal(size=200)})
    logged = df.assign(income=np.log(df["income"]))
    gen = VAEGenerator(**TINY).fit(df)
    of_log = VAEGenerator(likelihood={"income": "gaussian"}, **TINY).fit(logged)
    assert gen.likelihoods_["income"][2] == "log"
    scores = gen.score_samples(df)
    assert np.isfinite(scores).all()
    # The same encoded matrix and seed give the same network: only the Jacobian differs.
    np.testing.assert_allclose(scores, of_log.score_samples(logged) - logged["income"],
                               rtol=1e-10)
    np.testing.assert_allclose(gen.log_likelihood(df, n_samples=8),
                               of_log.log_likelihood(logged, n_samples=8) - logged["income"],
                               rtol=1e-10)


# ------------------------------------------------------------------- refusals
def test_too_wide_categorical_column_is_refused_naming_it():
    n = MAX_CATEGORIES + 1
    df = pd.DataFrame({"id": [f"user{i}" for i in range(n)], "x": np.arange(n, dtype=float)})
    with pytest.raises(ValueError, match=rf"Column 'id' has {n} levels, more than the limit "
                                         rf"of {MAX_CATEGORIES}"):
        VAEGenerator(**TINY).fit(df)


def test_identifier_like_column_warns_naming_it():
    df = pd.DataFrame({"id": [f"user{i}" for i in range(100)], "x": np.arange(100.0)})
    with pytest.warns(UserWarning, match="Column 'id' has 100 levels for 100 observed"):
        TableSchema().fit(df)


def test_integers_beyond_float64_precision_warn_naming_the_column():
    df = pd.DataFrame({"big": np.array([2**60, 2**60 + 7, 2**61], dtype=np.int64)})
    with pytest.warns(UserWarning, match="Column 'big' holds integers beyond 2\\*\\*53"):
        TableSchema().fit(df)


def test_non_positive_value_in_a_log_column_is_refused(generator, table):
    frame = table.head(5).assign(income=[1.0, 2.0, 0.0, 3.0, 4.0])
    with pytest.raises(ValueError, match="Column 'income' holds 0.0 at row 2; it was positive"):
        generator.score_samples(frame)


# ------------------------------------------------------------------- messages
def test_stray_string_in_a_bool_column_names_the_row_and_value(generator, table):
    frame = table.head(5).copy()
    frame["member"] = frame["member"].astype(object)
    frame.loc[frame.index[3], "member"] = "a"
    with pytest.raises(ValueError, match=r"Column 'member' must be numeric as in fit \(bool\): "
                                         r"row 3 holds 'a', which is not a number"):
        generator.transform(frame)


def test_stray_string_with_a_numeric_override_names_the_row_and_value():
    df = pd.DataFrame({"b": [True, False, "a", True], "x": [0.1, 0.2, 0.3, 0.4]})
    with pytest.raises(ValueError, match=r"Column 'b': likelihood='bernoulli' models numbers, "
                                         r"and row 2 holds 'a', which is not a number"):
        VAEGenerator(likelihood={"b": "bernoulli"}, **TINY).fit(df)


def test_datetime_where_fit_had_numbers_names_the_column(generator, table):
    frame = table.head(5).assign(share=pd.date_range("2020-01-01", periods=5))
    with pytest.raises(ValueError, match=r"Column 'share' must be numeric as in fit \(float64\): "
                                         r"row 0 holds Timestamp\('2020-01-01"):
        generator.transform(frame)


def test_numbers_where_fit_had_datetimes_name_the_column(generator, table):
    frame = table.head(5).assign(when=np.arange(5.0))
    with pytest.raises(ValueError, match=r"Column 'when' must hold datetimes"):
        generator.transform(frame)


# ---------------------------------------------------------------- persistence
def test_config_round_trips_through_json(generator, table):
    schema = generator._schema
    config = json.loads(json.dumps(schema.to_config()))
    again = TableSchema.from_config(config)
    assert again.to_config() == schema.to_config()
    assert again.likelihoods_ == schema.likelihoods_
    M = schema.encode(table)
    np.testing.assert_array_equal(again.encode(table), M)
    pd.testing.assert_frame_equal(again.decode(M), schema.decode(M))


def test_config_without_the_new_fields_still_loads(generator):
    config = generator._schema.to_config()
    for column in config["columns"]:
        for key in ("transform", "low", "high"):
            del column[key]
    schema = TableSchema.from_config(config)
    assert all(spec.transform is None and spec.low is None for spec in schema.columns)


def test_unknown_transform_in_a_config_is_refused(generator):
    config = generator._schema.to_config()
    config["columns"][0]["transform"] = "sqrt"
    with pytest.raises(ValueError, match="unknown column transform 'sqrt'"):
        TableSchema.from_config(config)


def test_a_config_range_that_is_not_two_numbers_is_refused(generator):
    config = generator._schema.to_config()
    config["columns"][0]["low"] = "2000"
    with pytest.raises(ValueError, match="bad column range"):
        TableSchema.from_config(config)


def test_save_and_load_keep_every_column_type(generator, tmp_path):
    save(generator, tmp_path / "gen.skvae")
    loaded = load(tmp_path / "gen.skvae")
    assert loaded.likelihoods_ == generator.likelihoods_
    pd.testing.assert_frame_equal(loaded.sample(50, random_state=3),
                                  generator.sample(50, random_state=3))


def test_fit_on_a_table_with_every_type_warns_only_about_convergence(table):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        VAEGenerator(**TINY).fit(table)


def test_large_integer_counts_are_modelled_as_continuous_integers():
    # Sizes in square feet are non-negative integers near zero in units of their spread,
    # but a count likelihood trains poorly on means in the thousands.
    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"lotsize": rng.lognormal(8.4, 0.4, 300).round().astype(np.int64),
                          "rooms": rng.poisson(3, 300)})
    schema = TableSchema().fit(frame)
    kinds = {name: kind for name, (kind, _, _) in schema.likelihoods_.items()}
    assert kinds == {"lotsize": "integer", "rooms": "count"}
