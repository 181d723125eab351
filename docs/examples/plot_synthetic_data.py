"""
========================================
Synthetic tabular data with VAEGenerator
========================================

:class:`~skvae.VAEGenerator` is the same model as :class:`~skvae.VAETransformer`, set
up to generate: :meth:`~skvae.VAEGenerator.sample` draws new rows like the training
rows. Here it learns the 13 chemical measurements of the wine data set and generates
synthetic wines, which we check three ways against a
:class:`~sklearn.mixture.GaussianMixture` baseline:

* held-out log-likelihood (both ``score`` methods are in nats per row of X);
* how well a classifier can tell synthetic rows from real ones;
* the correlations between the columns.
"""

# %%
# Fitting the generator
# ---------------------

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_wine
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split

from skvae import VAEGenerator
from skvae.plotting import LossCurveDisplay

# sphinx_gallery_thumbnail_number = 2

data = load_wine()
X, names = data.data, data.feature_names
X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)

# likelihood="auto" (the default) picks the Gaussian for real-valued columns; the
# columns are standardised internally, so their very different scales need no care.
gen = VAEGenerator(n_components=4, hidden_layer_sizes=(64, 64), learning_rate_init=3e-3,
                   device="cpu", random_state=0)
gen.fit(X_train)
print(f"likelihood_: {gen.likelihood_!r}, epochs run: {gen.n_iter_}, "
      f"converged: {gen.converged_}")
LossCurveDisplay.from_estimator(gen)

# %%
# A baseline with ``sample`` and ``score`` of its own: a Gaussian mixture. On a data set
# this small (124 training rows), it is a strong one; expect the two to be close here.
# A VAE pulls ahead with more rows, more columns and curved (nonlinear) structure.
gmm = GaussianMixture(n_components=2, covariance_type="full", random_state=0)
gmm.fit(X_train)

# %%
# Held-out log-likelihood
# -----------------------
# Both numbers are log-densities of the test rows in nats per row, for X in its
# units; the VAE's is a lower bound (the ELBO). Higher is better.
print(f"VAEGenerator    held-out score: {gen.score(X_test):8.2f}")
print(f"GaussianMixture held-out score: {gmm.score(X_test):8.2f}")

# %%
# Can a classifier tell them apart?
# ---------------------------------
# Train a classifier to separate real rows from as many synthetic ones. A
# cross-validated ROC AUC of 0.5 means the two cannot be told apart; 1.0 means every
# synthetic row gives itself away. The folds are shuffled: ``GaussianMixture.sample``
# returns its rows grouped by mixture component.
synthetic = {
    "VAEGenerator": gen.sample(len(X_train), random_state=0),
    "GaussianMixture": gmm.sample(len(X_train))[0],
}
for name, X_synth in synthetic.items():
    both = np.vstack([X_train, X_synth])
    is_synthetic = np.r_[np.zeros(len(X_train)), np.ones(len(X_synth))]
    auc = cross_val_score(HistGradientBoostingClassifier(max_iter=50, random_state=0),
                          both, is_synthetic, scoring="roc_auc",
                          cv=StratifiedKFold(5, shuffle=True, random_state=0))
    print(f"{name:<16} real-vs-synthetic ROC AUC: {auc.mean():.2f}")

# %%
# Pairs of columns and correlations
# ---------------------------------
# Two columns of the real data beside the same columns of the synthetic rows, and the
# correlation matrices of all 13 columns. Look at whether the synthetic rows follow the
# curved relation between the two columns, and whether they stay where real wines are
# (a Gaussian component readily spills into negative colour intensities).
datasets = {"real (training rows)": X_train, **synthetic}
i, j = names.index("flavanoids"), names.index("color_intensity")
fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), layout="constrained", sharex=True,
                         sharey=True)
for ax, (title, rows) in zip(axes, datasets.items()):
    ax.scatter(rows[:, i], rows[:, j], s=10, alpha=0.7)
    ax.set_title(title)
    ax.set_xlabel(names[i])
axes[0].set_ylabel(names[j])

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 4.2), layout="constrained")
for ax, (title, rows) in zip(axes, datasets.items()):
    image = ax.imshow(np.corrcoef(rows, rowvar=False), vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
fig.colorbar(image, ax=axes, shrink=0.8, label="correlation between columns")

# %%
# ``sample`` returns new rows in the units of the training data; with
# ``random_state=None`` every call draws fresh ones. ``transform`` and
# ``inverse_transform`` work as for :class:`~skvae.VAETransformer`, so the generator's
# latent space can be plotted with the same displays.
