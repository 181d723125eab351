"""Latent structures: the hierarchical VAE (several stochastic layers) and the
two-stage prior (a second VAE over the codes, Dai and Wipf 2019)."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks as ec
from sklearn.utils.estimator_checks import parametrize_with_checks

from skvae import HierarchicalVAETransformer, VAEClassifier, VAETransformer, load, save
from skvae._sampling import draw
from skvae.priors import PRIORS, TwoStagePrior

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CHEAP = dict(n_components=(3, 2), hidden_layer_sizes=(8,), link_layer_sizes=(4,),
             max_iter=5, device="cpu")


def expected_failed_checks(estimator):
    """The one check a stochastic fit cannot pass, as for VAETransformer."""
    return {
        "check_sample_weight_equivalence_on_dense_data": (
            "integer weights and repeated rows give other minibatches, so the fits "
            "agree in distribution only; tests/test_sample_weight.py checks that"
        ),
    }


@parametrize_with_checks([HierarchicalVAETransformer(**CHEAP),
                          HierarchicalVAETransformer(inference="top_down", **CHEAP)],
                         expected_failed_checks=expected_failed_checks)
def test_hierarchical_passes_the_sklearn_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("check", [ec.check_param_validation,
                                   ec.check_transformer_get_feature_names_out],
                         ids=lambda c: c.__name__)
def test_hierarchical_passes_the_extra_sklearn_checks(check):
    check("HierarchicalVAETransformer", HierarchicalVAETransformer(**CHEAP))


@pytest.fixture(scope="module")
def binary():
    rng = np.random.RandomState(0)
    centres = rng.rand(4, 6)
    return (rng.rand(200, 6) < centres[rng.randint(4, size=200)]).astype(float)


@pytest.fixture(scope="module")
def hierarchy(binary):
    return HierarchicalVAETransformer((4, 2), hidden_layer_sizes=(16,),
                                      link_layer_sizes=(8,), likelihood="bernoulli",
                                      max_iter=30, random_state=0, device="cpu").fit(binary)


# ----------------------------------------------------------------- hierarchical VAE
def test_importance_sampled_estimate_is_above_the_elbo(hierarchy, binary):
    elbo = hierarchy.score_samples(binary)
    log_lik = hierarchy.log_likelihood(binary, n_samples=200)
    assert log_lik.mean() > elbo.mean()
    assert np.mean(log_lik >= elbo) > 0.9


def _grid(limit=7.0, n=241):
    grid = torch.linspace(-limit, limit, n, dtype=torch.float64)
    z1, z2 = torch.meshgrid(grid, grid, indexing="ij")
    return z1.reshape(-1, 1), z2.reshape(-1, 1), (grid[1] - grid[0]) ** 2


def _grid_log_marginal(module, x):
    """log p(x) of a model with two one-unit layers, by quadrature over (z_1, z_2).

    Built from the module's networks by hand, with torch.distributions: the
    independent computation of the model's density.
    """
    z1, z2, step = _grid()
    log_prior = torch.distributions.Normal(0.0, 1.0).log_prob(z2[:, 0])
    conditional = module.conditionals[0](z2)
    log_z1 = conditional.log_prob(z1)
    logits = module.likelihood.logits(module.decoder(z1))
    log_x = torch.distributions.Bernoulli(logits=logits).log_prob(x).sum(-1)
    return torch.logsumexp(log_prior + log_z1 + log_x, 0) + torch.log(step)


def _normal(dist):
    return torch.distributions.Normal(dist.base_dist.loc, dist.base_dist.scale)


def _grid_importance_integral(module, x):
    """log of the integral of q(z | x) times the module's importance weight over the grid.

    ``q(z | x) * p(x, z) / q(z | x)`` integrates to p(x) exactly when ``log_weights``
    holds every term of the hierarchy's joint density and of q. q is written out by
    hand here for each inference path, and the noise that gives each grid point
    derived from it.
    """
    z1, z2, step = _grid()
    d1 = module.encoder(x[None])
    if module.top_down:
        q2 = _normal(module.up_heads[0](module.up[0](d1)))
        estimate, prior = _normal(module.posterior(d1)), _normal(module.conditionals[0](z2))
        precision = estimate.scale ** -2 + prior.scale ** -2
        loc = (estimate.loc * estimate.scale ** -2 + prior.loc * prior.scale ** -2) / precision
        q1 = torch.distributions.Normal(loc, precision ** -0.5)
    else:
        q1 = _normal(module.posterior(d1))
        q2 = _normal(module.up_heads[0](module.up[0](z1)))
    noise = torch.cat([(z1 - q1.loc) / q1.scale, (z2 - q2.loc) / q2.scale], -1)
    log_q = (q1.log_prob(z1) + q2.log_prob(z2))[:, 0]
    log_w = module.log_weights(x[None], noise[:, None, :])[:, 0]
    return torch.logsumexp(log_w + log_q, 0) + torch.log(step)


@pytest.mark.parametrize("inference", ["bottom_up", "top_down"])
def test_importance_weights_are_exact_for_the_hierarchy(binary, inference):
    """On a tiny model, the importance weights integrate to the brute-force p(x), and
    ELBO <= IS estimate <= log p(x) on average."""
    est = HierarchicalVAETransformer((1, 1), inference=inference, hidden_layer_sizes=(4,),
                                     link_layer_sizes=(), likelihood="bernoulli",
                                     max_iter=30, random_state=0,
                                     device="cpu").fit(binary[:, :3])
    module = est._module64
    rows = np.unique(binary[:, :3], axis=0)
    with torch.no_grad():
        exact = np.array([float(_grid_log_marginal(module, torch.as_tensor(r)))
                          for r in rows])
        integral = np.array([float(_grid_importance_integral(module, torch.as_tensor(r)))
                             for r in rows])
    np.testing.assert_allclose(integral, exact, atol=1e-9)
    assert abs(np.logaddexp.reduce(exact)) < 1e-3  # p(x) sums to 1 over the 8 rows
    elbo = est.score_samples(rows)
    estimate = est.log_likelihood(rows, n_samples=2000)
    assert np.all(elbo <= exact)
    assert elbo.mean() < estimate.mean() < exact.mean() + 0.05


def test_top_down_layer_kl_is_the_closed_form(binary):
    """Top-down, each layer's KL term is KL(q || p) between Gaussians: its average over
    draws of z_2 matches the Monte Carlo average of log q - log p."""
    est = HierarchicalVAETransformer((2, 2), inference="top_down", hidden_layer_sizes=(8,),
                                     link_layer_sizes=(4,), likelihood="bernoulli",
                                     max_iter=3, random_state=0, device="cpu").fit(binary)
    module = est._module64
    x = torch.as_tensor(binary[:3])
    noise = torch.randn(20000, 1, 4, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        _, kls, _ = module.elbo_layers(x, noise)
        qs, zs = module.upward(x, noise)
        monte_carlo = (qs[0].log_prob(zs[0]) - module.conditionals[0](zs[1]).log_prob(zs[0]))
    np.testing.assert_allclose(kls[0].numpy(), monte_carlo.mean(0).numpy(), atol=0.03)


def test_one_layer_is_the_vae(binary):
    """With one layer the hierarchy's ELBO is the VAE's, given the same weights."""
    vae = VAETransformer(3, hidden_layer_sizes=(8,), likelihood="bernoulli", max_iter=3,
                         random_state=0, device="cpu").fit(binary)
    one = HierarchicalVAETransformer(3, hidden_layer_sizes=(8,), likelihood="bernoulli",
                                     max_iter=1, random_state=1, device="cpu").fit(binary)
    one.module_.load_state_dict(vae.module_.state_dict())
    one._module64.load_state_dict(vae._module64.state_dict())
    np.testing.assert_allclose(one.score_samples(binary), vae.score_samples(binary),
                               rtol=1e-10)
    np.testing.assert_allclose(one.transform(binary), vae.transform(binary), rtol=1e-10)


def _objective_loss(est, binary, **settings):
    objective = est._objective(est.module_, binary, None)
    objective.generator = torch.Generator().manual_seed(0)  # the same draws every call
    for name, value in settings.items():
        setattr(objective, name, value)
    x = est._standardizer.to_tensor(binary, torch.float32, "cpu")
    state = objective.generator.get_state()
    loss = objective.loss((x, None))
    objective.generator.set_state(state)
    noise = torch.randn(x.shape[0], est.module_.n_components, generator=objective.generator)
    return loss, est.module_.elbo_layers(x, noise)


def test_kl_weight_and_free_bits_apply_to_each_layer(hierarchy, binary):
    loss, (log_lik, kls, _) = _objective_loss(hierarchy, binary, kl_weight=0.3)
    torch.testing.assert_close(loss, 0.3 * sum(kl.mean() for kl in kls) - log_lik.mean())
    # A floor between the two layers' KL per unit: only the lower one is raised.
    per_unit = [float(kl.detach().mean()) / size for kl, size in zip(kls, (4, 2))]
    floor = 0.5 * (min(per_unit) + max(per_unit))
    loss, (log_lik, kls, _) = _objective_loss(hierarchy, binary, kl_weight=1.0,
                                              free_bits=floor)
    expected = sum(torch.clamp(kl.mean(), min=floor * size)
                   for kl, size in zip(kls, (4, 2))) - log_lik.mean()
    torch.testing.assert_close(loss, expected)
    total_floor = torch.clamp(sum(kl.mean() for kl in kls), min=floor * 6) - log_lik.mean()
    assert not torch.isclose(loss, total_floor)


def test_active_units_are_counted_per_layer(hierarchy):
    counts = hierarchy.n_active_components_
    assert type(counts) is tuple and len(counts) == 2
    assert all(0 <= n <= size for n, size in zip(counts, (4, 2)))


def test_transform_returns_the_chosen_layer(hierarchy, binary):
    bottom = hierarchy.transform(binary)
    with torch.no_grad():
        exact = hierarchy._module64.encode(torch.as_tensor(binary)).mean.numpy()
    np.testing.assert_allclose(bottom, exact, rtol=1e-10)
    top = pickle.loads(pickle.dumps(hierarchy))
    top.set_params(transform_layer=1)
    assert top.transform(binary).shape == (200, 4)  # set_params acts at the next fit
    top.set_params(max_iter=2).fit(binary)
    Z = top.transform(binary)
    assert Z.shape == (200, 2)
    assert list(top.get_feature_names_out()) == ["hierarchicalvaetransformer0",
                                                 "hierarchicalvaetransformer1"]
    # Fixed draws: a row's mean does not depend on the rows beside it.
    np.testing.assert_allclose(top.transform(binary[7:9]), Z[7:9], rtol=1e-10)
    assert top.inverse_transform(Z).shape == binary.shape
    with pytest.raises(ValueError, match="expecting 2 latent"):
        top.inverse_transform(bottom)


def test_samples_come_from_the_hierarchy(hierarchy, binary):
    a = hierarchy.sample(50, random_state=3)
    assert a.shape == (50, 6) and set(np.unique(a)) <= {0.0, 1.0}
    np.testing.assert_array_equal(a, hierarchy.sample(50, random_state=3))
    # Ancestral draws, checked against the layers run by hand.
    module = hierarchy.module_
    generator = torch.Generator().manual_seed(0)
    z = draw(module.sampling_distribution(), generator, (4,))
    generator = torch.Generator().manual_seed(0)
    top = torch.randn(4, 2, generator=generator)
    p = module.conditionals[0](top)
    by_hand = p.base_dist.loc + p.base_dist.scale * torch.randn(4, 4, generator=generator)
    torch.testing.assert_close(z, by_hand)


def test_hierarchical_round_trips(hierarchy, binary, tmp_path):
    save(hierarchy, tmp_path / "h.skvae")
    for loaded in (load(tmp_path / "h.skvae"), pickle.loads(pickle.dumps(hierarchy))):
        assert type(loaded) is HierarchicalVAETransformer
        assert loaded.n_active_components_ == hierarchy.n_active_components_
        np.testing.assert_array_equal(loaded.transform(binary), hierarchy.transform(binary))
        np.testing.assert_array_equal(loaded.score_samples(binary),
                                      hierarchy.score_samples(binary))


def test_top_down_round_trips(binary, tmp_path):
    est = HierarchicalVAETransformer(inference="top_down", transform_layer=1,
                                     **{**CHEAP, "random_state": 0}).fit(binary)
    save(est, tmp_path / "td.skvae")
    loaded = load(tmp_path / "td.skvae")
    assert loaded.module_.top_down
    np.testing.assert_array_equal(loaded.transform(binary), est.transform(binary))
    np.testing.assert_array_equal(loaded.sample(5, random_state=0),
                                  est.sample(5, random_state=0))


@pytest.mark.parametrize("params, match", [
    (dict(n_components=(4, 0)), "n_components must be a positive integer"),
    (dict(n_components=(4, True)), "a bool is not a size"),
    (dict(transform_layer=2), "transform_layer=2 names no layer"),
    (dict(prior="vamp"), "does not apply to the top layer"),
    (dict(prior="two_stage"), "does not apply to the top layer"),
    (dict(link_layer_sizes=(0,)), "link_layer_sizes must be"),
    (dict(inference="top_down", posterior="full"), "needs posterior='diagonal'"),
])
def test_bad_parameters_raise_and_leave_the_model_unchanged(hierarchy, binary, params,
                                                            match):
    est = pickle.loads(pickle.dumps(hierarchy))
    before = est.transform(binary)
    with pytest.raises(ValueError, match=match):
        est.set_params(**params).fit(binary)
    np.testing.assert_array_equal(est.transform(binary), before)


def test_warm_start_needs_the_same_layers(hierarchy, binary):
    est = pickle.loads(pickle.dumps(hierarchy)).set_params(warm_start=True,
                                                           n_components=(4, 3))
    with pytest.raises(ValueError, match=r"warm start needs n_components=\(4, 2\)"):
        est.fit(binary)


# ------------------------------------------------------------------ two-stage prior
STAGE = TwoStagePrior(hidden_layer_sizes=(16,), max_iter=20)


@pytest.fixture(scope="module")
def digits():
    return load_digits().data[:300] / 16.0


@pytest.fixture(scope="module")
def two_stage(digits):
    return VAETransformer(4, hidden_layer_sizes=(32,), prior=STAGE, max_iter=20,
                          random_state=0, device="cpu").fit(digits)


def test_two_stage_is_in_the_prior_registry():
    assert PRIORS["two_stage"] is TwoStagePrior


def test_second_stage_is_fitted_to_the_codes(two_stage, digits):
    prior = two_stage.module_.prior
    assert bool(prior.fitted)
    # The second VAE standardised the codes: its location is their mean, near the
    # posterior means' mean (the draws add zero-mean noise).
    codes_mean = two_stage.transform(digits).mean(axis=0)
    np.testing.assert_allclose(prior.code_loc.numpy(), codes_mean, atol=0.2)


def test_two_stage_samples_go_through_the_second_vae(two_stage):
    prior = two_stage.module_.prior
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        z = draw(prior.sampling_distribution(), generator, (5,))
        generator = torch.Generator().manual_seed(0)
        u = torch.randn(5, prior.stage2.n_components, generator=generator)
        p = prior.stage2.decode(u)
        by_hand = prior.code_loc + prior.code_scale * (
            p.base_dist.loc + p.feature_scale * torch.randn(5, 4, generator=generator))
    torch.testing.assert_close(z, by_hand)
    assert two_stage.sample(7, random_state=1).shape == (7, 64)


def test_two_stage_score_is_the_first_stage_elbo(two_stage, digits):
    """score reports the first stage with N(0, I): the same weights under the normal
    prior score the same."""
    plain = VAETransformer(4, hidden_layer_sizes=(32,), max_iter=1, random_state=0,
                           device="cpu").fit(digits)
    wanted = plain.module_.state_dict()
    state = {k: v for k, v in two_stage.module_.state_dict().items() if k in wanted}
    plain.module_.load_state_dict(state)
    plain._module64.load_state_dict(plain.module_.double().state_dict())
    plain.module_.float()
    plain._standardizer = two_stage._standardizer
    np.testing.assert_allclose(plain.score_samples(digits), two_stage.score_samples(digits),
                               rtol=1e-10)


def test_two_stage_round_trips(two_stage, tmp_path):
    save(two_stage, tmp_path / "two.skvae")
    for loaded in (load(tmp_path / "two.skvae"), pickle.loads(pickle.dumps(two_stage))):
        assert loaded.prior == STAGE
        np.testing.assert_array_equal(loaded.sample(9, random_state=0),
                                      two_stage.sample(9, random_state=0))


def test_two_stage_before_fit_raises_not_fitted():
    with pytest.raises(NotFittedError):
        VAETransformer(prior="two_stage").sample(2)


def test_two_stage_refuses_a_conditional_model(digits):
    y = np.arange(300) % 3
    est = VAEClassifier(2, hidden_layer_sizes=(8,), prior=STAGE, max_iter=1, device="cpu")
    with pytest.raises(ValueError, match="unconditional VAE"):
        est.fit(digits, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_two_stage_passes_the_sklearn_checks():
    estimator = VAETransformer(2, hidden_layer_sizes=(8,), max_iter=3, device="cpu",
                               prior=TwoStagePrior(hidden_layer_sizes=(4,), max_iter=2))
    ec.check_estimator(estimator, expected_failed_checks=expected_failed_checks(estimator))


@pytest.mark.parametrize("params, match", [
    (dict(hidden_layer_sizes=(0,)), "hidden_layer_sizes of the two-stage prior"),
    (dict(n_components=0), "n_components must be a positive integer"),
    (dict(max_iter=-1), "max_iter must be a positive integer"),
])
def test_two_stage_bad_settings_raise(digits, params, match):
    with pytest.raises(ValueError, match=match):
        VAETransformer(2, prior=TwoStagePrior(**params), max_iter=1,
                       device="cpu").fit(digits)
