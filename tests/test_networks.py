"""The network registry: convolutional encoder and decoder over rows that are images.

Every likelihood, prior and posterior that applies works with ``network="conv"``; the
per-pixel head agrees with a 1x1 convolution; bad image shapes are refused with a
clear error; a conv model saves, loads and pickles; the same seed gives the same fit.
"""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_union
from test_likelihoods import SPECS
from torch.nn import functional as F

from skvae import VAEGenerator, VAETransformer, load, save
from skvae._conv import ConvDecoder, ConvEncoder, ConvVAEModule, PixelTransposedConv
from skvae.networks import NETWORKS, ConvNetwork, MLPNetwork, get_network
from skvae.posteriors import POSTERIORS
from skvae.priors import PRIORS

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

#: Small images: 1 x 4 x 4 = 16 features, one strided layer of 2 channels.
SMALL = ConvNetwork(image_shape=(1, 4, 4), channels=(2,))
CHEAP = dict(n_components=2, hidden_layer_sizes=(8,), max_iter=2, random_state=0,
             device="cpu", network=SMALL)


def images(n=40, seed=0):
    """Rows that are 4x4 images: a bright square whose corner moves, in [0, 1]."""
    rng = np.random.RandomState(seed)
    out = np.zeros((n, 4, 4))
    for i, (r, c) in enumerate(rng.randint(0, 3, size=(n, 2))):
        out[i, r : r + 2, c : c + 2] = 1.0
    return np.clip(out + 0.05 * rng.rand(n, 4, 4), 0.0, 1.0).reshape(n, -1)


# ----------------------------------------------------------------------- the registry
def test_registry_holds_mlp_and_conv():
    assert get_network("mlp") == MLPNetwork() and NETWORKS["conv"] is ConvNetwork
    assert ConvNetwork().module_config(784) == {"image_shape": (1, 28, 28),
                                                "channels": (32, 64)}


def test_mlp_network_is_the_default_and_builds_the_plain_module():
    vae = VAETransformer(**{**CHEAP, "network": "mlp"}).fit(images())
    assert type(vae.module_).__name__ == "VAEModule" and vae.network_ == MLPNetwork()


# ------------------------------------------------------- every part with network="conv"
@pytest.mark.parametrize("name", sorted(set(SPECS) - {"categorical"}))
def test_conv_works_with_every_likelihood(name):
    X = SPECS[name].data(np.random.RandomState(0), 30, 16)
    vae = VAETransformer(**{**CHEAP, "likelihood": name}).fit(X)
    assert isinstance(vae.module_, ConvVAEModule)
    assert np.isfinite(vae.score_samples(X)).all()
    X_hat = vae.inverse_transform(vae.transform(X))
    assert X_hat.shape == X.shape and np.isfinite(X_hat).all()
    LIKELIHOOD_SUPPORT = {"bernoulli": (0, 1), "continuous_bernoulli": (0, 1),
                          "beta": (0, 1), "poisson": (0, np.inf),
                          "negative_binomial": (0, np.inf)}
    low, high = LIKELIHOOD_SUPPORT.get(name, (-np.inf, np.inf))
    X_new = vae.sample(20, random_state=0)
    assert X_new.shape == (20, 16) and ((X_new >= low) & (X_new <= high)).all()


@pytest.mark.parametrize("posterior", sorted(POSTERIORS))
@pytest.mark.parametrize("prior", sorted(PRIORS))
def test_conv_works_with_every_prior_and_posterior(prior, posterior):
    X = images()
    vae = VAETransformer(**{**CHEAP, "prior": prior, "posterior": posterior}).fit(X)
    elbo = vae.score_samples(X)
    iwae = vae.log_likelihood(X, n_samples=64)
    assert np.isfinite(elbo).all()
    # The importance-sampled bound is at least the ELBO on average.
    assert iwae.mean() >= elbo.mean() - 0.5
    assert vae.sample(5, random_state=0).shape == (5, 16)


def test_conditional_generator_with_conv():
    X, y = images(), np.arange(40) % 2
    gen = VAEGenerator(**CHEAP).fit(X, y)
    X_new, y_new = gen.sample(6, y=np.array([0, 1] * 3), random_state=0)
    assert X_new.shape == (6, 16) and list(y_new) == [0, 1] * 3
    assert np.isfinite(gen.score_samples(X, y)).all()


def test_conv_in_a_pipeline_next_to_pca():
    X, y = images(), np.arange(40) % 2
    union = make_union(PCA(2), VAETransformer(**CHEAP))
    pipe = Pipeline([("features", union), ("clf", LogisticRegression())]).fit(X, y)
    assert pipe.predict(X).shape == (40,)
    assert union.transform(X).shape == (40, 4)


# ------------------------------------------------------------------ independent maths
@pytest.mark.parametrize("shape", [(2, 4, 5), (1, 7, 9)])
def test_pixel_head_is_a_transposed_convolution_plus_a_bias_per_pixel(shape):
    layer = PixelTransposedConv(3, shape, m=1)
    layer.init_from(torch.Generator().manual_seed(0))
    half = [(n + 2 - 4) // 2 + 1 for n in shape[1:]]  # the encoder's first layer's size
    h = torch.randn(6, 3 * half[0] * half[1])
    padding = tuple(n - 2 * k for n, k in zip(shape[1:], half))
    expected = F.conv_transpose2d(h.reshape(6, 3, *half), layer.conv.weight, stride=2,
                                  padding=1, output_padding=padding) + layer.bias[..., 0]
    assert expected.shape[1:] == shape
    torch.testing.assert_close(layer(h), expected.reshape(6, -1))


def test_pixel_head_keeps_the_pixel_index_slowest():
    layer = PixelTransposedConv(1, (1, 2, 2), m=3)
    with torch.no_grad():
        layer.conv.weight.zero_()
        layer.bias.copy_(torch.arange(12.0).reshape(1, 2, 2, 3))
    out = layer(torch.zeros(1, 1)).reshape(4, 3)
    torch.testing.assert_close(out, torch.arange(12.0).reshape(4, 3))


def test_pixel_head_puts_each_of_m_values_at_its_own_pixel():
    # One output channel per value: value j of pixel p is channel j's map at p.
    layer = PixelTransposedConv(2, (1, 4, 4), m=2)
    layer.init_from(torch.Generator().manual_seed(0))
    h = torch.randn(3, 2 * 2 * 2)
    maps = F.conv_transpose2d(h.reshape(3, 2, 2, 2), layer.conv.weight, stride=2, padding=1)
    out = (layer(h) - layer.bias.reshape(-1)).reshape(3, 16, 2)
    torch.testing.assert_close(out, maps.reshape(3, 2, 16).transpose(1, 2))


@pytest.mark.parametrize("shape, channels", [((1, 28, 28), (4, 8)), ((3, 7, 9), (2, 3)),
                                             ((2, 5, 4), (3,))])
def test_decoder_mirrors_the_encoder_to_the_exact_image_size(shape, channels):
    encoder = ConvEncoder(shape, channels)
    decoder = ConvDecoder(5, shape, channels)
    x = torch.randn(3, int(np.prod(shape)))
    assert encoder(x).shape == (3, encoder.n_outputs)
    first = encoder.layers[0](x.reshape(3, *shape))  # the encoder's first feature map
    out = decoder(torch.randn(2, 3, 5))  # a leading draws axis is kept
    assert out.shape == (2, 3, first[0].numel())
    head = PixelTransposedConv(channels[0], shape, m=1)
    assert head(out).shape == (2, 3, int(np.prod(shape)))


def test_each_row_is_decoded_alone():
    # Rows do not mix in the convolutions: a row's output is the same in any batch.
    vae = VAETransformer(**CHEAP).fit(images())
    X = images(10, seed=1)
    together = vae.score_samples(X)
    alone = np.array([vae.score_samples(X[i : i + 1])[0] for i in range(10)])
    np.testing.assert_allclose(together, alone, rtol=1e-10)


# ------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("network, match", [
    ("conv", r"square one-channel images by default, but X has 15 features"),
    (ConvNetwork(image_shape=(1, 4, 4), channels=(2,)), r"holds 16 values .+ X has 15"),
])
def test_image_shape_that_does_not_match_the_features_is_refused(network, match):
    X = images()[:, :15]
    with pytest.raises(ValueError, match=match):
        VAETransformer(**{**CHEAP, "network": network}).fit(X)


@pytest.mark.parametrize("network, match", [
    (ConvNetwork(image_shape=(1, 4, 4), channels=(2, 2, 2)), r"at least 8x8 pixels"),
    (ConvNetwork(image_shape=(1, 4, 4), channels=()), r"channels must be a non-empty"),
    (ConvNetwork(image_shape=(4, 4)), r"image_shape must be \(channels, height, width\)"),
])
def test_bad_image_config_is_refused(network, match):
    with pytest.raises(ValueError, match=match):
        VAETransformer(**{**CHEAP, "network": network}).fit(images())


def test_refused_refit_leaves_the_fitted_model_as_it_was():
    X = images()
    vae = VAETransformer(**CHEAP).fit(X)
    before = vae.transform(X)
    vae.set_params(network=ConvNetwork(image_shape=(1, 2, 8), channels=(2, 2)))
    with pytest.raises(ValueError, match="at least 4x4"):
        vae.fit(X)
    np.testing.assert_array_equal(vae.transform(X), before)


def test_table_likelihood_is_refused_with_advice():
    # 14 numeric columns and a category of two levels: 16 encoded columns.
    frame = pd.DataFrame(images()[:, :15], columns=[f"p{i}" for i in range(15)])
    frame["p0"] = pd.Categorical(np.where(frame["p0"] > 0.5, "a", "b"))
    with pytest.raises(ValueError, match="parameters per pixel.+network='mlp'"):
        VAEGenerator(**CHEAP).fit(frame)


def test_warm_start_refuses_another_network():
    X = images()
    vae = VAETransformer(**CHEAP, warm_start=True).fit(X)
    vae.set_params(network="mlp")
    with pytest.raises(ValueError, match="architecture differs.+image_shape"):
        vae.fit(X)


# ------------------------------------------------------------------- state and seeds
def test_save_load_and_pickle_round_trip(tmp_path):
    X = images()
    vae = VAETransformer(**{**CHEAP, "likelihood": "gaussian_lowrank"}).fit(X)
    save(vae, tmp_path / "conv.skvae")
    for copy in (load(tmp_path / "conv.skvae"), pickle.loads(pickle.dumps(vae))):
        assert copy.network_ == vae.network_ and isinstance(copy.module_, ConvVAEModule)
        np.testing.assert_array_equal(copy.transform(X), vae.transform(X))
        np.testing.assert_array_equal(copy.score_samples(X), vae.score_samples(X))
        np.testing.assert_array_equal(copy.sample(4, random_state=1),
                                      vae.sample(4, random_state=1))


def test_load_refuses_a_module_that_does_not_match_the_network(tmp_path):
    import json
    import zipfile

    vae = VAETransformer(**CHEAP).fit(images())
    save(vae, tmp_path / "conv.skvae")
    with zipfile.ZipFile(tmp_path / "conv.skvae") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = json.loads(members["skvae.json"])
    header["attributes"]["network_"] = {"type": "part", "kind": "network", "name": "mlp"}
    members["skvae.json"] = json.dumps(header).encode()
    with zipfile.ZipFile(tmp_path / "bad.skvae", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ValueError, match="needs a VAEModule, not a ConvVAEModule"):
        load(tmp_path / "bad.skvae")


def test_same_seed_same_fit_and_the_global_rng_untouched():
    X = images()
    state = torch.random.get_rng_state()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = VAETransformer(**CHEAP).fit(X).transform(X)
        b = VAETransformer(**CHEAP).fit(X).transform(X)
    np.testing.assert_array_equal(a, b)
    assert torch.equal(torch.random.get_rng_state(), state)
