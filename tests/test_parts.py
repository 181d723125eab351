"""Priors, posteriors and the training options around them, through their registries."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from skvae import VAETransformer
from skvae._module import init_weights
from skvae._objectives import ELBOObjective
from skvae.datasets import make_manifold
from skvae.posteriors import POSTERIORS, get_posterior
from skvae.priors import PRIORS, MixtureOfGaussiansPrior, VampPrior, get_prior

FAST = dict(hidden_layer_sizes=(16,), max_iter=8, random_state=0, device="cpu")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def data():
    X, _ = make_manifold(300, n_features=6, random_state=0)
    return X


@pytest.fixture(scope="module", params=[(p, q) for p in sorted(PRIORS) for q in sorted(POSTERIORS)],
                ids=lambda pq: f"{pq[0]}-{pq[1]}")
def fitted(request, data):
    prior, posterior = request.param
    return VAETransformer(n_components=2, prior=prior, posterior=posterior, **FAST).fit(data)


def test_every_part_fits_scores_and_samples(fitted, data):
    assert np.all(np.isfinite(fitted.transform(data)))
    assert np.all(np.isfinite(fitted.score_samples(data)))
    assert np.all(np.isfinite(fitted.sample(20, random_state=0)))
    assert fitted.prior_ == get_prior(fitted.prior)
    assert fitted.posterior_ == get_posterior(fitted.posterior)


def test_importance_sampled_likelihood_is_above_the_elbo(fitted, data):
    elbo = fitted.score_samples(data).mean()
    few = fitted.log_likelihood(data, n_samples=8).mean()
    many = fitted.log_likelihood(data, n_samples=500).mean()
    # IWAE bounds tighten with more samples and sit above the ELBO (in expectation;
    # the draws are shared by all rows, hence a small tolerance).
    assert many >= elbo - 0.02
    assert many >= few - 0.02


def test_log_likelihood_is_deterministic_per_row(fitted, data):
    full = fitted.log_likelihood(data[:40], n_samples=64)
    order = np.random.RandomState(0).permutation(40)
    np.testing.assert_allclose(fitted.log_likelihood(data[:40][order], n_samples=64),
                               full[order], rtol=1e-12)
    np.testing.assert_allclose(fitted.log_likelihood(data[5:6], n_samples=64), full[5:6],
                               rtol=1e-12)


def test_score_samples_is_batch_invariant_for_every_part(fitted, data):
    scores = fitted.score_samples(data[:30])
    np.testing.assert_allclose(fitted.score_samples(data[10:11]), scores[10:11], rtol=1e-12)


def _seeded_head(posterior, generator):
    """A float64 posterior head (4 inputs, 3 latents) whose weights come from ``generator``.

    Built from torch's global RNG alone, the weights would depend on which tests ran
    before in the same process.
    """
    head = get_posterior(posterior).head(4, 3)
    init_weights(head, generator)
    return head.double()


@pytest.mark.parametrize("posterior", sorted(POSTERIORS))
def test_closed_form_kl_agrees_with_monte_carlo(posterior):
    g = torch.Generator().manual_seed(0)
    head = _seeded_head(posterior, g)
    q = head(torch.randn(5, 4, dtype=torch.float64, generator=g))
    prior = get_prior("normal").module(3, 4).double()
    z = head.reparameterise(q, torch.randn(200_000, 1, 3, dtype=torch.float64, generator=g))
    closed = prior.kl(q, z)
    monte_carlo = (q.log_prob(z) - prior().log_prob(z)).mean(0)
    np.testing.assert_allclose(closed.detach(), monte_carlo.detach(), rtol=0.02, atol=0.01)


@pytest.mark.parametrize("posterior", sorted(POSTERIORS))
def test_monte_carlo_kl_is_unbiased_and_less_noisy_than_the_log_ratio(posterior):
    # The mixture prior has no closed-form KL: it is -H(q) (exact) - E_q[log p(z)]
    # (estimated). Check its mean against log q(z) - log p(z) over many draws, and that
    # a single draw is less noisy than that log ratio for a narrow posterior.
    g = torch.Generator().manual_seed(0)
    head = _seeded_head(posterior, g)
    with torch.no_grad():
        head.linear.bias[3:6] -= 2.0  # posterior scales about 0.13
    prior = get_prior("mog").module(3, 4).double()
    prior.init_from(g)
    with torch.no_grad():
        q = head(torch.randn(5, 4, dtype=torch.float64, generator=g))
        z = head.reparameterise(q, torch.randn(100_000, 1, 3, dtype=torch.float64, generator=g))
        log_ratio = q.log_prob(z) - prior().log_prob(z)
        one_draw = torch.stack([prior.kl(q, z[k]) for k in range(2_000)])
    np.testing.assert_allclose(one_draw.mean(0), log_ratio.mean(0), rtol=0, atol=0.05)
    ratio = one_draw.std(0) / log_ratio.std(0)
    assert bool((ratio < 0.75).all()) and float(ratio.mean()) < 0.5


def test_full_posterior_has_correlated_latents():
    head = get_posterior("full").head(4, 3)
    with torch.no_grad():
        head.linear.bias.normal_()
        q = head(torch.zeros(1, 4))
    covariance = q.covariance_matrix[0]
    assert torch.count_nonzero(covariance - torch.diag(torch.diag(covariance))) > 0
    torch.linalg.cholesky(covariance)  # a valid covariance: positive definite


def test_mixture_prior_clusters_well_separated_blobs():
    X, y = make_blobs(600, n_features=6, centers=4, cluster_std=0.8, random_state=0)
    est = VAETransformer(n_components=2, prior="mog", hidden_layer_sizes=(32,), max_iter=60,
                         learning_rate_init=3e-3, random_state=0, device="cpu").fit(X)
    labels = est.predict(X)
    assert labels.dtype.kind == "i" and labels.shape == (600,)
    assert adjusted_rand_score(y, labels) > 0.9


def test_predict_exists_only_with_a_mixture_prior(data):
    assert not hasattr(VAETransformer(), "predict")
    assert hasattr(VAETransformer(prior="mog"), "predict")
    assert hasattr(VAETransformer(prior=MixtureOfGaussiansPrior(n_clusters=3)), "predict")


def test_vamp_pseudo_inputs_are_learned(data):
    est = VAETransformer(n_components=2, prior=VampPrior(n_pseudo_inputs=7), **FAST).fit(data)
    pseudo = est.module_.prior.pseudo_inputs
    assert pseudo.shape == (7, data.shape[1])
    start = VAETransformer(n_components=2, prior=VampPrior(n_pseudo_inputs=7),
                           **{**FAST, "max_iter": 1}).fit(data).module_.prior.pseudo_inputs
    assert not torch.equal(pseudo, start)


@pytest.mark.parametrize("n_pseudo_inputs", [7, 150, 400])
def test_vamp_pseudo_inputs_start_at_training_rows(data, n_pseudo_inputs):
    est = VAETransformer(n_components=2, prior=VampPrior(n_pseudo_inputs=n_pseudo_inputs),
                         **FAST)
    state = est._fresh_state(data)
    pseudo = state["module_"].prior.pseudo_inputs.detach().double().numpy()
    rows = (data - state["_standardizer"].loc) / state["_standardizer"].scale
    distance = np.abs(pseudo[:, None, :] - rows[None, :, :]).max(-1)
    assert (distance.min(1) < 1e-6).all()  # each one is a (float32) training row
    n_distinct = min(n_pseudo_inputs, len(data))
    assert len(np.unique(distance.argmin(1))) == n_distinct  # drawn without replacement first
    again = est._fresh_state(data)["module_"].prior.pseudo_inputs
    assert torch.equal(again, state["module_"].prior.pseudo_inputs)  # seeded


@pytest.mark.parametrize("prior", [MixtureOfGaussiansPrior(n_clusters=0),
                                   VampPrior(n_pseudo_inputs=-2)])
def test_bad_prior_settings_are_rejected(data, prior):
    with pytest.raises(ValueError, match="must be a positive integer"):
        VAETransformer(prior=prior, **FAST).fit(data)


def _kl_weights(n_epochs, start_epoch=0, **params):
    objective = ELBOObjective(None, None, None, None, None, free_bits=0.0,
                              start_epoch=start_epoch, **params)
    weights = []
    for epoch in range(n_epochs):
        objective.on_epoch(epoch)
        weights.append(objective.kl_weight)
    return weights


def test_kl_warmup_ramps_the_kl_weight():
    assert _kl_weights(5, beta=2.0, kl_warmup=3) == pytest.approx([0.5, 1.0, 1.5, 2.0, 2.0])
    assert _kl_weights(1, beta=2.0, kl_warmup=0) == [2.0]
    # partial_fit continues the ramp where the previous call left it.
    assert _kl_weights(2, start_epoch=2, beta=2.0, kl_warmup=3) == pytest.approx([1.5, 2.0])


def test_convergence_is_not_declared_during_kl_warmup(data):
    params = {**FAST, "max_iter": 100, "tol": 1e6, "n_iter_no_change": 1,
              "early_stopping": False, "learning_rate": "constant"}
    plain = VAETransformer(**params).fit(data)
    warm = VAETransformer(kl_warmup=10, **params).fit(data)
    assert plain.n_iter_ == 3
    assert warm.n_iter_ == 10 + 3


def test_free_bits_keep_the_kl_from_collapsing(data):
    def mean_kl(**params):
        est = VAETransformer(n_components=2, beta=20.0, hidden_layer_sizes=(16,), max_iter=30,
                             random_state=0, device="cpu", **params).fit(data)
        x = torch.as_tensor((data - est._standardizer.loc) / est._standardizer.scale, dtype=torch.float32)
        with torch.no_grad():
            q = est.module_.encode(x)
            return float(est.module_.prior.kl(q, q.mean).mean())

    assert mean_kl(free_bits=1.0) > mean_kl() + 0.3


def test_active_units_count_the_latents_in_use():
    X, _ = make_manifold(500, n_latent=2, n_features=8, random_state=0)
    # A fixed training budget on all rows, so the two fits differ in beta alone.
    fixed = dict(hidden_layer_sizes=(32,), max_iter=60, learning_rate_init=3e-3,
                 early_stopping=False, learning_rate="constant", random_state=0,
                 device="cpu")
    est = VAETransformer(n_components=6, **fixed).fit(X)
    collapsed = VAETransformer(n_components=6, beta=200.0, **fixed).fit(X)
    assert 2 <= est.n_active_components_ < 6
    assert collapsed.n_active_components_ < est.n_active_components_


def test_a_part_registered_after_import_is_accepted_by_name(data):
    from skvae.likelihoods import LIKELIHOODS, GaussianLikelihood, register_likelihood

    @register_likelihood
    class _Renamed(GaussianLikelihood):
        name = "gaussian-renamed-for-tests"

    try:
        est = VAETransformer(likelihood="gaussian-renamed-for-tests", **FAST).fit(data)
        assert type(est.likelihood_) is _Renamed
    finally:
        del LIKELIHOODS["gaussian-renamed-for-tests"]
