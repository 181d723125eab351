"""The likelihood registry: exact log-densities, normalisation, fit quality, support checks.

Every registered likelihood needs an entry in ``SPECS`` (a test fails otherwise), which
says how to set its head to known parameters, how to draw from it and score it with
scipy, what its support is, and which misspecified likelihood it should beat on its own
data.
"""

import copy
import itertools
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
import torch
from scipy import special, stats

from skvae import VAETransformer
from skvae.likelihoods import (
    BETA_MIN_PRECISION,
    GAUSSIAN_MIN_SCALE,
    LIKELIHOODS,
    NB_MIN_INVERSE_DISPERSION,
    STUDENT_T_MIN_DF,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# ----------------------------------------------------------------------------- helpers
def inv_softplus(y):
    return np.log(np.expm1(y))


def set_linear(layer, raw):
    """Make ``layer(eye(n))`` return ``raw`` of shape (n, n_features)."""
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(raw.T)))
        layer.bias.zero_()


def set_param(param, raw):
    with torch.no_grad():
        param.copy_(torch.from_numpy(np.asarray(raw, dtype=np.float64)))


def latent_rows(rng, n, d, strength=1.0):
    """A 1-d latent factor times random loadings: data with structure a VAE can use.

    The factor is bounded so held-out rows stay within the range seen in training.
    """
    z = rng.uniform(-1.0, 1.0, size=(n, 1))
    w = rng.uniform(-1.0, 1.0, size=(1, d))
    return strength * z @ w


def continuous_bernoulli_log_norm(lam):
    """log C(lam) of the continuous Bernoulli, C = 2 artanh(1 - 2 lam) / (1 - 2 lam)."""
    t = 1.0 - 2.0 * lam
    return np.log(2.0 * np.arctanh(t) / t)


def continuous_bernoulli_draw(rng, lam):
    """Inverse-CDF draws of the continuous Bernoulli (lam != 1/2)."""
    u = rng.uniform(size=lam.shape)
    return np.log1p(u * (2.0 * lam - 1.0) / (1.0 - lam)) / np.log(lam / (1.0 - lam))


def in_support(X, support):
    if support == "real":
        return np.isfinite(X).all()
    if support == "binary":
        return np.isin(X, [0.0, 1.0]).all()
    if support == "counts":
        return bool((X >= 0).all() and (X == np.floor(X)).all())
    if support == "unit":
        return bool(((X >= 0) & (X <= 1)).all())
    if support == "open_unit":
        return bool(((X > 0) & (X < 1)).all())
    if support == "onehot":
        return bool(np.isin(X, [0.0, 1.0]).all() and (X.sum(axis=1) == 1).all())
    raise AssertionError(support)


def one_hot_draws(rng, p):
    """One category per row drawn with probabilities ``p`` (rows sum to 1), one-hot."""
    choice = (rng.uniform(size=(len(p), 1)) > np.cumsum(p, axis=1)).sum(axis=1)
    return np.eye(p.shape[1])[np.minimum(choice, p.shape[1] - 1)]


# ------------------------------------------------------------------------------- specs
@dataclass
class Spec:
    support: str
    #: rng, n, d -> natural parameters, per row and feature or per feature
    params: Callable
    #: head, params -> None: set the head so that it outputs those parameters
    configure: Callable
    #: rng, params -> draws of shape (n, d)
    draw: Callable
    #: x, params -> elementwise log-density from scipy (or a closed form)
    logpdf: Callable
    #: rng, n, d -> data in the support with some latent structure, for fits
    data: Callable
    #: a likelihood accepting ``data`` that should score it worse
    rival: str


def _gaussian_params(rng, n, d):
    return dict(loc=rng.normal(scale=2.0, size=(n, d)), scale=np.array([0.5, 1.0, 3.0]))


def _gaussian_configure(head, p):
    set_linear(head.loc, p["loc"])
    set_param(head.raw_scale, inv_softplus(p["scale"] - GAUSSIAN_MIN_SCALE))


#: Rank of the default "gaussian_lowrank".
LOW_RANK = 5


def _low_rank_params(rng, n, d):
    return dict(**_gaussian_params(rng, n, d),
                factor=rng.normal(scale=0.7, size=(n, d, LOW_RANK)))


def _low_rank_configure(head, p):
    _gaussian_configure(head, p)
    set_linear(head.factor, p["factor"].reshape(p["factor"].shape[0], -1))


def _low_rank_draw(rng, p):
    n, d, rank = p["factor"].shape
    shared = np.einsum("ndr,nr->nd", p["factor"], rng.normal(size=(n, rank)))
    return p["loc"] + shared + p["scale"] * rng.normal(size=(n, d))


def _low_rank_logpdf(x, p):
    """The row's density from scipy, as a single column (the test sums the columns)."""
    cov = np.einsum("ndr,ner->nde", p["factor"], p["factor"]) + np.diag(p["scale"] ** 2)
    return np.array([[stats.multivariate_normal(p["loc"][i], cov[i]).logpdf(x[i])]
                     for i in range(len(x))])


def _correlated_residuals(rng, n, d):
    """One latent factor, plus residuals that share two factors of their own."""
    shared = rng.normal(size=(n, 2)) @ rng.uniform(-1.0, 1.0, size=(2, d))
    return latent_rows(rng, n, d, 2.0) + 0.8 * shared + 0.05 * rng.normal(size=(n, d))


def _beta_data(rng, n, d):
    mean = special.expit(latent_rows(rng, n, d))
    return rng.beta(20.0 * mean, 20.0 * (1 - mean))


def _t_configure(head, p):
    _gaussian_configure(head, p)
    set_param(head.raw_df, inv_softplus(p["df"] - STUDENT_T_MIN_DF))


SPECS = {
    "categorical": Spec(
        support="onehot",
        params=lambda rng, n, d: dict(p=special.softmax(rng.normal(scale=2.0, size=(n, d)), 1)),
        configure=lambda head, p: set_linear(head.logits, np.log(p["p"])),
        draw=lambda rng, p: one_hot_draws(rng, p["p"]),
        # One multinomial draw per row; as a column so the harness's row sum keeps it.
        logpdf=lambda x, p: stats.multinomial.logpmf(x, 1, p["p"])[:, None],
        data=lambda rng, n, d: one_hot_draws(
            rng, special.softmax(latent_rows(rng, n, d, 4.0), axis=1)),
        # Independent Bernoulli columns waste mass on rows that are not one-hot.
        rival="bernoulli",
    ),
    "gaussian": Spec(
        support="real",
        params=_gaussian_params,
        configure=_gaussian_configure,
        draw=lambda rng, p: rng.normal(p["loc"], p["scale"]),
        logpdf=lambda x, p: stats.norm.logpdf(x, p["loc"], p["scale"]),
        # Narrow bell curves inside [0, 1]: the monotone continuous Bernoulli cannot peak.
        data=lambda rng, n, d: 0.5 + 0.06 * (latent_rows(rng, n, d) + rng.normal(size=(n, d))),
        rival="continuous_bernoulli",
    ),
    "bernoulli": Spec(
        support="binary",
        params=lambda rng, n, d: dict(p=rng.uniform(0.05, 0.95, size=(n, d))),
        configure=lambda head, p: set_linear(head.logits, special.logit(p["p"])),
        draw=lambda rng, p: (rng.uniform(size=p["p"].shape) < p["p"]).astype(float),
        logpdf=lambda x, p: stats.bernoulli.logpmf(x, p["p"]),
        data=lambda rng, n, d: (
            rng.uniform(size=(n, d)) < special.expit(latent_rows(rng, n, d, 3.0))
        ).astype(float),
        # Poisson mass on 2, 3, ... is wasted on binary data.
        rival="poisson",
    ),
    "poisson": Spec(
        support="counts",
        params=lambda rng, n, d: dict(rate=rng.uniform(0.1, 20.0, size=(n, d))),
        configure=lambda head, p: set_linear(head.log_rate, np.log(p["rate"])),
        draw=lambda rng, p: rng.poisson(p["rate"]).astype(float),
        logpdf=lambda x, p: stats.poisson.logpmf(x, p["rate"]),
        # Small counts whose variance follows their mean: a constant-variance Gaussian
        # fits them badly.
        data=lambda rng, n, d: rng.poisson(np.exp(latent_rows(rng, n, d, 1.5))).astype(float),
        rival="gaussian",
    ),
    "negative_binomial": Spec(
        support="counts",
        params=lambda rng, n, d: dict(
            mean=rng.uniform(0.1, 20.0, size=(n, d)), r=np.array([0.3, 2.0, 50.0])
        ),
        configure=lambda head, p: (
            set_linear(head.log_mean, np.log(p["mean"])),
            set_param(head.raw_inverse_dispersion,
                      inv_softplus(p["r"] - NB_MIN_INVERSE_DISPERSION)),
        ),
        draw=lambda rng, p: rng.negative_binomial(
            p["r"], p["r"] / (p["r"] + p["mean"])).astype(float),
        logpdf=lambda x, p: stats.nbinom.logpmf(x, p["r"], p["r"] / (p["r"] + p["mean"])),
        # Overdispersed counts (r = 0.5): the Poisson's variance is far too small.
        data=lambda rng, n, d: rng.negative_binomial(
            0.5, 0.5 / (0.5 + np.exp(1.0 + 0.5 * latent_rows(rng, n, d)))).astype(float),
        rival="poisson",
    ),
    "continuous_bernoulli": Spec(
        support="unit",
        params=lambda rng, n, d: dict(lam=np.column_stack([
            rng.uniform(0.02, 0.45, size=n),
            rng.uniform(0.55, 0.98, size=n),
            # Inside torch's Taylor-expansion region around 1/2.
            0.5 + rng.uniform(-9e-4, 9e-4, size=n),
        ])),
        configure=lambda head, p: set_linear(head.logits, special.logit(p["lam"])),
        draw=lambda rng, p: continuous_bernoulli_draw(rng, p["lam"]),
        logpdf=lambda x, p: (
            continuous_bernoulli_log_norm(p["lam"])
            + x * np.log(p["lam"]) + (1 - x) * np.log1p(-p["lam"])
        ),
        # The offset keeps lam off 1/2, where the inverse CDF above is 0/0.
        data=lambda rng, n, d: continuous_bernoulli_draw(
            rng, special.expit(latent_rows(rng, n, d, 10.0) + 1e-3)),
        # The Bernoulli cross-entropy on grey levels lacks the normaliser (>= log 2).
        rival="bernoulli",
    ),
    "beta": Spec(
        support="open_unit",
        params=lambda rng, n, d: dict(
            mean=rng.uniform(0.1, 0.9, size=(n, d)), precision=np.array([3.0, 5.0, 50.0])
        ),
        configure=lambda head, p: (
            set_linear(head.logits, special.logit(p["mean"])),
            set_param(head.raw_precision, inv_softplus(p["precision"] - BETA_MIN_PRECISION)),
        ),
        draw=lambda rng, p: rng.beta(p["mean"] * p["precision"],
                                     (1 - p["mean"]) * p["precision"]),
        logpdf=lambda x, p: stats.beta.logpdf(
            x, p["mean"] * p["precision"], (1 - p["mean"]) * p["precision"]),
        # Peaked proportions: the continuous Bernoulli's density is monotone.
        data=lambda rng, n, d: _beta_data(rng, n, d),
        rival="continuous_bernoulli",
    ),
    "student_t": Spec(
        support="real",
        params=lambda rng, n, d: dict(
            **_gaussian_params(rng, n, d), df=np.array([2.5, 4.0, 30.0])),
        configure=_t_configure,
        draw=lambda rng, p: p["loc"] + p["scale"] * rng.standard_t(p["df"], size=p["loc"].shape),
        logpdf=lambda x, p: stats.t.logpdf(x, p["df"], p["loc"], p["scale"]),
        data=lambda rng, n, d: latent_rows(rng, n, d, 2.0) + rng.standard_t(2.0, size=(n, d)),
        rival="gaussian",
    ),
    "gaussian_lowrank": Spec(
        support="real",
        params=_low_rank_params,
        configure=_low_rank_configure,
        draw=_low_rank_draw,
        logpdf=_low_rank_logpdf,
        data=_correlated_residuals,
        rival="gaussian",
    ),
}


def test_every_likelihood_has_a_spec():
    assert set(SPECS) == set(LIKELIHOODS)
    for name, spec in SPECS.items():
        assert spec.rival in LIKELIHOODS and spec.rival != name


# --------------------------------------------------------------- (1) exact log-density
@pytest.mark.parametrize("name", sorted(LIKELIHOODS))
def test_head_log_prob_matches_scipy(name):
    spec, rng = SPECS[name], np.random.RandomState(0)
    n, d = 200, 3
    params = spec.params(rng, n, d)
    head = LIKELIHOODS[name]().head(n, d).double()
    spec.configure(head, params)
    x = spec.draw(rng, params)
    assert in_support(x, spec.support)

    with torch.no_grad():
        dist = head(torch.eye(n, dtype=torch.float64))
        got = dist.log_prob(torch.from_numpy(x)).numpy()
    assert tuple(dist.batch_shape) == (n,) and tuple(dist.event_shape) == (d,)
    np.testing.assert_allclose(got, spec.logpdf(x, params).sum(axis=1), rtol=1e-9, atol=1e-9)


# -------------------------------------------------------- (2) normalised, after fitting
def _grid(support, d):
    """Points and weights of a quadrature (or a sum) over the support, in d dimensions."""
    if support == "onehot":  # the d one-hot rows are the whole support
        return np.eye(d), np.ones(d)
    if support == "binary":
        axis, w = np.array([0.0, 1.0]), np.ones(2)
    elif support == "counts":
        axis = np.arange(301.0)
        w = np.ones_like(axis)
    elif support in ("unit", "open_unit"):
        # Tanh-sinh quadrature stays accurate even where a Beta density with a
        # concentration below 1 is infinite at an end of (0, 1).
        h = 0.05
        u = np.arange(-3.0, 3.0 + h / 2, h)
        s = np.pi / 2 * np.sinh(u)
        axis = special.expit(2 * s)
        w = h * np.pi / 2 * np.cosh(u) * 2 * axis * special.expit(-2 * s)
    else:
        # x = tan(theta) maps (-pi/2, pi/2) onto the real line, heavy tails included.
        nodes, w = np.polynomial.legendre.leggauss(400)
        theta = nodes * np.pi / 2
        axis, w = np.tan(theta), w * np.pi / 2 / np.cos(theta) ** 2
    points = np.array(list(itertools.product(axis, repeat=d)))
    weights = np.prod(np.array(list(itertools.product(w, repeat=d))), axis=1)
    return points, weights


@pytest.mark.parametrize("name", sorted(LIKELIHOODS))
def test_fitted_decoder_distribution_is_normalised(name):
    spec, rng = SPECS[name], np.random.RandomState(0)
    X = spec.data(rng, 60, 2)
    vae = VAETransformer(n_components=1, hidden_layer_sizes=(8,), likelihood=name,
                         max_iter=3, random_state=0, device="cpu").fit(X)
    module = copy.deepcopy(vae.module_).double().eval()
    points, weights = _grid(spec.support, 2)
    with torch.no_grad():
        for z in (0.0, 1.3):
            dist = module.decode(torch.tensor([[z]], dtype=torch.float64))
            log_p = dist.log_prob(torch.from_numpy(points)).numpy()
            assert np.sum(weights * np.exp(log_p)) == pytest.approx(1.0, abs=1e-6)


# ------------------------------------------------- (3) the right likelihood scores higher
@pytest.mark.parametrize("name", sorted(LIKELIHOODS))
def test_true_likelihood_beats_misspecified_one(name):
    spec, rng = SPECS[name], np.random.RandomState(0)
    X = spec.data(rng, 400, 5)
    X_train, X_test = X[:250], X[250:]
    scores = {}
    for likelihood in (name, spec.rival):
        vae = VAETransformer(n_components=1, hidden_layer_sizes=(16,), likelihood=likelihood,
                             batch_size=50, learning_rate_init=0.02, max_iter=20,
                             random_state=0, device="cpu")
        scores[likelihood] = vae.fit(X_train).score(X_test)
    assert scores[name] > scores[spec.rival], scores


# ------------------------------------------------------------------- (4) support checks
SUPPORT_VIOLATIONS = [
    ("bernoulli", 2.0),
    ("bernoulli", -0.5),
    ("poisson", -1.0),
    ("poisson", 1.5),
    ("negative_binomial", -2.0),
    ("negative_binomial", 0.25),
    ("continuous_bernoulli", 1.5),
    ("continuous_bernoulli", -0.25),
    ("beta", 0.0),
    ("beta", 1.0),
    ("beta", -0.5),
    ("beta", 1.5),
    ("categorical", 2.0),
    ("categorical", -1.0),
]


@pytest.mark.parametrize("name, value", SUPPORT_VIOLATIONS)
def test_support_check_names_the_column(name, value):
    spec = SPECS[name]
    X = spec.data(np.random.RandomState(0), 30, 4)
    bad = X.copy()
    bad[7, 2] = value
    message = rf"likelihood='{name}' needs .+; column 2 "
    with pytest.raises(ValueError, match=message):
        LIKELIHOODS[name]().check_support(bad)
    vae = VAETransformer(n_components=1, hidden_layer_sizes=(4,), likelihood=name,
                         max_iter=1, random_state=0, device="cpu")
    with pytest.raises(ValueError, match=message):
        vae.fit(bad)
    vae.fit(X)
    with pytest.raises(ValueError, match=message):
        vae.score_samples(bad)


@pytest.mark.parametrize("name", ["poisson", "negative_binomial", "beta",
                                  "continuous_bernoulli"])
def test_support_message_shows_the_value(name):
    X = SPECS[name].data(np.random.RandomState(0), 10, 3)
    X[4, 1] = -1.5
    with pytest.raises(ValueError, match=rf"likelihood='{name}' needs .+; column 1 holds -1\.5"):
        LIKELIHOODS[name]().check_support(X)


@pytest.mark.parametrize("name", sorted(LIKELIHOODS))
def test_support_check_accepts_its_own_data(name):
    spec = SPECS[name]
    params = spec.params(np.random.RandomState(1), 100, 3)
    LIKELIHOODS[name]().check_support(spec.draw(np.random.RandomState(2), params))
    LIKELIHOODS[name]().check_support(spec.data(np.random.RandomState(3), 100, 3))


# --------------------------------------------------- (5) the estimator API, every entry
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(LIKELIHOODS))
def test_estimator_api_is_finite_and_in_support(name, dtype):
    spec = SPECS[name]
    X = spec.data(np.random.RandomState(0), 40, 3).astype(dtype)
    vae = VAETransformer(n_components=2, hidden_layer_sizes=(8,), likelihood=name,
                         max_iter=3, random_state=0, device="cpu").fit(X)

    Z = vae.transform(X)
    assert Z.shape == (40, 2) and Z.dtype == dtype and np.isfinite(Z).all()
    scores = vae.score_samples(X)
    assert scores.shape == (40,) and np.isfinite(scores).all()
    assert np.isfinite(vae.score(X))

    X_hat = vae.inverse_transform(Z)
    assert X_hat.shape == X.shape and X_hat.dtype == dtype and np.isfinite(X_hat).all()
    # The decoder mean lies in the closed convex hull of the support.
    if spec.support in ("binary", "unit", "open_unit", "onehot"):
        assert ((X_hat >= 0) & (X_hat <= 1)).all()
    if spec.support == "onehot":
        np.testing.assert_allclose(X_hat.sum(axis=1), 1.0, rtol=1e-5)
    elif spec.support == "counts":
        assert (X_hat >= 0).all()

    X_new = vae.sample(200, random_state=0)
    assert X_new.shape == (200, 3)
    assert in_support(X_new, spec.support)
    np.testing.assert_array_equal(X_new, vae.sample(200, random_state=0))
    # Samples are valid input: the estimator scores what it generates.
    assert np.isfinite(vae.score_samples(X_new)).all()


@pytest.mark.parametrize("row", [[0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 1.0, 0.0]])
def test_categorical_needs_one_hot_rows(row):
    X = SPECS["categorical"].data(np.random.RandomState(0), 30, 4)
    X[7] = row
    with pytest.raises(ValueError, match=r"needs one-hot rows; row 7 sums to"):
        VAETransformer(likelihood="categorical", max_iter=1, device="cpu").fit(X)
