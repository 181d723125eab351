"""Defaults a user can trust, and the closed-form terms of the training step."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from torch.distributions import Independent, Normal, StudentT, kl_divergence

from skvae import VAEGenerator, VAETransformer
from skvae.likelihoods import GaussianLikelihood, StudentTLikelihood
from skvae.priors import NormalPrior

FAST = dict(hidden_layer_sizes=(8,), max_iter=3, random_state=0, device="cpu")


def test_default_fit_of_digits_converges_without_a_warning():
    X = load_digits().data / 16
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        vae = VAETransformer(n_components=8, random_state=0).fit(X)
    assert vae.converged_
    assert vae.validation_scores_ is not None  # early_stopping="auto" held rows out
    assert vae.n_iter_ < vae.max_iter


@pytest.mark.parametrize("Estimator", [VAETransformer, VAEGenerator])
def test_auto_early_stopping_holds_out_rows_in_fit_only(Estimator):
    X = np.random.RandomState(0).normal(size=(200, 3))
    est = Estimator(**FAST).fit(X)
    assert est.early_stopping == "auto" and len(est.validation_scores_) == est.n_iter_
    est.partial_fit(X)  # no error, no validation rows
    assert est.validation_scores_ is None


def test_auto_early_stopping_keeps_tiny_data_for_training():
    X = np.random.RandomState(0).normal(size=(40, 3))
    est = VAETransformer(**FAST).fit(X)
    assert est.validation_scores_ is None and est.best_loss_ is not None


def test_explicit_early_stopping_in_partial_fit_is_refused():
    X = np.random.RandomState(0).normal(size=(40, 3))
    with pytest.raises(ValueError, match="partial_fit does not support"):
        VAETransformer(early_stopping=True, **FAST).partial_fit(X)


def test_convergence_warning_says_what_to_change():
    X = np.random.RandomState(0).normal(size=(40, 3))
    with pytest.warns(ConvergenceWarning, match="raise max_iter, or set early_stopping"):
        VAETransformer(early_stopping=False, **FAST).fit(X)


def _diagonal_posterior(n=5, k=3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    loc = torch.randn(n, k, generator=generator, dtype=torch.float64)
    scale = torch.rand(n, k, generator=generator, dtype=torch.float64) + 0.1
    return Independent(Normal(loc, scale), 1)


def test_closed_form_kl_to_the_standard_normal_matches_torch():
    q = _diagonal_posterior()
    prior = NormalPrior().module(3, 4).double()
    expected = kl_divergence(q, prior())
    torch.testing.assert_close(prior.kl(q, q.mean), expected)


def test_gaussian_row_density_matches_independent_normals():
    head = GaussianLikelihood().head(4, 6).double()
    generator = torch.Generator().manual_seed(0)
    h = torch.randn(5, 4, generator=generator, dtype=torch.float64)
    x = torch.randn(5, 6, generator=generator, dtype=torch.float64)
    rows = head(h)
    plain = Independent(Normal(rows.base_dist.loc, rows.base_dist.scale), 1)
    torch.testing.assert_close(rows.log_prob(x), plain.log_prob(x))
    z = torch.randn(7, 5, 4, generator=generator, dtype=torch.float64)  # a draws axis
    rows = head(z)
    plain = Independent(Normal(rows.base_dist.loc, rows.base_dist.scale), 1)
    torch.testing.assert_close(rows.log_prob(x), plain.log_prob(x))


def test_student_t_row_density_matches_independent_student_t():
    head = StudentTLikelihood().head(4, 6).double()
    with torch.no_grad():  # degrees of freedom and scales that differ by feature
        head.raw_df.copy_(torch.linspace(-2.0, 3.0, 6, dtype=torch.float64))
        head.raw_scale.copy_(torch.linspace(-3.0, 1.0, 6, dtype=torch.float64))
    generator = torch.Generator().manual_seed(0)
    x = 3.0 * torch.randn(5, 6, generator=generator, dtype=torch.float64)
    for h in (torch.randn(5, 4, generator=generator, dtype=torch.float64),
              torch.randn(7, 5, 4, generator=generator, dtype=torch.float64)):  # draws axis
        rows = head(h)
        plain = Independent(StudentT(head.df(), rows.base_dist.loc, head.scale()), 1)
        torch.testing.assert_close(rows.log_prob(x), plain.log_prob(x))
