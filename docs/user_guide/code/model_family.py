"""A new model family: the importance-weighted autoencoder (IWAE, Burda et al. 2016).

The same encoder, decoder and prior as the VAE, trained on a tighter bound: the
log-mean-exp of K importance weights instead of the ELBO. A family is a module plus
an objective; this one reuses the VAE's module and brings its own objective.
"""

import math
import tempfile
import warnings
from numbers import Integral
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import SkipTestWarning
from sklearn.utils.estimator_checks import check_estimator

from skvae import VAETransformer, load, save
from skvae._objectives import ELBOObjective, rows_of, weighted_mean
from skvae._persistence import register_estimator
from skvae._sklearn_compat import Interval

warnings.filterwarnings("ignore", category=SkipTestWarning)  # array-API checks, off here


#: The one scikit-learn check a stochastic fit cannot pass, as for VAETransformer.
EXPECTED_FAILED_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data": (
        "repeated rows give other minibatches than integer weights, so the fits agree in "
        "distribution only"
    ),
}


class IWAEObjective(ELBOObjective):
    """-IWAE bound with ``n_importance`` draws per row; everything else as the VAE's."""

    def __init__(self, *args, n_importance, **kwargs):
        super().__init__(*args, **kwargs)
        self.n_importance = n_importance

    def loss(self, batch):
        x, c, w = rows_of(batch)  # w: the rows' weights of a weighted fit, else None
        noise = torch.randn(self.n_importance, x.shape[0], self.module.n_components,
                            generator=self.generator, device=x.device)
        log_weights = self.module.log_weights(x, noise, c)  # (n_importance, n)
        bound = torch.logsumexp(log_weights, dim=0) - math.log(self.n_importance)
        return -weighted_mean(bound, w)

    def statistics(self):
        return {}  # the VAE's active-unit count needs the posterior means; not kept here


@register_estimator  # allowed in skvae.save / skvae.load files
class IWAETransformer(VAETransformer):
    """A VAETransformer trained on the importance-weighted bound.

    Parameters
    ----------
    n_importance : int, default=5
        Importance samples per row in training (1 gives the VAE's ELBO).
    **others
        As :class:`skvae.VAETransformer`.
    """

    # scikit-learn reads the parameters from __init__'s signature: list them all.
    def __init__(self, n_components=2, *, n_importance=5, hidden_layer_sizes=(128, 128),
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
        self.n_importance = n_importance

    _parameter_constraints = {**VAETransformer._parameter_constraints,
                              "n_importance": [Interval(Integral, 1, None, closed="left")]}

    def _objective(self, module, X, C, weights=None):
        # The one thing this family changes: what is trained.
        train_rows, val_rows = self._split(X, C, weights)
        return IWAEObjective(module, self._place(train_rows), self._place(val_rows),
                             self._new_generator(), self._standardizer, beta=self.beta,
                             kl_warmup=self.kl_warmup, free_bits=self.free_bits,
                             start_epoch=self.n_iter_, n_importance=self.n_importance)


if __name__ == "__main__":
    X, _ = load_digits(return_X_y=True)
    X = (X > 7).astype(np.float64)  # binarised digits
    X_train, X_test = X[:1500], X[1500:]
    common = dict(n_components=8, likelihood="bernoulli", hidden_layer_sizes=(64,),
                  n_iter_no_change=10, device="cpu", random_state=0)
    for model in (VAETransformer(**common), IWAETransformer(n_importance=5, **common)):
        model.fit(X_train)
        print(f"{type(model).__name__:<16} held-out log-likelihood (IWAE, 200 draws) "
              f"{model.log_likelihood(X_test, n_samples=200).mean():7.2f} nats per image")
    with tempfile.TemporaryDirectory() as folder:  # leave no file behind
        path = Path(folder) / "iwae.skvae"
        save(model, path)
        print("saved and loaded:", np.array_equal(load(path).transform(X_test),
                                                  model.transform(X_test)))
    with warnings.catch_warnings():
        # the checks fit tiny models for a few epochs; that they stop early is the point
        warnings.filterwarnings("ignore", message="Stochastic optimizer")
        check_estimator(IWAETransformer(n_components=2, hidden_layer_sizes=(8,), max_iter=5,
                                        device="cpu"),
                        expected_failed_checks=EXPECTED_FAILED_CHECKS)
    print("check_estimator: passed")
