"""VAETransformer: a VAE as a scikit-learn transformer, next to PCA."""

# License: BSD 3 clause

import numpy as np
from sklearn.utils._available_if import available_if

from ._base import _BaseVAE
from .priors import MixtureOfGaussiansPrior, get_prior


def _has_mixture_prior(estimator):
    return isinstance(get_prior(estimator.prior), MixtureOfGaussiansPrior)


class VAETransformer(_BaseVAE):
    """Variational autoencoder as a transformer: X -> posterior mean of z.

    A PyTorch VAE (an MLP encoder q(z|x), a mirrored decoder p(x|z), a prior p(z)) fitted
    by maximising the ELBO with Adam. ``transform`` returns the posterior mean, so it is
    deterministic; ``score`` is the ELBO in nats per sample, a lower bound on the
    log-likelihood that can be compared with ``PCA.score``.

    Parameters
    ----------
    n_components : int, default=2
        Size of the latent space.
    hidden_layer_sizes : tuple of int, default=(128, 128)
        Widths of the encoder's hidden layers; the decoder mirrors them. ``()`` gives a
        linear VAE (with the Gaussian likelihood, a variational factor analysis).
        Wider layers model densities better at some cost in time: with default
        stopping, (256, 256) scored 0.4-2.2 nats higher on held-out digits and 7 nats
        higher on a 10000 x 50 table, at 0.8-2.3x the fit time
        (``benchmarks/RESULTS.md``, "small data").
    likelihood : str or Likelihood, default="gaussian"
        Noise model p(x|z): a name from :data:`skvae.likelihoods.LIKELIHOODS`
        ("gaussian", "bernoulli", "poisson", "negative_binomial", "continuous_bernoulli",
        "beta", "student_t") or an instance of a
        :class:`~skvae.likelihoods.Likelihood` subclass. For data with columns that
        are nearly constant in training (image borders), "student_t" is the better
        density: a Gaussian charges a test row thousands of nats for a value where
        training had none (on 784-pixel digits, held-out 2392-2395 nats per image
        against -396 to 735, see the user guide's practical page).
    prior : str or Prior, default="normal"
        Prior p(z): a name from :data:`skvae.priors.PRIORS` or a
        :class:`~skvae.priors.Prior` instance.
    posterior : str or Posterior, default="diagonal"
        Family of q(z|x): "diagonal" or "full" (full covariance through a Cholesky
        factor), a name from :data:`skvae.posteriors.POSTERIORS`, or an instance.
    beta : float, default=1.0
        Weight of the KL term in the training objective (beta-VAE). Scores always
        report the true ELBO (beta=1).
    kl_warmup : int, default=0
        Epochs over which the KL weight ramps linearly up to ``beta`` (KL annealing,
        against posterior collapse). They do not count towards convergence or early
        stopping. Counted from the first fit, so ``partial_fit`` continues the ramp.
    free_bits : float, default=0.0
        Nats per latent dimension below which the batch's total KL is not pushed down
        further (free bits on the total), another guard against posterior collapse.
    batch_size : int or "auto", default="auto"
        Minibatch size; "auto" is ``n_samples // 10`` clipped to [32, 200] (and at
        most ``n_samples``): about ten steps per epoch on small data, 200 rows on large.
    learning_rate : {"adaptive", "constant"}, default="adaptive"
        Adam's step-size schedule. "adaptive" keeps ``learning_rate_init`` while the
        score improves; when it has not improved by ``tol`` for ``n_iter_no_change``
        epochs, the weights of the best epoch are restored and the learning rate is
        divided by 5, twice; the third such plateau stops training (a smaller step
        after a noisy plateau finds a better optimum: on load_digits it raised the
        held-out ELBO by 0.8 nats per image over stopping at the first plateau).
        "constant" stops at the first plateau.
    learning_rate_init : float, default=1e-3
        Adam's initial learning rate.
    max_iter : int, default=1000
        Maximum number of epochs; training normally stops before (``converged_``).
    tol : float, default=1e-4
        Improvement (in nats per sample) that counts as progress, for the validation
        score when early stopping, else for the training loss.
    n_iter_no_change : int, default=40
        Epochs without ``tol`` improvement that make a plateau. The validation ELBO
        of a small data set moves by tenths of a nat from epoch to epoch, and a large
        one improves slowly for long; 40 epochs keep either from ending a fit that is
        still improving (20 ended fits 0.3-1.1 nats lower on digits and a 10000-row
        table, see ``benchmarks/RESULTS.md``).
    early_stopping : bool or "auto", default="auto"
        Hold out ``validation_fraction`` of the rows, stop when their ELBO stops
        improving, and restore the weights of the best epoch, so the model does not
        overfit. "auto" does so in ``fit`` when the held-out set has at least 10 rows
        (fewer are too noisy to stop on, and worth more in training), never in
        ``partial_fit``; True also in ``fit`` on any data and is refused by
        ``partial_fit``; False stops on the training loss.
    validation_fraction : float, default=0.1
        Share of rows held out for early stopping.
    device : str or torch.device, default="auto"
        "auto" (CUDA, then MPS, then CPU), "cpu", "cuda", "cuda:1", "mps".
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, minibatch order and the reparameterisation noise
        through the estimator's own generators; the global RNGs of numpy and torch are
        not touched. An int gives a bitwise-identical fit on the same machine (CPU).
    verbose : int, default=0
        Show a progress bar with the current loss, and log each epoch.
    warm_start : bool, default=False
        Continue from the previous fit's weights when ``fit`` is called again.
    network : str or Network, default="mlp"
        Architecture of the encoder and decoder, from :data:`skvae.networks.NETWORKS`:
        "mlp" (fully connected layers of ``hidden_layer_sizes``) or "conv" (strided
        convolutions over rows that are images, then ``hidden_layer_sizes``; square
        one-channel images unless an instance such as
        ``ConvNetwork(image_shape=(3, 32, 32))`` says otherwise). Rows stay flat
        pixels, so the estimator works in a Pipeline; see the user guide on image data.

    Attributes
    ----------
    module_ : skvae._module.VAEModule
        The trained torch module.
    likelihood_ : Likelihood
        The likelihood used.
    prior_ : Prior
        The prior used.
    n_iter_ : int
        Epochs run.
    loss_curve_ : list of float
        Training loss of each epoch: the mean negative beta-ELBO per sample, in nats,
        in the units of X (with beta=1 it is close to ``-score(X_train)``).
    best_loss_ : float or None
        Lowest training loss; None with early stopping.
    validation_scores_ : list of float or None
        Validation ELBO per epoch with early stopping, else None.
    best_validation_score_ : float or None
        Best validation ELBO with early stopping, else None.
    converged_ : bool
        Whether training stopped on ``tol`` before ``max_iter``.
    n_active_components_ : int
        Latent dimensions in use: those whose posterior mean varies across the rows of
        the last epoch by more than 0.01 (Burda et al., 2016); the others have
        collapsed onto the prior.
    posterior_ : Posterior
        The posterior family used.
    network_ : Network
        The network used, with the image shape resolved from the data.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sklearn.decomposition.PCA : Linear latent model with a closed-form fit.
    sklearn.decomposition.FactorAnalysis : Linear-Gaussian latent model.
    VAEGenerator : The same model as a synthetic-data generator.

    References
    ----------
    .. [1] Kingma, D. P. and M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skvae import VAETransformer
    >>> X, _ = load_digits(return_X_y=True)
    >>> vae = VAETransformer(n_components=4, max_iter=5, random_state=0)
    >>> Z = vae.fit_transform(X / 16)
    >>> Z.shape
    (1797, 4)
    >>> vae.inverse_transform(Z).shape
    (1797, 64)
    >>> vae.sample(3, random_state=0).shape
    (3, 64)
    """

    @available_if(_has_mixture_prior)
    def predict(self, X):
        """Cluster of each row under a mixture-of-Gaussians prior (``prior="mog"``).

        The most probable mixture component given the row's posterior mean.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,), int
        """
        X = self._validate_X(X)
        labels = self._map_rows(
            X, lambda m, x, c: m.prior.cluster_log_proba(m.encode_mean(x)).argmax(-1),
            1, np.float64,
        )
        return labels[:, 0].astype(np.intp)
