"""VAEGenerator: a VAE as a synthetic-data generator, for arrays and mixed tables."""

# License: BSD 3 clause

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

from ._base import _BaseVAE
from ._noise import draw_seed
from ._sklearn_compat import RegistryOptions, validate_data
from ._tabular import TableSchema
from ._validation import (
    _explain_conversion_error,
    check_labels,
    check_n_samples,
    check_result,
    validated,
    validated_latent,
)
from .likelihoods import LIKELIHOODS, Likelihood, MixedLikelihood, get_likelihood, infer_likelihood


def _is_dataframe(X):
    return hasattr(X, "columns") and hasattr(X, "dtypes") and hasattr(X, "iloc")


class VAEGenerator(_BaseVAE):
    """Variational autoencoder for generating synthetic rows like the training data.

    The same model and parameters as :class:`VAETransformer`, made for synthetic data:

    - **Tables.** A pandas DataFrame goes in and DataFrames come out, with the same
      columns, dtypes and category sets. With ``likelihood="auto"`` each column gets its
      own likelihood, chosen from the data and reported by ``likelihoods_`` (rules in
      ``skvae._tabular``): counts -> poisson or negative_binomial; other numbers,
      datetimes and timedeltas -> gaussian (integers rounded on output), of ``log x``
      for positive right-skewed columns; bool -> bernoulli; category / object / string
      -> categorical (a one-hot group). Generated values stay within each column's
      training range. A dict ``{column: likelihood}`` overrides some columns (modelled
      as they are, without transform). Missing values (NaN, None, pd.NA) are left out of the
      likelihood instead of rejected, and :meth:`sample` reproduces each column's
      missing rate. A numpy array gets one likelihood for all columns ("auto":
      "bernoulli" for 0/1 data, "gaussian" otherwise) and numpy comes back.
    - **Conditions.** ``fit(X, y)`` makes a conditional VAE (CVAE): the one-hot label
      feeds both encoder and decoder, ``sample(n, y=...)`` draws rows for given labels
      and returns ``(X, y)`` like :meth:`sklearn.mixture.GaussianMixture.sample`.
      ``transform``, ``inverse_transform``, ``score_samples`` and ``score`` take ``y``;
      without it they marginalise over the label frequencies seen in fit (the mixture
      of the per-label means; for scores, ``log sum_k p(k) exp(ELBO(x | k))``, still a
      lower bound on ``log p(x)``).

    Parameters
    ----------
    n_components : int, default=2
        Size of the latent space.
    hidden_layer_sizes : tuple of int, default=(128, 128)
        Encoder widths; the decoder mirrors them.
    likelihood : str, dict or Likelihood, default="auto"
        "auto", a name from :data:`skvae.likelihoods.LIKELIHOODS`, an instance, or (for
        DataFrames) a dict ``{column: likelihood name}`` overriding "auto" per column.
    prior : str or Prior, default="normal"
    posterior : str or Posterior, default="diagonal"
    beta : float, default=1.0
    kl_warmup : int, default=0
    free_bits : float, default=0.0
    batch_size : int or "auto", default="auto"
    learning_rate : {"adaptive", "constant"}, default="adaptive"
    learning_rate_init : float, default=1e-3
    max_iter : int, default=1000
    tol : float, default=1e-4
    n_iter_no_change : int, default=40
    early_stopping : bool or "auto", default="auto"
    validation_fraction : float, default=0.1
    device : str or torch.device, default="auto"
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
    warm_start : bool, default=False
    network : str or Network, default="mlp"
        See :class:`VAETransformer` for each of these. A conv network needs a
        likelihood with parameters per pixel: numeric image rows, not a mixed table.

    Attributes
    ----------
    module_ : skvae._module.VAEModule
    likelihood_ : Likelihood
        The likelihood chosen or given.
    likelihoods_ : dict
        Only when fitted on a DataFrame: ``{column: (kind, likelihood, transform)}``,
        what each column is modelled with.
    prior_ : Prior
    n_iter_ : int
    loss_curve_ : list of float
    best_loss_ : float or None
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    converged_ : bool
    n_active_components_ : int
    posterior_ : Posterior
    network_ : Network
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
    classes_ : ndarray of shape (n_classes,)
        Labels seen in ``fit(X, y)``; absent for an unconditional model.
    class_prior_ : ndarray of shape (n_classes,)
        Their frequencies in fit.

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

    A mixed table, conditioned on a label:

    >>> import pandas as pd
    >>> rng = np.random.RandomState(0)
    >>> df = pd.DataFrame({"age": rng.normal(40, 10, 60), "n": rng.poisson(3, 60),
    ...                    "city": pd.Categorical(rng.choice(["a", "b"], 60))})
    >>> gen = VAEGenerator(max_iter=5, random_state=0).fit(df, y=rng.randint(2, size=60))
    >>> rows, labels = gen.sample(3, y=[1, 1, 0], random_state=0)
    >>> list(rows.columns), rows.dtypes.tolist() == df.dtypes.tolist(), labels.tolist()
    (['age', 'n', 'city'], True, [1, 1, 0])
    """

    _parameter_constraints = {
        **_BaseVAE._parameter_constraints,
        "likelihood": [RegistryOptions(LIKELIHOODS, {"auto"}), Likelihood, dict],
    }

    _fitted_attributes = _BaseVAE._fitted_attributes | {"_schema", "classes_",
                                                        "class_prior_"}

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
        learning_rate="adaptive",
        learning_rate_init=1e-3,
        max_iter=1000,
        tol=1e-4,
        n_iter_no_change=40,
        early_stopping="auto",
        validation_fraction=0.1,
        device="auto",
        random_state=None,
        verbose=0,
        warm_start=False,
        network="mlp",
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
            learning_rate=learning_rate,
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
            network=network,
        )

    # ---------------------------------------------------------------- input
    def _validate_fit_input(self, X, y, *, reset, ensure_min_samples, **_):
        if reset:
            self._schema = None
            self.__dict__.pop("classes_", None)
            self.__dict__.pop("class_prior_", None)
        if _is_dataframe(X) or (not reset and self._schema is not None):
            M = self._table_matrix(X, reset)
            if M.shape[0] < ensure_min_samples:
                raise ValueError(f"Found array with {M.shape[0]} sample(s) while a minimum "
                                 f"of {ensure_min_samples} is required.")
        else:
            if reset and isinstance(self.likelihood, dict):
                raise ValueError("A dict likelihood names DataFrame columns; X is not a "
                                 "DataFrame.")
            M = validated(self, X, reset=reset, ensure_min_samples=ensure_min_samples)
        C = None
        if y is not None:
            C = self._label_matrix(y, M.shape[0], reset)
        elif not reset and hasattr(self, "classes_"):
            raise ValueError("This VAEGenerator is conditional: pass y to partial_fit.")
        return M, C

    def _table_matrix(self, X, reset):
        """Encode a table with the schema (learned when ``reset``).

        Column names are checked as sklearn does (same names, same order); an array
        given to a model fitted on a DataFrame is read with the fitted column names.
        """
        if reset:
            validate_data(self, X, reset=True, skip_check_array=True)
            overrides = self.likelihood if isinstance(self.likelihood, dict) else None
            self._schema = TableSchema(overrides).fit(X)
            return self._schema.check_support(self._schema.encode(X))
        import pandas as pd

        if not _is_dataframe(X):  # sparse, 1-D and empty arrays get sklearn's errors
            try:
                X = check_array(X, dtype=None, ensure_all_finite=False)
            except (TypeError, ValueError) as exc:
                _explain_conversion_error(exc, X, "X", type(self).__name__)
                raise
        validate_data(self, X, reset=False, skip_check_array=True)
        if not _is_dataframe(X):
            X = pd.DataFrame(X, columns=[spec.name for spec in self._schema.columns])
        M = self._schema.encode(X)
        if M.shape[0] == 0:
            raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a "
                             "minimum of 1 is required by VAEGenerator.")
        return self._schema.check_support(M)

    def _label_matrix(self, y, n_rows, reset):
        """One-hot rows of the labels ``y`` (classes learned when ``reset``)."""
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != n_rows:
            raise ValueError(f"y must be 1-D with one label per row of X ({n_rows}); got "
                             f"shape {y.shape}.")
        check_labels(y, type(self).__name__)
        if reset:
            self.classes_, counts = np.unique(y, return_counts=True)
            self.class_prior_ = counts / counts.sum()
        return self._onehot(y)

    def _onehot(self, y):
        index = np.searchsorted(self.classes_, y)
        index = np.clip(index, 0, len(self.classes_) - 1)
        unknown = self.classes_[index] != y
        if np.any(unknown):
            raise ValueError(f"y has labels not seen in fit: {np.unique(y[unknown])[:5]}.")
        return np.eye(len(self.classes_))[index]

    def _n_conditions(self):
        return len(self.classes_) if hasattr(self, "classes_") else 0

    def _resolve_likelihood(self, X):
        if getattr(self, "_schema", None) is not None:
            return MixedLikelihood(self._schema.blocks)
        if isinstance(self.likelihood, str) and self.likelihood == "auto":
            return infer_likelihood(X)
        return get_likelihood(self.likelihood)

    def _validate_X(self, X):
        check_is_fitted(self)
        if getattr(self, "_schema", None) is not None:
            M = self._table_matrix(X, reset=False)
            self.likelihood_.check_support(M)
            return M
        return super()._validate_X(X)

    def _conditions_for(self, y, n_rows):
        """Condition rows for the given labels, or None (unconditional or marginal)."""
        if y is None or not hasattr(self, "classes_"):
            if y is not None:
                raise ValueError("y was given but this VAEGenerator was fitted without y.")
            return None
        return self._label_matrix(y, n_rows, reset=False)

    def _per_condition(self, compute, y, n_rows):
        """``[(weight, compute(C))]``: one term for given labels (or an unconditional
        model), else one per training label weighted by its frequency, to marginalise."""
        C = self._conditions_for(y, n_rows)
        if C is not None or not hasattr(self, "classes_"):
            return [(1.0, compute(C))]
        return [(weight, compute(C)) for weight, C in self._each_label(n_rows)]

    def _each_label(self, n_rows):
        """(weight, condition rows) for every label, to marginalise over them."""
        for k, weight in enumerate(self.class_prior_):
            C = np.zeros((n_rows, len(self.classes_)))
            C[:, k] = 1.0
            yield weight, C

    # ---------------------------------------------------------------- methods
    def transform(self, X, y=None):
        """Posterior mean of z; for a conditional model given ``y`` or averaged over labels.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or None, default=None
            Labels, for a model fitted with y.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components)
        """
        X = self._validate_X(X)
        encode = lambda m, x, c: m.encode_mean(x, c)  # noqa: E731
        dtype = X.dtype if X.dtype == np.float32 else np.float64
        parts = self._per_condition(
            lambda C: self._map_rows(X, encode, self.module_.n_components, dtype, C=C), y, X.shape[0])
        Z = sum(w * Z_k for w, Z_k in parts).astype(dtype, copy=False)
        return check_result(Z, type(self).__name__, "transform", X)

    def score_samples(self, X, y=None):
        """ELBO per row in nats: of log p(x | y) given ``y``, else of log p(x).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or None, default=None

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        X = self._validate_X(X)
        parts = self._per_condition(lambda C: self._score_rows(X, C), y, X.shape[0])
        with np.errstate(invalid="ignore"):  # a non-finite score is reported just below
            scores = np.logaddexp.reduce([np.log(w) + s_k for w, s_k in parts], axis=0)
        if self._schema is not None:  # log-modelled columns: a density of x, not of log x
            scores = scores + self._schema.encoded_log_jacobian(X)
        return check_result(scores, type(self).__name__, "score_samples", X, X.dtype)

    def score(self, X, y=None):
        """Mean of :meth:`score_samples`, in nats per row.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or None, default=None

        Returns
        -------
        score : float
        """
        return float(np.mean(self.score_samples(X, y)))

    def inverse_transform(self, X, y=None):
        """Decoder mean for latent rows; a DataFrame when fitted on one.

        For a conditional model without ``y`` it is the label-weighted mixture of the
        per-label means.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
        y : array-like of shape (n_samples,) or None, default=None

        Returns
        -------
        X_original : ndarray or DataFrame of shape (n_samples, `n_features_in_`)
        """
        check_is_fitted(self)
        Z = validated_latent(self, X)
        parts = self._per_condition(lambda C: self._decode_mean(Z, C, np.float64), y,
                                    Z.shape[0])
        M = self._standardizer.inverse(sum(w * mean_k for w, mean_k in parts))
        check_result(M, type(self).__name__, "inverse_transform", Z)
        if self._schema is not None:
            return self._schema.decode(M)
        return M.astype(Z.dtype, copy=False)

    def sample(self, n_samples=1, *, y=None, random_state=None):
        """Draw synthetic rows: z ~ p(z), then x ~ p(x | z[, y]).

        Parameters
        ----------
        n_samples : int, default=1
        y : label, array-like of shape (n_samples,) or None, default=None
            Labels of the rows to draw (conditional model only): one label for every
            row, or one per row; None draws labels from their training frequencies.
        random_state : int, RandomState instance or None, default=None
            As in :meth:`VAETransformer.sample`: an int gives the same rows from any
            thread; torch's global RNG is neither read nor changed.

        Returns
        -------
        X : ndarray or DataFrame of shape (n_samples, `n_features_in_`)
            A DataFrame with the training columns, dtypes and categories when fitted on
            one (with each column's training rate of missing values).
        y : ndarray of shape (n_samples,)
            Only for a conditional model: the labels of the rows.
        """
        check_is_fitted(self)
        n_samples = check_n_samples(n_samples)
        rng = check_random_state(random_state)
        labels = C = None
        if hasattr(self, "classes_"):
            labels = (np.asarray(y) if y is not None
                      else rng.choice(self.classes_, size=n_samples, p=self.class_prior_))
            if labels.ndim == 0:  # one label for every row
                labels = np.full(n_samples, labels, dtype=labels.dtype)
            if labels.ndim != 1 or labels.shape[0] != n_samples:
                raise ValueError(f"y must be 1-D with one label per row drawn "
                                 f"(n_samples={n_samples}); got shape {labels.shape}.")
            C = self._label_matrix(labels, n_samples, reset=False)
        elif y is not None:
            raise ValueError("y was given but this VAEGenerator was fitted without y.")
        M = self._sample_rows(n_samples, draw_seed(rng), C)
        X = self._schema.decode(M, rng) if self._schema is not None else M
        return X if labels is None else (X, labels)

    def log_likelihood(self, X, n_samples=1000):
        """Importance-sampled (IWAE) estimate of log p(x) per row, in nats.

        As :meth:`VAETransformer.log_likelihood`; for a table, in the units of the
        columns as given (the log-Jacobian of log-modelled columns included, as in
        :meth:`score_samples`).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples_X, n_features)
        n_samples : int, default=1000

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples_X,)
        """
        scores = super().log_likelihood(X, n_samples)
        if self._schema is None:
            return scores
        return scores + self._schema.encoded_log_jacobian(self._table_matrix(X, reset=False))

    @property
    def likelihoods_(self):
        """``{column: (kind, likelihood, transform)}`` chosen for each column of a table.

        Only for a model fitted on a DataFrame; see ``skvae._tabular`` for the rules of
        ``likelihood="auto"``.
        """
        check_is_fitted(self)
        if self._schema is None:
            raise AttributeError("likelihoods_ describes the columns of a DataFrame; this "
                                 "VAEGenerator was fitted on an array (see likelihood_).")
        return self._schema.likelihoods_
