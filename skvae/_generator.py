"""VAEGenerator: a VAE as a synthetic-data generator."""

# License: BSD 3 clause

from ._base import _BaseVAE
from ._sklearn_compat import StrOptions
from .likelihoods import LIKELIHOODS, Likelihood, get_likelihood, infer_likelihood


class VAEGenerator(_BaseVAE):
    """Variational autoencoder for generating synthetic rows like the training data.

    The same model and parameters as :class:`VAETransformer`; the default
    ``likelihood="auto"`` picks the noise model from the data ("bernoulli" for 0/1
    data, "gaussian" otherwise). :meth:`sample` draws new rows.

    Parameters
    ----------
    n_components : int, default=2
        Size of the latent space.
    hidden_layer_sizes : tuple of int, default=(128, 128)
        Encoder widths; the decoder mirrors them.
    likelihood : str or Likelihood, default="auto"
        "auto", a name from :data:`skvae.likelihoods.LIKELIHOODS`, or an instance.
    prior : str or Prior, default="normal"
    beta : float, default=1.0
    batch_size : int or "auto", default="auto"
    learning_rate_init : float, default=1e-3
    max_iter : int, default=200
    tol : float, default=1e-4
    n_iter_no_change : int, default=10
    early_stopping : bool, default=False
    validation_fraction : float, default=0.1
    device : str or torch.device, default="auto"
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
    warm_start : bool, default=False
        See :class:`VAETransformer` for each of these.

    Attributes
    ----------
    module_ : skvae._module.VAEModule
    likelihood_ : Likelihood
        The likelihood chosen or given.
    prior_ : Prior
    n_iter_ : int
    loss_curve_ : list of float
    best_loss_ : float or None
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    converged_ : bool
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    See Also
    --------
    VAETransformer : The same model as a feature extractor.
    sklearn.mixture.GaussianMixture : A classical generative model with ``sample``.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae import VAEGenerator
    >>> X = np.random.RandomState(0).normal(size=(100, 3))
    >>> gen = VAEGenerator(max_iter=5, random_state=0).fit(X)
    >>> gen.likelihood_
    GaussianLikelihood()
    >>> gen.sample(4, random_state=0).shape
    (4, 3)
    """

    _parameter_constraints = {
        **_BaseVAE._parameter_constraints,
        "likelihood": [StrOptions(set(LIKELIHOODS) | {"auto"}), Likelihood],
    }

    def __init__(
        self,
        n_components=2,
        *,
        hidden_layer_sizes=(128, 128),
        likelihood="auto",
        prior="normal",
        posterior="diagonal",
        beta=1.0,
        kl_warmup=0,
        free_bits=0.0,
        batch_size="auto",
        learning_rate_init=1e-3,
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        device="auto",
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        super().__init__(
            n_components,
            hidden_layer_sizes=hidden_layer_sizes,
            likelihood=likelihood,
            prior=prior,
            posterior=posterior,
            beta=beta,
            kl_warmup=kl_warmup,
            free_bits=free_bits,
            batch_size=batch_size,
            learning_rate_init=learning_rate_init,
            max_iter=max_iter,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            device=device,
            random_state=random_state,
            verbose=verbose,
            warm_start=warm_start,
        )

    def _resolve_likelihood(self, X):
        if isinstance(self.likelihood, str) and self.likelihood == "auto":
            return infer_likelihood(X)
        return get_likelihood(self.likelihood)
