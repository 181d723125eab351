"""VAEClassifier: semi-supervised classification with a VAE (Kingma et al. 2014, "M2").

Unlabeled rows carry ``y == -1``, as in :mod:`sklearn.semi_supervised`. The model is a
conditional VAE, encoder q(z | x, y) and decoder p(x | y, z), plus a classifier q(y | x)
(:class:`skvae._module.M2Module`), trained by :class:`skvae._objectives.M2Objective` on
the fit skeleton every skvae estimator shares. Only what is specific to M2 is here:
labels, the module's config, the objective and the class-probability outputs.
"""

# License: BSD 3 clause

from numbers import Real

import numpy as np
from sklearn.base import ClassifierMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.metrics import accuracy_score
from sklearn.utils import _safe_indexing
from sklearn.utils.multiclass import check_classification_targets

from ._estimator import _Estimator
from ._module import M2Module
from ._objectives import M2Objective
from ._sklearn_compat import Count, Interval, StrOptions, _fit_context
from ._validation import check_labels, check_result, validated

#: The label of unlabeled rows, as in :mod:`sklearn.semi_supervised`.
UNLABELED = -1


def _unlabeled_mask(y):
    """True where ``y`` is the integer -1 (sklearn.semi_supervised's rule).

    String labels go in an object array that holds the integer -1 for unlabeled rows;
    a numpy string array cannot hold it. A "-1" string, in either, is refused rather
    than silently taken as a class of its own.
    """
    if y.dtype.kind in "US":
        if np.any(y == str(UNLABELED)):
            raise ValueError(
                "y is a string array holding '-1'. For string labels with unlabeled "
                "rows, use an object array and mark unlabeled rows with the integer -1."
            )
        return np.zeros(y.shape[0], dtype=bool)
    if y.dtype.kind == "O":
        rows = [i for i, value in enumerate(y) if isinstance(value, str)
                and value == str(UNLABELED)]
        if rows:
            raise ValueError(
                f"y holds the string '-1' at row {rows[0]}; unlabeled rows take the "
                "integer -1 (a string '-1' would become a class of its own)."
            )
    return np.asarray(y == UNLABELED, dtype=bool)


class VAEClassifier(ClassNamePrefixFeaturesOutMixin, ClassifierMixin, TransformerMixin,
                    _Estimator):
    """Semi-supervised VAE classifier (Kingma et al. 2014, model M2).

    Rows with ``y == -1`` are unlabeled, as in :mod:`sklearn.semi_supervised`; the
    model learns from them through a generative model of X. A conditional VAE with
    encoder q(z | x, y) and decoder p(x | y, z) is trained jointly with a classifier
    q(y | x) on

    ``sum_labeled [-ELBO(x, y) + alpha * -log q(y | x)] + sum_unlabeled U(x)``,

    where ``U(x) = -sum_y q(y | x) ELBO(x, y) - H(q(y | x))`` enumerates every label
    (vectorised), or with ``enumerate_labels=m`` (default 2) the m most probable ones
    under q(y | x). Each minibatch of unlabeled rows comes with a minibatch of labeled
    rows, so few labels are seen at every step. With no unlabeled rows it is a
    supervised classifier regularised by the generative model.

    For Kingma et al.'s stacked model "M1+M2", put a :class:`VAETransformer` in front:
    ``make_pipeline(VAETransformer(n_components=16), VAEClassifier())``; the pipeline
    fits M1 on every row, labeled or not, and M2 on its latent means.

    Parameters
    ----------
    n_components : int, default=2
        Size of the latent space z (which, given y, holds the "style" of a row).
    hidden_layer_sizes : tuple of int, default=(128, 128)
        Widths of the hidden layers of the classifier and of the encoder; the decoder
        mirrors them.
    likelihood : str or Likelihood, default="gaussian"
        Noise model p(x | y, z): a name from :data:`skvae.likelihoods.LIKELIHOODS` or a
        :class:`~skvae.likelihoods.Likelihood` instance.
    prior : str or Prior, default="normal"
        Prior p(z): a name from :data:`skvae.priors.PRIORS` or a Prior instance.
    posterior : str or Posterior, default="diagonal"
        Family of q(z | x, y): a name from :data:`skvae.posteriors.POSTERIORS`.
    alpha : float or "auto", default="auto"
        Weight of the classification loss of each labeled row. "auto" is
        ``0.1 * n_samples``, the paper's choice; the fitted value is ``alpha_``.
    beta : float, default=1.0
        Weight of the KL terms (beta-VAE).
    enumerate_labels : "all" or int, default=2
        Labels each unlabeled training row is scored with. An int m sums over the m
        labels most probable under q(y | x), with q renormalised on them: the ELBO of
        q(y | x) truncated to those labels, still a lower bound on log p(x), at about
        m / n_classes of the cost of the unlabeled rows. "all" is Kingma et al.'s sum
        over every class, and makes a fit cost about ``n_classes`` times a
        :class:`VAETransformer` fit of the same size. The default 2 fits 784-pixel
        digits in 2.9 times a VAETransformer's time (8 times with "all") for the same
        accuracy on load_digits (benchmarks/RESULTS.md). With 1 the unlabeled rows
        train only the generative model, on the predicted label, and no longer the
        classifier (much less accurate). Validation scores (early stopping) always
        enumerate every label.
    batch_size : int or "auto", default="auto"
        Unlabeled rows per minibatch ("auto" as in :class:`VAETransformer`); each step
        also draws ``min(batch_size, n_labeled)`` labeled rows with replacement. Without
        unlabeled rows, minibatches of labeled rows.
    learning_rate : {"adaptive", "constant"}, default="adaptive"
        Adam's step-size schedule, as in :class:`VAETransformer`. "adaptive" keeps
        ``learning_rate_init`` until the training loss (with ``early_stopping``, the
        validation score) has not improved by ``tol`` for ``n_iter_no_change`` epochs;
        then the weights of the best epoch are restored and the learning rate is
        divided by 5, twice, and the third such plateau stops training. "constant"
        stops at the first plateau.
    learning_rate_init : float, default=1e-3
        Adam's initial learning rate.
    max_iter : int, default=1000
        Maximum number of epochs (passes over the unlabeled rows, or the labeled rows
        when there are no unlabeled ones); training normally stops before
        (``converged_``).
    tol : float, default=1e-4
        Improvement of the training loss (or with ``early_stopping`` of the validation
        score) that counts as progress.
    n_iter_no_change : int, default=5
        Epochs without ``tol`` improvement that make a plateau. The default rule (the
        adaptive rate, plateaus of 5 epochs of the training loss, no rows held out)
        stops by itself, while after 200 epochs at a constant rate (the rule before)
        the training loss is still falling. On load_digits with 50 and 100 labels it
        was as accurate as those 200 epochs (-0.13 and +0.13 points over 5 label
        draws each; +0.09 and -0.04 on 5 other draws) after 389 and 376 epochs, about
        twice the time; plateaus of 10 epochs were as accurate (+0.09 at 50 labels)
        but ran 809 epochs (``benchmarks/RESULTS.md``).
    early_stopping : bool or "auto", default=False
        Hold out ``validation_fraction`` of the rows (labeled and unlabeled alike), stop
        when their objective stops improving, and keep the best epoch's weights; "auto"
        does so when that makes at least 10 rows. Off by default: held-out labels are
        lost to the classifier, and on load_digits with 50 labels stopping on the
        held-out objective ended 0.9 to 2.4 points below 200 constant epochs.
    validation_fraction : float, default=0.1
        Share of rows held out for early stopping.
    device : str or torch.device, default="auto"
        "auto" (CUDA, then MPS, then CPU), "cpu", "cuda", "cuda:1", "mps".
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, minibatches and noise through the estimator's own
        generators; the global RNGs of numpy and torch are not touched.
    verbose : int, default=0
        Show a progress bar and log each epoch.
    warm_start : bool, default=False
        Continue from the previous fit's weights when ``fit`` is called again.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels seen in y, without the unlabeled marker -1.
    module_ : M2Module
        The trained torch module.
    likelihood_ : Likelihood
    prior_ : Prior
    posterior_ : Posterior
    alpha_ : float
        The classification weight used.
    n_iter_ : int
        Epochs run.
    loss_curve_ : list of float
        Training objective of each epoch per row (labeled and unlabeled), in nats in
        the units of X, including the ``alpha``-weighted cross-entropy.
    best_loss_ : float or None
        Lowest training loss; None with early stopping.
    validation_scores_ : list of float or None
        Negated objective per held-out row each epoch with early stopping, else None.
    best_validation_score_ : float or None
    converged_ : bool
        Whether training stopped on ``tol`` before ``max_iter``.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sklearn.semi_supervised.SelfTrainingClassifier : Semi-supervised wrapper of a classifier.
    sklearn.semi_supervised.LabelSpreading : Graph-based semi-supervised learning.
    VAETransformer : Unsupervised VAE; the "M1" of a stacked M1+M2 pipeline.

    References
    ----------
    .. [1] Kingma, D. P., D. J. Rezende, S. Mohamed and M. Welling, "Semi-Supervised
       Learning with Deep Generative Models", NeurIPS 2014.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from skvae import VAEClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> y_semi = y.copy()
    >>> y_semi[np.random.RandomState(0).rand(len(y)) < 0.9] = -1  # 90% unlabeled
    >>> clf = VAEClassifier(n_components=4, max_iter=2, random_state=0).fit(X, y_semi)
    >>> clf.classes_
    array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    >>> clf.predict_proba(X[:3]).shape, clf.transform(X[:3]).shape
    ((3, 10), (3, 4))
    """

    # Holding rows out for early stopping cost 0.6-2.4 points of accuracy against a
    # longer fit (benchmarks/RESULTS.md): the warning does not suggest it.
    _early_stopping_helps = False

    _parameter_constraints = {
        **_Estimator._parameter_constraints,
        "alpha": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
        "enumerate_labels": [StrOptions({"all"}), Count(1)],
        "learning_rate": [StrOptions({"adaptive", "constant"})],
    }

    _module_class = M2Module

    _fitted_attributes = _Estimator._fitted_attributes | {"classes_", "alpha_"}

    def __init__(
        self,
        n_components=2,
        *,
        hidden_layer_sizes=(128, 128),
        likelihood="gaussian",
        prior="normal",
        posterior="diagonal",
        alpha="auto",
        beta=1.0,
        enumerate_labels=2,
        batch_size="auto",
        learning_rate="adaptive",
        learning_rate_init=1e-3,
        max_iter=1000,
        tol=1e-4,
        n_iter_no_change=5,
        early_stopping=False,
        validation_fraction=0.1,
        device="auto",
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.likelihood = likelihood
        self.prior = prior
        self.posterior = posterior
        self.alpha = alpha
        self.beta = beta
        self.enumerate_labels = enumerate_labels
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to labeled and unlabeled rows for up to ``max_iter`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels, -1 for unlabeled rows. For string labels use an object
            array and the integer -1, as in :mod:`sklearn.semi_supervised`.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows, labeled and unlabeled, in the training objective (a
            weighted mean over rows; also in the validation score of early stopping).
            A row of weight 0 is left out as if it had not been passed; integer weights
            act like repeated rows, up to the randomness of the minibatches.

        Returns
        -------
        self : object
            The fitted estimator.

        Raises
        ------
        KeyboardInterrupt
            On Ctrl-C. After the first epoch the estimator first keeps the best weights
            seen so far and is fitted with them; the interrupt then reaches the caller,
            so a script or a search (GridSearchCV, cross_val_score) stops too.
        """
        return self._fit_from(X, y, incremental=False, sample_weight=sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch over X, starting from the current weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels, -1 for unlabeled rows.
        classes : array-like of shape (n_classes,), default=None
            Every class of the problem, needed on the first call when a batch may not
            hold them all; ignored afterwards. None takes the labels seen in y.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows, as in ``fit``.

        Returns
        -------
        self : object

        Raises
        ------
        KeyboardInterrupt
            On Ctrl-C, which interrupts the call's one epoch: the model is left as it
            was before the call.
        """
        return self._fit_from(X, y, incremental=True, classes=classes,
                              sample_weight=sample_weight)

    def _validate_fit_input(self, X, y, *, reset, ensure_min_samples, warm, incremental,
                            classes=None):
        """Training matrix and class indices (-1 for unlabeled rows)."""
        X, y = validated(self, X, y, reset=reset, ensure_min_samples=ensure_min_samples)
        return X, self._encode_labels(y, warm=warm, incremental=incremental, classes=classes)

    def _encode_labels(self, y, *, warm, incremental, classes=None):
        """Class indices of y, -1 for unlabeled rows; sets ``classes_`` on a fresh fit."""
        unlabeled = _unlabeled_mask(y)
        labels = y[~unlabeled]
        check_labels(labels, type(self).__name__, continuous=False)
        # A partial_fit batch may be all unlabeled once the classes are known.
        if labels.shape[0] == 0 and not (incremental and (warm or classes is not None)):
            raise ValueError(
                "y holds no labeled rows: every entry is -1, the marker of unlabeled rows. "
                "VAEClassifier needs at least one labeled row."
            )
        if labels.shape[0]:
            check_classification_targets(labels)
        if not warm:
            if classes is not None:
                classes = np.asarray(classes)
                labels_or_classes = classes[~_unlabeled_mask(classes)]
            else:
                labels_or_classes = labels
            self.classes_ = np.unique(labels_or_classes)
        unknown = ~np.isin(labels, self.classes_)
        if np.any(unknown):
            raise ValueError(
                f"y holds labels not in classes_ {self.classes_.tolist()}: "
                f"{np.unique(labels[unknown]).tolist()}."
            )
        codes = np.full(y.shape[0], UNLABELED, dtype=np.int64)
        codes[~unlabeled] = np.searchsorted(self.classes_, labels)
        return codes

    def _module_config_for(self, X, likelihood):
        return {"n_features": X.shape[1], "n_components": int(self.n_components),
                "n_classes": len(self.classes_),
                "hidden_layer_sizes": self._hidden_layer_sizes()}

    def _objective(self, module, X, codes, weights=None):
        """M2's objective: unlabeled rows streamed, labeled rows drawn alongside."""
        self.alpha_ = 0.1 * X.shape[0] if self.alpha == "auto" else float(self.alpha)
        (x, y, *w), validation = self._split(X, codes, weights)
        labeled = y >= 0
        n_unlabeled = int((~labeled).sum())
        # Labeled rows are drawn at random beside each unlabeled minibatch, so they live
        # on the device; only the rows an epoch goes over may be streamed.
        labeled_rows = (x[labeled], y[labeled], *(t[labeled] for t in w))
        labeled_rows = (tuple(t.to(self._device) for t in labeled_rows) if n_unlabeled
                        else self._place(labeled_rows))
        unlabeled_rows = (x[~labeled], None, *(t[~labeled] for t in w))
        return M2Objective(
            module, self._place(unlabeled_rows), labeled_rows, self._place(validation),
            self._new_generator(), self._standardizer, beta=float(self.beta),
            alpha=self.alpha_, batch_size=self._batch_size(n_unlabeled or int(labeled.sum())),
            n_labels=None if self.enumerate_labels == "all" else self.enumerate_labels)

    def _order_split(self, train_rows, val_rows, codes):
        """Rows in their original order; the training rows must hold a labeled row."""
        if val_rows.shape[0] < 2 or not np.any(codes[train_rows.numpy()] >= 0):
            raise ValueError(
                f"The validation set of {val_rows.shape[0]} rows is too small, or leaves "
                "no labeled row to train on; change validation_fraction or add data."
            )
        return train_rows.sort().values, val_rows.sort().values

    def _divergence_advice(self):
        return (f"Likely causes: a learning_rate_init too high (got "
                f"{self.learning_rate_init}) or an alpha too large (got {self.alpha_:g}) "
                "for this data, or values the likelihood cannot model.")

    # ---------------------------------------------------------------- inference
    def _per_row(self, X, fn, method, per_class=True):
        """``fn(module, x, c)`` over standardised row blocks of X, in X's float dtype.

        ``fn`` gives a column per class (``per_class``) or per latent dimension; each
        row costs one pass per class (the labels are enumerated). ``method`` names the
        caller in errors.
        """
        X = self._validate_X(X)
        n_out = len(self.classes_) if per_class else self.module_.n_components
        out = self._map_rows(X, fn, n_out, X.dtype, cost=len(self.classes_))
        return check_result(out, type(self).__name__, method, X, dtype=X.dtype)

    def predict_proba(self, X):
        """Class probabilities q(y | x).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``; rows sum to 1.
        """
        return self._per_row(X, lambda m, x, c: m.log_proba(x).exp(), "predict_proba")

    def predict_log_proba(self, X):
        """Log of the class probabilities q(y | x).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        return self._per_row(X, lambda m, x, c: m.log_proba(x), "predict_log_proba")

    def predict(self, X):
        """The most probable class under q(y | x).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def transform(self, X):
        """Label-aware latent: the mean of q(z | x, y) averaged over y ~ q(y | x).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components)
            In the dtype of X (float32 stays float32, anything else becomes float64).
        """
        return self._per_row(X, lambda m, x, c: m.latent_mean(x), "transform", per_class=False)

    def score(self, X, y, sample_weight=None):
        """Accuracy on the labeled rows of ``y``; rows with ``y == -1`` are left out.

        So ``GridSearchCV`` and ``cross_val_score`` choose models by how well they
        classify, also on semi-supervised data where most rows are unlabeled (which
        scikit-learn's default accuracy would count as errors).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            True labels, -1 for unlabeled rows.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
            Mean accuracy over the labeled rows.
        """
        y = np.asarray(y)
        labeled = ~_unlabeled_mask(y)
        if not labeled.any():
            raise ValueError("y holds no labeled rows (every entry is -1): the accuracy "
                             "of VAEClassifier is measured on labeled rows only.")
        weights = None if sample_weight is None else np.asarray(sample_weight)[labeled]
        predicted = self.predict(_safe_indexing(X, np.flatnonzero(labeled)))
        return float(accuracy_score(y[labeled], predicted, sample_weight=weights))

    # -------------------------------------------------------------------- state
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
