"""
===========================================================
Choosing the latent size and ``beta`` by held-out ELBO
===========================================================

:meth:`skvae.VAETransformer.score` is the ELBO in nats per sample, a lower bound on the
log-likelihood, on the same scale as :meth:`sklearn.decomposition.PCA.score`. So one
:class:`~sklearn.model_selection.GridSearchCV` can compare VAEs of several latent sizes
and ``beta`` values with PCA, by held-out likelihood, with no scoring function to write.

The search refits the smallest model whose score is within one standard error of the
best (see :ref:`model_selection`).
"""

# %%
# Data: the digits, dequantised
# -----------------------------
# The 8x8 digit images have integer grey levels 0..16. A continuous density can grow
# without bound on a few discrete values, so we spread each level uniformly over its
# unit interval and rescale to (0, 1). Now log-likelihoods of PCA and of the VAE
# measure the same thing. A subset keeps this example fast.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline

from skvae import VAETransformer

X, y = load_digits(return_X_y=True)
rng = np.random.RandomState(0)
X = (X + rng.uniform(size=X.shape)) / 17.0
X_train, X_test = train_test_split(X, train_size=450, test_size=300, random_state=0)

# %%
# One search over two model families
# -----------------------------------
# A one-step :class:`~sklearn.pipeline.Pipeline` lets the grid swap the model itself:
# PCA with its own sizes, and VAEs over latent size and ``beta``. The default scoring
# is the pipeline's ``score``, the mean held-out log-likelihood of the last step.
sizes = [1, 2, 4, 8, 16]
# Small networks, large batches, a high learning rate and plateaus of 10 epochs
# (``n_iter_no_change``; the default 40 is safer) keep the 30 fits fast. Each stops by
# itself, when its held-out rows stop improving.
vae = VAETransformer(hidden_layer_sizes=(32,), batch_size=150, learning_rate_init=1e-2,
                     n_iter_no_change=10, device="cpu", random_state=0)
grid = [
    {"model": [PCA()], "model__n_components": sizes + [32]},
    {"model": [vae], "model__n_components": sizes, "model__beta": [0.5, 1.0]},
]


def smallest_within_one_standard_error(cv_results):
    """Smallest n_components whose mean score is within one SE of the best."""
    mean = np.asarray(cv_results["mean_test_score"])
    n_splits = sum(key.startswith("split") and key.endswith("_test_score")
                   for key in cv_results)
    standard_error = np.asarray(cv_results["std_test_score"]) / np.sqrt(n_splits)
    best = np.nanargmax(mean)
    good = np.flatnonzero(mean >= mean[best] - standard_error[best])
    sizes = np.array([p["model__n_components"] for p in cv_results["params"]])[good]
    smallest = good[sizes == sizes.min()]
    return int(smallest[np.nanargmax(mean[smallest])])


search = GridSearchCV(Pipeline([("model", vae)]), grid, cv=3,
                      refit=smallest_within_one_standard_error)
search.fit(X_train)

# %%
# The scores against the latent size
# ----------------------------------
# PCA's held-out log-likelihood keeps creeping up with the number of components. The
# VAE's rises quickly, then reaches a plateau: latent dimensions beyond what the data
# needs collapse to the prior and cost little, so differences on the plateau are
# mostly noise. The error bars are one standard error over the folds.
results = search.cv_results_
mean = results["mean_test_score"]
se = results["std_test_score"] / np.sqrt(3)
params = results["params"]
n_components = np.array([p["model__n_components"] for p in params])
is_pca = np.array([isinstance(p["model"], PCA) for p in params])
beta = np.array([p.get("model__beta", np.nan) for p in params])

fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
ax.errorbar(n_components[is_pca], mean[is_pca], se[is_pca], marker="s", capsize=3,
            label="PCA")
for b in (0.5, 1.0):
    mask = beta == b
    ax.errorbar(n_components[mask], mean[mask], se[mask], marker="o", capsize=3,
                label=f"VAETransformer, beta={b:g}")
chosen = search.best_index_
ax.scatter(n_components[chosen], mean[chosen], s=250, facecolors="none",
           edgecolors="k", linewidths=1.5, label="refitted (one-SE rule)", zorder=3)
ax.set_xscale("log", base=2)
ax.set_xticks(sizes + [32], labels=[str(n) for n in sizes + [32]])
ax.set_xlabel("n_components (latent size)")
ax.set_ylabel("held-out log-likelihood\n(nats per image, 3-fold CV)")
ax.set_title("Held-out ELBO of VAEs and log-likelihood of PCA")
ax.legend(loc="lower right")

# %%
# The chosen model on the test set
# --------------------------------
# With a callable ``refit``, ``best_score_`` is not set: the chosen candidate's
# cross-validated score is in ``cv_results_``. Every candidate was scored with the true
# ELBO (``beta=1``), whatever ``beta`` it was trained with.
best = search.best_estimator_[-1]
print("chosen:", search.best_params_)
print(f"cross-validated score of the chosen model: {mean[chosen]:.1f} nats")
print(f"best cross-validated score of any model:  {mean.max():.1f} nats")
best_pca = PCA(n_components=32).fit(X_train)
print(f"test score, chosen VAE:  {best.score(X_test):.1f} nats per image")
print(f"test score, PCA(n_components=32): {best_pca.score(X_test):.1f} nats per image")
