"""VAEGenerator on mixed tables: round trips, marginals, conditions, missing values."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.ensemble import HistGradientBoostingClassifier

from skvae import VAEGenerator, load, save

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CITIES = ["lyon", "oslo", "rome", "kyiv"]


def make_table(n, random_state=0, missing=0.05):
    """A table whose columns all depend on a 3-valued label, with known marginals."""
    rng = np.random.RandomState(random_state)
    label = rng.randint(3, size=n)
    city_p = np.array([[0.7, 0.1, 0.1, 0.1], [0.1, 0.7, 0.1, 0.1], [0.1, 0.1, 0.4, 0.4]])
    df = pd.DataFrame({
        "age": rng.normal(30 + 12 * label, 4.0),
        "visits": rng.poisson(1 + 3 * label),
        "city": pd.Categorical([CITIES[rng.choice(4, p=city_p[k])] for k in label],
                               categories=CITIES),
        "member": rng.uniform(size=n) < 0.15 + 0.35 * label,
    })
    if missing:
        df.loc[rng.uniform(size=n) < missing, "age"] = np.nan
        df.loc[rng.uniform(size=n) < missing, "city"] = np.nan
    return df, label


# A fixed budget of 150 epochs on every row: the properties below are of the table
# machinery, measured on the fit they were first measured on.
GEN = dict(n_components=4, hidden_layer_sizes=(64, 64), max_iter=150, learning_rate_init=3e-3,
           early_stopping=False, learning_rate="constant", random_state=0, device="cpu")


@pytest.fixture(scope="module")
def table():
    return make_table(2000)


@pytest.fixture(scope="module")
def unconditional(table):
    return VAEGenerator(**GEN).fit(table[0])


@pytest.fixture(scope="module")
def conditional(table):
    df, label = table
    return VAEGenerator(**GEN).fit(df, label)


def test_round_trip_keeps_columns_dtypes_and_categories(unconditional, table):
    df = table[0]
    out = unconditional.sample(300, random_state=0)
    assert list(out.columns) == list(df.columns)
    assert out.dtypes.tolist() == df.dtypes.tolist()
    assert list(out["city"].cat.categories) == CITIES
    assert set(out["member"].unique()) <= {True, False}
    assert (out["visits"] >= 0).all()


def test_likelihood_auto_picks_one_per_column(unconditional):
    kinds = [(spec.name, spec.likelihood) for spec in unconditional._schema.columns]
    assert kinds == [("age", "gaussian"), ("visits", "negative_binomial"),
                     ("city", "categorical"), ("member", "bernoulli")]


def test_sampled_marginals_match_the_training_marginals(unconditional, table):
    df = table[0]
    out = unconditional.sample(2000, random_state=1)
    for column in ["age", "visits"]:
        ks = stats.ks_2samp(out[column].dropna(), df[column].dropna()).statistic
        assert ks < 0.1, (column, ks)
    for column in ["city", "member"]:
        real = df[column].value_counts(normalize=True)
        fake = out[column].value_counts(normalize=True).reindex(real.index, fill_value=0)
        assert 0.5 * np.abs(real - fake).sum() < 0.1, column


def test_missing_rate_is_reproduced(unconditional, table):
    df = table[0]
    out = unconditional.sample(4000, random_state=2)
    for column in ["age", "city"]:
        assert out[column].isna().mean() == pytest.approx(df[column].isna().mean(), abs=0.015)
    assert not out[["visits", "member"]].isna().any().any()


def test_missing_values_are_scored_by_marginalising(unconditional, table):
    df = table[0].dropna().head(50)
    full = unconditional.score_samples(df)
    holed = df.copy()
    holed["age"] = np.nan
    # Leaving a column out removes its (negative, continuous) log-density term.
    assert np.all(np.isfinite(unconditional.score_samples(holed)))
    assert np.mean(unconditional.score_samples(holed)) > np.mean(full)


def test_train_on_synthetic_test_on_real(conditional, table):
    df, label = table
    test_df, test_label = make_table(1000, random_state=1)

    def features(frame):
        return pd.get_dummies(frame, columns=["city"]).astype(float)

    real = HistGradientBoostingClassifier(random_state=0).fit(features(df), label)
    fake_X, fake_y = conditional.sample(2000, random_state=3)
    fake = HistGradientBoostingClassifier(random_state=0).fit(features(fake_X), fake_y)
    real_acc = real.score(features(test_df), test_label)
    fake_acc = fake.score(features(test_df), test_label)
    assert fake_acc >= 0.8 * real_acc, (fake_acc, real_acc)


def test_conditional_samples_respect_the_labels(conditional, table):
    wanted = np.repeat([0, 1, 2], 200)
    rows, labels = conditional.sample(600, y=wanted, random_state=4)
    assert np.array_equal(labels, wanted)
    # The label shifts the mean age by 12 years per step in the real data.
    means = [rows["age"][labels == k].mean() for k in range(3)]
    assert means[0] < means[1] < means[2]
    assert means[2] - means[0] > 15


def test_conditional_sample_without_y_draws_label_frequencies(conditional, table):
    _, labels = conditional.sample(3000, random_state=5)
    np.testing.assert_allclose(np.bincount(labels, minlength=3) / 3000,
                               conditional.class_prior_, atol=0.03)


def test_conditional_transform_and_score_take_y(conditional, table):
    df, label = table
    head, y = df.head(100), label[:100]
    assert conditional.transform(head, y).shape == (100, 4)
    given = conditional.score_samples(head, y)
    marginal = conditional.score_samples(head)
    # log p(x) = log sum_k p(k) p(x|k) >= log p(y) + log p(x|y), for each row.
    assert np.all(marginal >= given + np.log(conditional.class_prior_[y]) - 1e-9)
    with pytest.raises(ValueError, match="not seen in fit"):
        conditional.score_samples(head, np.full(100, 7))


def test_unconditional_model_refuses_y(unconditional, table):
    with pytest.raises(ValueError, match="fitted without y"):
        unconditional.sample(3, y=[0, 1, 2])


def test_inverse_transform_gives_a_table(unconditional, table):
    df = table[0].head(20)
    out = unconditional.inverse_transform(unconditional.transform(df))
    assert list(out.columns) == list(df.columns) and len(out) == 20


def test_wrong_columns_are_refused(unconditional, table):
    with pytest.raises(ValueError, match="(?s)feature names should match.*city"):
        unconditional.transform(table[0].drop(columns="city"))
    with pytest.raises(ValueError, match="feature names should match"):
        unconditional.transform(table[0][["city", "age", "visits", "member"]])


def test_unseen_category_is_refused(unconditional, table):
    df = table[0].head(5).copy()
    df["city"] = df["city"].cat.add_categories("paris")
    df.loc[df.index[0], "city"] = "paris"
    with pytest.raises(ValueError, match="categories not seen"):
        unconditional.score_samples(df)


def test_dict_likelihood_overrides_a_column(table):
    df = table[0].head(300)
    gen = VAEGenerator(likelihood={"visits": "poisson"}, **{**GEN, "max_iter": 2}).fit(df)
    assert [s.likelihood for s in gen._schema.columns][1] == "poisson"
    with pytest.raises(ValueError, match="does not have"):
        VAEGenerator(likelihood={"nope": "poisson"}, **GEN).fit(df)


def test_negative_counts_with_count_likelihood_name_the_column(table):
    df = table[0].head(100).copy()
    df["visits"] = -df["visits"] - 1
    with pytest.raises(ValueError, match="negative_binomial|poisson"):
        VAEGenerator(likelihood={"visits": "poisson"}, **{**GEN, "max_iter": 2}).fit(df)


def test_save_and_load_a_table_generator(conditional, table, tmp_path):
    save(conditional, tmp_path / "gen.skvae")
    loaded = load(tmp_path / "gen.skvae")
    a, la = conditional.sample(50, random_state=0)
    b, lb = loaded.sample(50, random_state=0)
    pd.testing.assert_frame_equal(a, b)
    assert np.array_equal(la, lb)


def test_numpy_conditional_generator_returns_numpy():
    rng = np.random.RandomState(0)
    y = rng.randint(2, size=300)
    X = rng.normal(size=(300, 3)) + 3 * y[:, None]
    gen = VAEGenerator(**{**GEN, "max_iter": 40}).fit(X, y)
    rows, labels = gen.sample(200, y=np.repeat([0, 1], 100), random_state=0)
    assert isinstance(rows, np.ndarray) and rows.shape == (200, 3)
    assert rows[labels == 1].mean() > rows[labels == 0].mean() + 2
