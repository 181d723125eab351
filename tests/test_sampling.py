"""Sampling with the estimator's own generator: each sampler draws what torch's own
distribution draws (same law), and torch's global generator is never read nor changed."""

import numpy as np
import pytest
import torch
from scipy import stats
from torch.distributions import (
    Bernoulli,
    Beta,
    Categorical,
    ContinuousBernoulli,
    Distribution,
    Gamma,
    Independent,
    MixtureSameFamily,
    MultivariateNormal,
    NegativeBinomial,
    Normal,
    OneHotCategorical,
    Poisson,
    StudentT,
)

from skvae._sampling import draw, standard_gamma
from skvae.likelihoods import LIKELIHOODS, MixedLikelihood

N_DRAWS = 20_000

#: Laws with densities (or many values): compared by a two-sample KS test.
CONTINUOUS = {
    "normal": lambda: Normal(torch.tensor(1.5), torch.tensor(2.0)),
    "gamma_small_shape": lambda: Gamma(torch.tensor(0.3), torch.tensor(2.0)),
    "gamma_large_shape": lambda: Gamma(torch.tensor(7.5), torch.tensor(0.5)),
    "beta": lambda: Beta(torch.tensor(2.0), torch.tensor(5.0)),
    "beta_small": lambda: Beta(torch.tensor(0.2), torch.tensor(0.7)),
    "student_t": lambda: StudentT(torch.tensor(3.0), torch.tensor(-1.0), torch.tensor(0.5)),
    "continuous_bernoulli": lambda: ContinuousBernoulli(logits=torch.tensor(2.0)),
    "negative_binomial": lambda: NegativeBinomial(torch.tensor(2.5), logits=torch.tensor(1.2)),
    "negative_binomial_small_r": lambda: NegativeBinomial(torch.tensor(0.05),
                                                          logits=torch.tensor(3.0)),
    "poisson": lambda: Poisson(torch.tensor(30.0)),
    "mixture": lambda: MixtureSameFamily(
        Categorical(logits=torch.tensor([0.0, 1.0, -1.0])),
        Independent(Normal(torch.tensor([[-3.0], [0.0], [4.0]]), torch.tensor([[0.5], [1.0],
                                                                                [0.3]])), 1)),
}

#: Laws with few values: compared by the frequency of each value (chi-squared test).
DISCRETE = {
    "bernoulli": lambda: Bernoulli(probs=torch.tensor(0.3)),
    "poisson_small": lambda: Poisson(torch.tensor(1.7)),
    "categorical": lambda: Categorical(probs=torch.tensor([0.1, 0.6, 0.3])),
    "one_hot": lambda: OneHotCategorical(probs=torch.tensor([0.2, 0.5, 0.3])),
}


def ours(distribution, seed=0, n=N_DRAWS):
    return draw(distribution, torch.Generator().manual_seed(seed), (n,)).reshape(n, -1)


def torchs(distribution, seed=1, n=N_DRAWS):
    torch.manual_seed(seed)
    return distribution.sample((n,)).reshape(n, -1)


@pytest.mark.parametrize("name", CONTINUOUS)
def test_sampler_draws_torchs_law(name):
    distribution = CONTINUOUS[name]()
    a, b = ours(distribution)[:, 0].numpy(), torchs(distribution)[:, 0].numpy()
    assert stats.ks_2samp(a, b).pvalue > 1e-3
    assert np.mean(a) == pytest.approx(np.mean(b), rel=0.05, abs=0.05)


@pytest.mark.parametrize("name", DISCRETE)
def test_discrete_sampler_draws_torchs_frequencies(name):
    distribution = DISCRETE[name]()
    a, b = ours(distribution), torchs(distribution)
    if a.shape[1] > 1:  # one-hot rows: compare the categories
        a, b = a.argmax(1, keepdim=True), b.argmax(1, keepdim=True)
    values = np.union1d(a.numpy().ravel(), b.numpy().ravel())
    counts = np.array([[(a.numpy() == v).sum(), (b.numpy() == v).sum()] for v in values])
    counts = counts[counts.sum(1) >= 5]
    assert stats.chi2_contingency(counts.T).pvalue > 1e-3


def test_multivariate_normal_sampler_has_its_mean_and_covariance():
    covariance = torch.tensor([[2.0, 0.8], [0.8, 1.0]])
    distribution = MultivariateNormal(torch.tensor([1.0, -2.0]), covariance)
    z = ours(distribution, n=50_000).double()
    assert torch.allclose(z.mean(0), distribution.mean.double(), atol=0.03)
    assert torch.allclose(torch.cov(z.T), covariance.double(), atol=0.05)


def test_standard_gamma_has_the_gamma_moments_for_every_shape():
    shape = torch.tensor([0.01, 0.5, 1.0, 3.0, 100.0]).repeat(40_000, 1)
    g = standard_gamma(shape.double(), torch.Generator().manual_seed(0))
    assert bool((g > 0).all())
    np.testing.assert_allclose(g.mean(0), shape[0].double(), rtol=0.05)
    np.testing.assert_allclose(g.var(0), shape[0].double(), rtol=0.1)


BUILT_IN = ["bernoulli", "beta", "categorical", "continuous_bernoulli", "gaussian",
            "gaussian_lowrank",
            "negative_binomial", "poisson", "student_t"]


def test_the_built_in_likelihoods_are_all_sampled_here():
    built_in = {name for name, cls in LIKELIHOODS.items()
                if cls.__module__ == "skvae.likelihoods"}
    assert built_in == set(BUILT_IN)


@pytest.mark.parametrize("name", [*BUILT_IN, "mixed"])
def test_every_likelihood_head_samples_its_own_mean(name):
    likelihood = (MixedLikelihood([("gaussian", 2), ("poisson", 1), ("categorical", 3)])
                  if name == "mixed" else LIKELIHOODS[name]())
    n_features = likelihood.n_columns if name == "mixed" else 3
    head = likelihood.head(4, n_features)
    with torch.no_grad():
        distribution = head(torch.randn(2, 4, generator=torch.Generator().manual_seed(0)))
        x = draw(distribution, torch.Generator().manual_seed(0), (20_000,))
        assert x.shape == (20_000, 2, n_features)
        spread = x.std(0) / np.sqrt(20_000)
        assert bool((abs(x.mean(0) - distribution.mean) <= 5 * spread + 1e-3).all())


def test_same_generator_seed_same_draws_and_the_global_generator_untouched():
    distribution = NegativeBinomial(torch.tensor([0.5, 4.0]), logits=torch.tensor([0.0, 1.0]))
    before = torch.random.get_rng_state()
    first = ours(distribution, seed=3, n=100)
    assert torch.equal(first, ours(distribution, seed=3, n=100))
    assert torch.equal(torch.random.get_rng_state(), before)


class _Uniform01(Distribution):
    """A distribution of a type skvae's samplers do not know, with an icdf."""

    arg_constraints = {}

    def __init__(self):
        super().__init__(torch.Size(), validate_args=False)

    def icdf(self, value):
        return value


def test_an_unknown_distribution_is_drawn_by_its_icdf_or_refused():
    u = draw(_Uniform01(), torch.Generator().manual_seed(0), (1000,))
    assert 0 <= float(u.min()) and float(u.max()) <= 1 and abs(float(u.mean()) - 0.5) < 0.05

    class NoWay(_Uniform01):
        def icdf(self, value):
            raise NotImplementedError

    with pytest.raises(TypeError, match="sample_with"):
        draw(NoWay(), torch.Generator().manual_seed(0), (3,))


def test_a_distribution_with_sample_with_draws_through_it():
    class Own(_Uniform01):
        def sample_with(self, generator, sample_shape=torch.Size()):
            return torch.full(sample_shape, 7.0)

    assert torch.equal(draw(Own(), torch.Generator(), (2,)), torch.full((2,), 7.0))
