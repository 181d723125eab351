"""VAEClassifier: semi-supervised classification with a VAE (Kingma et al. 2014, "M2").

Unlabeled rows carry ``y == -1``, as in :mod:`sklearn.semi_supervised`. The model is a
conditional VAE, encoder q(z | x, y) and decoder p(x | y, z), plus a classifier q(y | x).
Labeled rows contribute their ELBO and an ``alpha``-weighted cross-entropy; unlabeled
rows contribute the ELBO summed over every label, weighted by q(y | x), plus the
entropy of q(y | x), so the classifier learns from them too.
"""

# License: BSD 3 clause

import copy
import math
from numbers import Real

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted
from torch import nn
from torch.nn import functional as F

from ._base import (
    VALIDATION_DRAWS,
    _as_tensor,
    _BaseVAE,
    _check_pickled_version,
    _draw_seed,
    _place_loaded_module,
    _portable_state,
    resolve_device,
    score_noise,
)
from ._module import VAEModule, init_weights, mlp
from ._sklearn_compat import Interval, StrOptions, _fit_context
from ._training import NonFiniteLossError, adam, train
from ._validation import (
    check_labels,
    check_result,
    check_standardizer,
    check_weights,
    validated,
)
from .likelihoods import get_likelihood
from .posteriors import get_posterior
from .priors import get_prior

#: The label of unlabeled rows, as in :mod:`sklearn.semi_supervised`.
UNLABELED = -1

#: Rows handled at once at inference (times the number of classes when enumerating).
_CHUNK_ROWS = 4096


def _unlabeled_mask(y):
    """True where ``y`` is the integer -1 (sklearn.semi_supervised's rule).

    String labels go in an object array that holds the integer -1 for unlabeled rows;
    a numpy string array cannot hold it, and a "-1" string in one is refused rather
    than silently taken as a class.
    """
    if y.dtype.kind in "US":
        if np.any(y == str(UNLABELED)):
            raise ValueError(
                "y is a string array holding '-1'. For string labels with unlabeled "
                "rows, use an object array and mark unlabeled rows with the integer -1."
            )
        return np.zeros(y.shape[0], dtype=bool)
    return np.asarray(y == UNLABELED, dtype=bool)


class M2Module(nn.Module):
    """Kingma et al.'s M2 as a torch module: q(y|x), q(z|x,y), p(x|y,z), p(z), uniform p(y).

    Parameters
    ----------
    n_features, n_components, n_classes : int
    hidden_layer_sizes : tuple of int
        Widths of the classifier and the encoder; the decoder uses them in reverse.
    likelihood : skvae.likelihoods.Likelihood
    prior : skvae.priors.Prior
    posterior : skvae.posteriors.Posterior
    """

    def __init__(self, n_features, n_components, n_classes, hidden_layer_sizes, likelihood,
                 prior, posterior):
        super().__init__()
        self.n_components = n_components
        self.n_classes = n_classes
        # The label is the condition of a conditional VAE: it feeds encoder and decoder.
        self.vae = VAEModule(n_features, n_components, hidden_layer_sizes, likelihood, prior,
                             posterior, n_conditions=n_classes)
        sizes = [n_features, *hidden_layer_sizes]
        self.classifier = nn.Sequential(mlp(sizes), nn.Linear(sizes[-1], n_classes))

    def log_proba(self, x):
        """log q(y | x), shape ``(n, n_classes)``."""
        return F.log_softmax(self.classifier(x), dim=-1)

    def labeled_elbo(self, x, y, noise, beta=1.0):
        """``E_q[log p(x|y,z)] + log p(y) - beta * KL(q(z|x,y) || p(z))`` per row.

        Parameters
        ----------
        x : torch.Tensor of shape (n, n_features)
        y : torch.Tensor of shape (n,)
            Class indices.
        noise : torch.Tensor of shape (n, n_components) or (n_draws, 1, n_components)
        beta : float, default=1.0

        Returns
        -------
        elbo : torch.Tensor of shape (n,)
        """
        onehot = F.one_hot(y, self.n_classes).to(x.dtype)
        return self.vae.elbo(x, noise, beta, c=onehot) - math.log(self.n_classes)

    def unlabeled_elbo(self, x, noise, beta=1.0):
        """``sum_y q(y|x) ELBO(x, y) + H(q(y|x))`` per row, a lower bound on log p(x).

        Every label is enumerated at once by repeating the batch once per class.

        Parameters
        ----------
        x : torch.Tensor of shape (n, n_features)
        noise : torch.Tensor of shape (n_classes * n, n_components) or (n_draws, 1, n_components)
            For the repeated batch, class-major (all rows with label 0 first).
        beta : float, default=1.0

        Returns
        -------
        elbo : torch.Tensor of shape (n,)
        """
        n, k = x.shape[0], self.n_classes
        labels = torch.arange(k, device=x.device).repeat_interleave(n)
        elbo = self.labeled_elbo(x.repeat(k, 1), labels, noise, beta).reshape(k, n).T
        log_q = self.log_proba(x)
        return (log_q.exp() * (elbo - log_q)).sum(dim=-1)

    def latent_mean(self, x):
        """``sum_y q(y|x) E[z | x, y]``: the posterior mean of z under predicted labels."""
        n, k = x.shape[0], self.n_classes
        onehot = torch.eye(k, dtype=x.dtype, device=x.device).repeat_interleave(n, dim=0)
        means = self.vae.encode(x.repeat(k, 1), onehot).mean.reshape(k, n, -1)
        return torch.einsum("nk,knd->nd", self.log_proba(x).exp(), means)


def _losses(module, x_l, y_l, x_u, noise_l, noise_u, beta, alpha):
    """Summed losses of labeled rows (-ELBO + alpha * cross-entropy) and unlabeled rows."""
    labeled = unlabeled = x_l.new_zeros(())
    # torch.distributions cannot score empty batches, and a batch may lack either kind.
    if x_l.shape[0]:
        cross_entropy = F.nll_loss(module.log_proba(x_l), y_l, reduction="sum")
        labeled = alpha * cross_entropy - module.labeled_elbo(x_l, y_l, noise_l, beta).sum()
    if x_u.shape[0]:
        unlabeled = -module.unlabeled_elbo(x_u, noise_u, beta).sum()
    return labeled, unlabeled


class VAEClassifier(ClassNamePrefixFeaturesOutMixin, ClassifierMixin, TransformerMixin,
                    BaseEstimator):
    """Semi-supervised VAE classifier (Kingma et al. 2014, model M2).

    Rows with ``y == -1`` are unlabeled, as in :mod:`sklearn.semi_supervised`; the
    model learns from them through a generative model of X. A conditional VAE with
    encoder q(z | x, y) and decoder p(x | y, z) is trained jointly with a classifier
    q(y | x) on

    ``sum_labeled [-ELBO(x, y) + alpha * -log q(y | x)] + sum_unlabeled U(x)``,

    where ``U(x) = -sum_y q(y | x) ELBO(x, y) - H(q(y | x))`` enumerates every label
    (vectorised). Each minibatch of unlabeled rows comes with a minibatch of labeled
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
    batch_size : int or "auto", default="auto"
        Unlabeled rows per minibatch ("auto" as in :class:`VAETransformer`); each step
        also draws ``min(batch_size, n_labeled)`` labeled rows with replacement. Without
        unlabeled rows, minibatches of labeled rows.
    learning_rate_init : float, default=1e-3
        Adam's learning rate.
    max_iter : int, default=200
        Maximum number of epochs (passes over the unlabeled rows, or the labeled rows
        when there are no unlabeled ones).
    tol : float, default=1e-4
        Improvement of the training loss (or with ``early_stopping`` of the validation
        score) that counts as progress.
    n_iter_no_change : int, default=10
        Epochs without ``tol`` improvement before training stops.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows (labeled and unlabeled alike), stop
        when their objective stops improving, and keep the best epoch's weights.
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
    >>> from skvae._classifier import VAEClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> y_semi = y.copy()
    >>> y_semi[np.random.RandomState(0).rand(len(y)) < 0.9] = -1  # 90% unlabeled
    >>> clf = VAEClassifier(n_components=4, max_iter=2, random_state=0).fit(X, y_semi)
    >>> clf.classes_
    array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    >>> clf.predict_proba(X[:3]).shape, clf.transform(X[:3]).shape
    ((3, 10), (3, 4))
    """

    _parameter_constraints = {
        **{
            name: constraint
            for name, constraint in _BaseVAE._parameter_constraints.items()
            if name not in ("kl_warmup", "free_bits")
        },
        "alpha": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
    }

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
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.likelihood = likelihood
        self.prior = prior
        self.posterior = posterior
        self.alpha = alpha
        self.beta = beta
        self.batch_size = batch_size
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

    # The same parameter handling and atomic-fit guarantee as the other estimators.
    _restored_on_error = _BaseVAE._restored_on_error
    _hidden_layer_sizes = _BaseVAE._hidden_layer_sizes
    _batch_size = _BaseVAE._batch_size
    _record_training = _BaseVAE._record_training
    _log_jacobian = _BaseVAE._log_jacobian
    _make_float64_twin = _BaseVAE._make_float64_twin
    _module_in = _BaseVAE._module_in
    _in_blocks = _BaseVAE._in_blocks
    _fewer_rows = _BaseVAE._fewer_rows

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the model to labeled and unlabeled rows for up to ``max_iter`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels, -1 for unlabeled rows. For string labels use an object
            array and the integer -1, as in :mod:`sklearn.semi_supervised`.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        warm = self.warm_start and hasattr(self, "module_")
        with self._restored_on_error():
            X, y = validated(self, X, y, reset=not warm, ensure_min_samples=2)
            self._fit(X, self._encode_labels(y, warm=warm, incremental=False), warm=warm,
                      incremental=False)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
        """Train for one epoch over X, starting from the current weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels, -1 for unlabeled rows.
        classes : array-like of shape (n_classes,), default=None
            Every class of the problem, needed on the first call when a batch may not
            hold them all; ignored afterwards. None takes the labels seen in y.

        Returns
        -------
        self : object
        """
        if self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True.")
        warm = hasattr(self, "module_")
        with self._restored_on_error():
            X, y = validated(self, X, y, reset=not warm)
            codes = self._encode_labels(y, warm=warm, incremental=True, classes=classes)
            self._fit(X, codes, warm=warm, incremental=True)
        return self

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

    def _fresh_state(self, X):
        likelihood = get_likelihood(self.likelihood)
        likelihood.check_support(X)
        prior, posterior = get_prior(self.prior), get_posterior(self.posterior)
        rng = np.random.RandomState(check_random_state(self.random_state).randint(2**31 - 1))
        # Layers draw their first weights from torch's global RNG: fork it so the
        # caller's state is untouched, then redraw every weight from our seed.
        with torch.random.fork_rng(devices=[]):
            module = M2Module(X.shape[1], self.n_components, len(self.classes_),
                              self._hidden_layer_sizes(), likelihood, prior, posterior)
        init_weights(module, torch.Generator().manual_seed(_draw_seed(rng)))
        loc, scale = check_standardizer(*likelihood.standardizer(X), likelihood)
        return dict(likelihood_=likelihood, prior_=prior, posterior_=posterior, _rng=rng,
                    module_=module, _x_loc=loc, _x_scale=scale, loss_curve_=[], n_iter_=0,
                    validation_scores_=[], _optimizer_state=None)

    def _warm_state(self, X):
        self.likelihood_.check_support(X)
        if self.module_.n_components != self.n_components:
            raise ValueError(
                f"warm start needs n_components={self.module_.n_components} as in the "
                f"previous fit, got {self.n_components}."
            )
        return dict(_rng=copy.deepcopy(self._rng), module_=copy.deepcopy(self.module_),
                    loss_curve_=list(self.loss_curve_),
                    validation_scores_=list(self.validation_scores_ or []),
                    _optimizer_state=copy.deepcopy(self._optimizer_state))

    def _fit(self, X, codes, *, warm, incremental):
        device = resolve_device(self.device)
        self.__dict__.update(self._warm_state(X) if warm else self._fresh_state(X))
        self._device = device
        self.alpha_ = 0.1 * X.shape[0] if self.alpha == "auto" else float(self.alpha)
        module = self.module_.to(device)
        optimizer = adam(module.parameters(), self.learning_rate_init)
        if incremental and self._optimizer_state is not None:
            optimizer.load_state_dict(self._optimizer_state)
        data = _as_tensor(X, self._x_loc, self._x_scale, torch.float32, device, training=True)
        train_rows, val_rows = self._split(codes, self._rng)
        generator = torch.Generator(device=device).manual_seed(_draw_seed(self._rng))
        result = self._train(module, optimizer, data, torch.from_numpy(codes).to(device),
                             train_rows, val_rows, generator, incremental)
        check_weights(module, type(self).__name__)
        self._record_training(result, optimizer, incremental)

    def _split(self, codes, rng):
        """Training and (with early stopping) validation row indices."""
        if not self.early_stopping:
            return np.arange(codes.shape[0]), None
        order = rng.permutation(codes.shape[0])
        n_val = int(np.ceil(self.validation_fraction * codes.shape[0]))
        train_rows, val_rows = order[n_val:], order[:n_val]
        if n_val < 2 or not np.any(codes[train_rows] >= 0):
            raise ValueError(
                f"The validation set of {n_val} rows is too small, or leaves no labeled "
                "row to train on; change validation_fraction or add data."
            )
        return np.sort(train_rows), np.sort(val_rows)

    def _train(self, module, optimizer, data, codes, train_rows, val_rows, generator,
               incremental):
        device, k, beta, alpha = data.device, len(self.classes_), float(self.beta), self.alpha_
        rows = torch.from_numpy(train_rows).to(device)
        labeled = rows[codes[rows] >= 0]
        x_l, y_l, x_u = data[labeled], codes[labeled], data[rows[codes[rows] < 0]]
        n_l, n_u = x_l.shape[0], x_u.shape[0]
        # Epochs go over the unlabeled rows, each minibatch with labeled rows drawn
        # alongside; with no unlabeled rows, over the labeled rows.
        stream = torch.arange(n_u if n_u else n_l, device=device)
        batch_size = self._batch_size(stream.shape[0])
        labeled_batch = min(batch_size, n_l)

        def noise(n_rows):
            return torch.randn(n_rows, self.n_components, generator=generator, device=device)

        def step(batch):
            if n_u:
                pick = torch.randint(max(1, n_l), (labeled_batch,), generator=generator,
                                     device=device)
                xu = x_u[batch]
            else:
                pick, xu = batch, x_u
            loss_l, loss_u = _losses(module, x_l[pick], y_l[pick], xu, noise(pick.shape[0]),
                                     noise(k * xu.shape[0]), beta, alpha)
            # Scaled so that its expectation is the objective per training row.
            loss = (loss_l * (n_l / max(1, pick.shape[0]))
                    + loss_u * (n_u / max(1, xu.shape[0]))) / (n_l + n_u)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            return loss.detach()

        def validate():
            return self._validation_score(module, data, codes, val_rows)

        try:
            return train(
                module, stream, step, batch_size=batch_size,
                max_iter=1 if incremental else self.max_iter,
                tol=self.tol, n_iter_no_change=self.n_iter_no_change,
                early_stopping=self.early_stopping, generator=generator, validate=validate,
                loss_offset=-self._log_jacobian(), verbose=self.verbose,
                description=type(self).__name__, stop_on_convergence=not incremental,
            )
        except NonFiniteLossError as exc:
            raise NonFiniteLossError(
                f"{type(self).__name__}: {exc}. Likely causes: a learning_rate_init too "
                f"high (got {self.learning_rate_init}) or an alpha too large (got "
                f"{self.alpha_:g}) for this data, or values the likelihood cannot model."
            ) from None

    def _validation_score(self, module, data, codes, val_rows):
        """Negated objective per held-out row, with fixed noise, in the units of X."""
        rows = torch.from_numpy(val_rows).to(data.device)
        labeled, unlabeled = rows[codes[rows] >= 0], rows[codes[rows] < 0]
        noise = score_noise(VALIDATION_DRAWS, self.n_components, torch.float32, data.device)
        with torch.no_grad():
            loss_l, loss_u = _losses(module, data[labeled], codes[labeled], data[unlabeled],
                                     noise, noise, 1.0, self.alpha_)
        return -float(loss_l + loss_u) / rows.shape[0] + self._log_jacobian()

    # ---------------------------------------------------------------- inference
    def _map_rows(self, X, fn, method, per_class=True):
        """``fn(module, x_std)`` over standardised row blocks of X, in X's float dtype.

        ``fn`` gives a column per class (``per_class``) or per latent dimension.

        Computing in X's dtype (float64 unless X is float32, through the float64 twin
        made at fit) keeps a row's output independent of the batch it comes in. Blocks
        that run out of device memory are retried smaller. ``method`` names the caller
        in errors.
        """
        check_is_fitted(self)
        X = validated(self, X, reset=False)
        self.likelihood_.check_support(X)
        n_out = len(self.classes_) if per_class else self.n_components
        module = self._module_in(torch.float64 if X.dtype == np.float64 else torch.float32)
        dtype = next(module.parameters()).dtype  # float32 on MPS, which has no float64

        def block(start, stop):
            x = _as_tensor(X[start:stop], self._x_loc, self._x_scale, dtype, self._device)
            return fn(module, x).cpu().numpy()

        out = self._in_blocks(block, np.empty((X.shape[0], n_out), X.dtype), _CHUNK_ROWS)
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
        return self._map_rows(X, lambda m, x: m.log_proba(x).exp(), "predict_proba")

    def predict_log_proba(self, X):
        """Log of the class probabilities q(y | x).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        return self._map_rows(X, lambda m, x: m.log_proba(x), "predict_log_proba")

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
        return self._map_rows(X, lambda m, x: m.latent_mean(x), "transform", per_class=False)

    # -------------------------------------------------------------------- state
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def __getstate__(self):
        return _portable_state(self, super().__getstate__())

    def __setstate__(self, state):
        _check_pickled_version(self, state)
        super().__setstate__(state)
        _place_loaded_module(self, state)
