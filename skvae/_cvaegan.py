"""CVAEGAN: a conditional VAE-GAN with an auxiliary classifier (Bao et al., 2017)."""

# License: BSD 3 clause

from numbers import Real

import numpy as np

from ._discriminator import ConvCVAEGANModule, CVAEGANModule
from ._generator import VAEGenerator
from ._objectives import CVAEGANObjective
from ._persistence import register_estimator
from ._sklearn_compat import Interval
from ._vaegan import VAEGAN


@register_estimator
class CVAEGAN(VAEGenerator):
    """Conditional VAE-GAN: rows of a requested class, sharpened by a discriminator.

    The conditional VAE of :class:`VAEGenerator` fitted with labels (the one-hot label
    is appended to the inputs of encoder and decoder), trained as :class:`VAEGAN`
    (the same ``pixel_weight``, ``feature_weight`` and ``adversarial_weight`` terms,
    with a discriminator that sees the label too), plus the class term of Bao et al.:
    an auxiliary classifier, a network like the discriminator's but blind to the
    label, learns the labels of real rows (cross-entropy), and encoder and decoder add
    ``classifier_weight`` times its cross-entropy, at their conditioning labels, of
    their reconstructions and of their samples from the prior. Discriminator and
    classifier share the objective's own Adam optimiser (see :class:`VAEGAN`).

    How it differs from Bao et al. (2017): their generator matches the mean features
    of the classifier's last hidden layer between generated and real images of the
    class, and of the discriminator's between generated and real images (mean feature
    matching); here the class term is the cross-entropy itself, and the discriminator
    term is Larsen et al.'s (per-row features of a row and its reconstruction, and the
    GAN loss of reconstructions and samples), as in :class:`VAEGAN`. Their
    discriminator is not conditioned on the label; here it is.

    **What score means.** ``score_samples(X, y)`` is the ELBO of the decoder's
    likelihood given the labels, ``log p(x | y)`` bounded below, in nats for X in its
    own units, exactly as for :class:`VAEGenerator`; without ``y`` it marginalises over
    the label frequencies seen in fit (``log sum_k p(k) exp(ELBO(x | k))``, a lower
    bound on ``log p(x)``). The GAN and class terms shape training only: the model was
    not trained to maximise the ELBO alone, so its score is usually below a conditional
    VAE's; it measures the density, not the look of the samples. Early stopping and
    ``converged_`` follow the held-out ELBO.

    ``sample(n, y=...)`` returns ``(X, y)`` with rows of the requested labels, draws of
    the likelihood (its noise on top of the decoder means); the images the
    discriminator and the classifier judged are the decoder means,
    ``inverse_transform(z, y)`` for ``z ~ N(0, I)``.

    Parameters
    ----------
    n_components : int, default=2
    pixel_weight : float, default=1.0
        Weight of the decoder likelihood's negative log-likelihood.
    feature_weight : float, default=0.01
        Weight of the reconstruction term in the discriminator's hidden features (see
        :class:`VAEGAN`).
    adversarial_weight : float, default=1.0
        Weight of the generator's GAN loss on reconstructions and samples.
    classifier_weight : float, default=10.0
        Weight of the auxiliary classifier's cross-entropy of reconstructions and
        samples at their labels; 0 leaves a conditional VAE-GAN without the class
        term. Measured with ``benchmarks/cvaegan.py`` (3 seeds): on 28x28 digits with
        a conv network and 10 epochs, the share of samples a separate classifier
        assigns to their label was 0.41 at weight 0 (0.44 for a conditional VAE), 0.59
        at 1, 0.80 at 3 and 0.94 at 10, the held-out ELBO 4 nats lower at 10 than at 0
        (of 584). On 8x8 digits (MLP, 60 epochs), where every model is above 0.96,
        weight 30 cost 4 nats of ELBO and its samples' Frechet distance rose to the
        conditional VAE's; 10 cost 1.7 nats.
    hidden_layer_sizes : tuple of int, default=(128, 128)
        Encoder widths (the decoder mirrors them); discriminator and classifier use
        them too.
    likelihood : str, dict or Likelihood, default="gaussian"
        As :class:`VAEGenerator` ("gaussian" as for :class:`VAEGAN`). A DataFrame is
        taken as by :class:`VAEGenerator` (a likelihood per column), but discriminator
        and classifier then judge decoder means (category probabilities, count
        rates), not values: the GAN terms are meant for numeric rows such as images.
    **others
        As :class:`VAEGenerator`: prior, posterior, beta, kl_warmup, free_bits,
        batch_size, learning_rate, learning_rate_init (of both optimisers), max_iter,
        tol, n_iter_no_change, early_stopping, validation_fraction, device,
        random_state, verbose, warm_start, network.

    Attributes
    ----------
    module_ : torch.nn.Module
        The conditional VAE with its discriminator (``module_.discriminator``) and
        classifier (``module_.classifier``).
    classes_ : ndarray of shape (n_classes,)
        Labels seen in fit.
    class_prior_ : ndarray of shape (n_classes,)
        Their frequencies in fit.
    Other attributes
        As :class:`VAEGenerator`.

    See Also
    --------
    VAEGAN : The unconditional VAE-GAN.
    VAEGenerator : The conditional VAE trained on the ELBO alone.

    References
    ----------
    .. [1] Bao, J., D. Chen, F. Wen, H. Li and G. Hua, "CVAE-GAN: Fine-Grained Image
       Generation through Asymmetric Training", ICCV 2017.
    .. [2] Larsen, A. B. L., S. K. Sonderby, H. Larochelle and O. Winther,
       "Autoencoding beyond pixels using a learned similarity metric", ICML 2016.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skvae import CVAEGAN
    >>> X, y = load_digits(return_X_y=True)
    >>> gan = CVAEGAN(n_components=4, hidden_layer_sizes=(32,), max_iter=2,
    ...               random_state=0).fit(X / 16, y)
    >>> rows, labels = gan.sample(3, y=[0, 1, 7], random_state=0)
    >>> rows.shape, labels.tolist()
    ((3, 64), [0, 1, 7])
    """

    _parameter_constraints = {
        **VAEGenerator._parameter_constraints,
        **{name: VAEGAN._parameter_constraints[name]
           for name in ("pixel_weight", "feature_weight", "adversarial_weight")},
        "classifier_weight": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, n_components=2, *, pixel_weight=1.0, feature_weight=0.01,
                 adversarial_weight=1.0, classifier_weight=10.0, hidden_layer_sizes=(128, 128),
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
        self.classifier_weight = classifier_weight

    def fit(self, X, y=None, sample_weight=None):
        """Fit the conditional VAE-GAN to X with class labels y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels (integers or strings), one per row; required.
        sample_weight : array-like of shape (n_samples,), default=None
            As in :meth:`VAEGenerator.fit`.

        Returns
        -------
        self : object
        """
        return super().fit(X, y, sample_weight=sample_weight)

    def partial_fit(self, X, y=None, sample_weight=None):
        """Train for one epoch over X with class labels y (the first call fixes the
        classes and the standardisation).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        return super().partial_fit(X, y, sample_weight=sample_weight)

    def _validate_fit_input(self, X, y, *, reset, **kwargs):
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the "
                             "target y is None: it is a conditional model; pass one class "
                             "label per row of X.")
        return super()._validate_fit_input(X, y, reset=reset, **kwargs)

    def _module_type(self, config):
        return ConvCVAEGANModule if "image_shape" in config else CVAEGANModule

    def _objective(self, module, X, C, weights=None):
        train_rows, val_rows = self._split(X, C.astype(np.float32), weights)
        return CVAEGANObjective(
            module, self._place(train_rows), self._place(val_rows), self._new_generator(),
            self._standardizer, beta=self.beta, kl_warmup=self.kl_warmup,
            free_bits=self.free_bits, start_epoch=self.n_iter_,
            pixel_weight=self.pixel_weight, feature_weight=self.feature_weight,
            adversarial_weight=self.adversarial_weight,
            classifier_weight=self.classifier_weight,
            learning_rate=self.learning_rate_init)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags
