"""VAEGAN: a VAE whose decoder doubles as a GAN's generator (Larsen et al., 2016)."""

# License: BSD 3 clause

from numbers import Real

from ._discriminator import ConvVAEGANModule, VAEGANModule
from ._objectives import VAEGANObjective
from ._persistence import register_estimator
from ._sklearn_compat import Interval
from ._transformer import VAETransformer


@register_estimator
class VAEGAN(VAETransformer):
    """VAE-GAN: a VAE trained with a discriminator's learned similarity and a GAN loss.

    The encoder, decoder and prior are those of :class:`VAETransformer` (any
    likelihood, prior, posterior and network). A discriminator, mirroring the encoder,
    learns to tell real rows from reconstructions and from samples of the prior; the
    encoder and decoder minimise the KL term, ``pixel_weight`` times the decoder
    likelihood's negative log-likelihood, ``feature_weight`` times the squared distance
    between the discriminator's last hidden features of a row and of its
    reconstruction (Larsen et al.'s learned similarity), and ``adversarial_weight``
    times the generator's GAN loss on reconstructions and samples. The decoder means
    are what the discriminator sees, so ``sample`` draws of the likelihood add its
    noise on top; the sharp images are ``inverse_transform`` of prior draws.

    **What score means.** ``score_samples`` is the ELBO of the decoder's likelihood,
    exactly as for :class:`VAETransformer`: a true lower bound on log p(x) under the
    fitted decoder, in nats for X in its own units, so GridSearchCV can compare it with
    a VAE or PCA. The model was not trained to maximise it alone, so it is usually
    lower than a VAE's: it measures the density, not the look of the samples. With
    ``pixel_weight=0`` (Larsen et al.'s original loss) the likelihood's own noise
    parameters are never trained and the score is poor; the default keeps the pixel
    term so that the score stays meaningful. Early stopping and ``converged_`` follow
    the held-out ELBO as well.

    The two optimisers: the training loop's Adam trains encoder and decoder; the
    objective (``skvae._objectives.VAEGANObjective``) owns the discriminator's
    Adam and takes its step inside each minibatch. The discriminator's optimiser state
    is not kept between calls of ``fit`` (warm start) or ``partial_fit``.

    Parameters
    ----------
    n_components : int, default=2
    pixel_weight : float, default=1.0
        Weight of the decoder likelihood's negative log-likelihood.
    feature_weight : float, default=0.01
        Weight of the reconstruction term in the discriminator's hidden features. The
        features have no fixed scale (the discriminator may grow them), so a large
        weight lets this term swamp the others: on 28x28 digits with a conv network,
        weight 1 made the training loss climb to thousands of nats and the samples
        worse than the plain VAE's, while 0.01 and 0 both improved them (see
        ``benchmarks/RESULTS.md``).
    adversarial_weight : float, default=1.0
        Weight of the generator's GAN loss on reconstructions and samples.
    hidden_layer_sizes : tuple of int, default=(128, 128)
        Encoder widths (the decoder mirrors them); the discriminator uses them too.
    **others
        As :class:`VAETransformer`: likelihood, prior, posterior, beta, kl_warmup,
        free_bits, batch_size, learning_rate (of both optimisers' starting step for
        ``learning_rate_init``), max_iter, tol, n_iter_no_change, early_stopping,
        validation_fraction, device, random_state, verbose, warm_start, network.

    Attributes
    ----------
    module_ : torch.nn.Module
        The VAE with its discriminator (``module_.discriminator``).
    Other attributes
        As :class:`VAETransformer`.

    See Also
    --------
    VAETransformer : The same networks trained on the ELBO alone.

    References
    ----------
    .. [1] Larsen, A. B. L., S. K. Sonderby, H. Larochelle and O. Winther,
       "Autoencoding beyond pixels using a learned similarity metric", ICML 2016.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skvae import VAEGAN
    >>> X, _ = load_digits(return_X_y=True)
    >>> gan = VAEGAN(n_components=4, hidden_layer_sizes=(32,), max_iter=2,
    ...              random_state=0).fit(X / 16)
    >>> gan.sample(3, random_state=0).shape
    (3, 64)
    """

    _parameter_constraints = {
        **VAETransformer._parameter_constraints,
        "pixel_weight": [Interval(Real, 0, None, closed="left")],
        "feature_weight": [Interval(Real, 0, None, closed="left")],
        "adversarial_weight": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, n_components=2, *, pixel_weight=1.0, feature_weight=0.01,
                 adversarial_weight=1.0, hidden_layer_sizes=(128, 128),
                 likelihood="gaussian", prior="normal", posterior="diagonal", beta=1.0,
                 kl_warmup=0, free_bits=0.0, batch_size="auto", learning_rate="adaptive",
                 learning_rate_init=1e-3, max_iter=1000, tol=1e-4, n_iter_no_change=40,
                 early_stopping="auto", validation_fraction=0.1, device="auto",
                 random_state=None, verbose=0, warm_start=False, network="mlp"):
        super().__init__(
            n_components, hidden_layer_sizes=hidden_layer_sizes, likelihood=likelihood,
            prior=prior, posterior=posterior, beta=beta, kl_warmup=kl_warmup,
            free_bits=free_bits, batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, max_iter=max_iter, tol=tol,
            n_iter_no_change=n_iter_no_change, early_stopping=early_stopping,
            validation_fraction=validation_fraction, device=device,
            random_state=random_state, verbose=verbose, warm_start=warm_start,
            network=network)
        self.pixel_weight = pixel_weight
        self.feature_weight = feature_weight
        self.adversarial_weight = adversarial_weight

    def _module_type(self, config):
        return ConvVAEGANModule if "image_shape" in config else VAEGANModule

    def _objective(self, module, X, C, weights=None):
        train_rows, val_rows = self._split(X, C, weights)
        return VAEGANObjective(
            module, self._place(train_rows), self._place(val_rows), self._new_generator(),
            self._standardizer, beta=self.beta, kl_warmup=self.kl_warmup,
            free_bits=self.free_bits, start_epoch=self.n_iter_,
            pixel_weight=self.pixel_weight, feature_weight=self.feature_weight,
            adversarial_weight=self.adversarial_weight,
            learning_rate=self.learning_rate_init)
