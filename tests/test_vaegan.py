"""VAEGAN: scikit-learn's checks, the two optimisers kept apart, the score's meaning,
persistence and seeds."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from skvae import VAEGAN, VAETransformer, load, save
from skvae._discriminator import ConvVAEGANModule, VAEGANModule
from skvae.networks import ConvNetwork

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CHEAP = dict(n_components=2, hidden_layer_sizes=(8,), max_iter=5, device="cpu")


def images(n=40, seed=0):
    """Rows that are 4x4 images in [0, 1]: a bright square at a random place."""
    rng = np.random.RandomState(seed)
    out = np.zeros((n, 4, 4))
    for i, (r, c) in enumerate(rng.randint(0, 3, size=(n, 2))):
        out[i, r : r + 2, c : c + 2] = 1.0
    return np.clip(out + 0.05 * rng.rand(n, 4, 4), 0.0, 1.0).reshape(n, -1)


CONV = dict(CHEAP, network=ConvNetwork(image_shape=(1, 4, 4), channels=(2,)), random_state=0)


def expected_failed_checks(estimator):
    """As for VAETransformer (tests/test_estimator_checks.py)."""
    return {
        "check_sample_weight_equivalence_on_dense_data": (
            "integer weights and repeated rows give the same objective but other "
            "minibatches, so the two fits agree in distribution, not to 1e-7"
        ),
    }


@parametrize_with_checks([VAEGAN(**CHEAP)], expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def _objective(gan, X):
    """The fitted GAN's objective over X, as fit builds it."""
    module = gan.module_
    return module, gan._objective(module, X, None)


def test_the_loss_trains_encoder_and_decoder_and_never_the_discriminator():
    X = images()
    gan = VAEGAN(**CONV).fit(X)
    module, objective = _objective(gan, X)
    discriminator = {k: v.clone() for k, v in module.discriminator.state_dict().items()}
    vae = {k: v.clone() for k, v in module.state_dict().items()
           if not k.startswith("discriminator.")}
    loss = objective.loss(objective.data)
    # The discriminator's own optimiser stepped inside loss(); nothing else moved.
    assert any(not torch.equal(v, module.discriminator.state_dict()[k])
               for k, v in discriminator.items())
    assert all(torch.equal(v, module.state_dict()[k]) for k, v in vae.items())
    loss.backward()
    assert all(p.grad is None for p in module.discriminator.parameters())
    others = [p for name, p in module.named_parameters()
              if not name.startswith("discriminator.")]
    assert all(p.grad is not None for p in others)
    assert all(p.requires_grad for p in module.discriminator.parameters())


def test_discriminator_step_lowers_its_loss_on_the_same_batch():
    X = images()
    gan = VAEGAN(**CONV).fit(X)
    module, objective = _objective(gan, X)
    x = objective.data[0]
    fake = torch.rand_like(x)

    def discriminator_loss():
        with torch.no_grad():
            _, real = module.discriminator(x)
            _, fake_logit = module.discriminator(fake)
        return float(torch.nn.functional.softplus(-real).mean()
                     + torch.nn.functional.softplus(fake_logit).mean())

    before = discriminator_loss()
    for _ in range(20):
        objective._discriminator_step(x, fake, fake, None, None)
    assert discriminator_loss() < before


def test_score_is_the_elbo_of_the_decoder_likelihood():
    X = images()
    gan = VAEGAN(**CONV).fit(X)
    elbo = gan.score_samples(X)
    # A lower bound on log p(x): below the importance-sampled bound on average.
    assert elbo.mean() <= gan.log_likelihood(X, n_samples=256).mean() + 1e-6
    # The same number a VAETransformer with the same weights reports.
    vae = VAETransformer(**CONV).fit(X)
    state = {k: v for k, v in gan.module_.state_dict().items()
             if not k.startswith("discriminator.")}
    vae.module_.load_state_dict(state)
    vae._module64 = None
    vae._standardizer = gan._standardizer
    np.testing.assert_allclose(vae.score_samples(X.astype(np.float32)),
                               gan.score_samples(X.astype(np.float32)), rtol=1e-5)


@pytest.mark.parametrize("params, module_class", [(CHEAP, VAEGANModule),
                                                  (CONV, ConvVAEGANModule)])
def test_save_load_and_pickle_round_trip(params, module_class, tmp_path):
    X = images()
    gan = VAEGAN(**{**params, "random_state": 0}).fit(X)
    assert type(gan.module_) is module_class
    save(gan, tmp_path / "gan.skvae")
    for copy in (load(tmp_path / "gan.skvae"), pickle.loads(pickle.dumps(gan))):
        assert type(copy) is VAEGAN and type(copy.module_) is module_class
        assert copy.get_params() == gan.get_params()
        np.testing.assert_array_equal(copy.score_samples(X), gan.score_samples(X))
        np.testing.assert_array_equal(copy.sample(4, random_state=1),
                                      gan.sample(4, random_state=1))


def test_same_seed_same_fit_and_the_global_rng_untouched():
    X = images()
    state = torch.random.get_rng_state()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = VAEGAN(**CONV).fit(X).transform(X)
        b = VAEGAN(**CONV).fit(X).transform(X)
    np.testing.assert_array_equal(a, b)
    assert torch.equal(torch.random.get_rng_state(), state)


@pytest.mark.parametrize("name", ["pixel_weight", "feature_weight", "adversarial_weight"])
def test_negative_weights_are_refused(name):
    with pytest.raises(ValueError, match=name):
        VAEGAN(**{**CHEAP, name: -1.0}).fit(images())
