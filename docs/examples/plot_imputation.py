"""
=====================================
Imputing missing values with a VAE
=====================================

:class:`~skvae.VAEImputer` fits a VAE on the observed entries of a table and fills in
the missing ones (MIWAE, Mattei and Frellsen 2019). Here half of the entries of the
standardised wine table are removed at random, and the imputations are compared with
the true values and with scikit-learn's imputers. With ``sample_posterior=True``, each
call of ``transform`` draws a new imputation: twenty of them give an interval for every
missing entry.
"""

# %%
# Remove half of the entries
# --------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_wine
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer

from skvae import VAEImputer

X = load_wine().data
X = (X - X.mean(axis=0)) / X.std(axis=0)
rng = np.random.RandomState(0)
missing = rng.uniform(size=X.shape) < 0.5
X_missing = np.where(missing, np.nan, X)
print(f"{missing.mean():.0%} of the entries removed; "
      f"{np.all(missing, axis=1).sum()} rows lost every value")

# %%
# Impute, and compare with the true values
# ----------------------------------------
# The root-mean-square error over the removed entries, in standard deviations.
imputers = {
    "mean": SimpleImputer(),
    "KNN": KNNImputer(),
    "Iterative": IterativeImputer(max_iter=20, random_state=0),
    "VAE": VAEImputer(random_state=0),
}
rmse = {}
for name, imputer in imputers.items():
    X_imputed = imputer.fit_transform(X_missing)
    rmse[name] = np.sqrt(np.mean((X_imputed[missing] - X[missing]) ** 2))
    print(f"{name:>10}: RMSE {rmse[name]:.3f}")

# The observed entries come back exactly as they were.
vae = imputers["VAE"]
assert np.array_equal(vae.transform(X_missing)[~missing], X[~missing])

fig, ax = plt.subplots(figsize=(5, 3))
ax.barh(list(rmse), list(rmse.values()))
ax.set_xlabel("RMSE of the imputed entries (standard deviations)")
fig.tight_layout()

# %%
# Multiple imputation
# -------------------
# With ``sample_posterior=True`` every ``transform`` draws the missing entries from
# their conditional distribution given the observed ones. Twenty draws give an interval
# for every missing entry: from the smallest to the largest draw, which holds a new
# draw from the same distribution with probability 19/21, about 90%.
drawing = VAEImputer(sample_posterior=True, random_state=0).fit(X_missing)
draws = np.stack([drawing.transform(X_missing) for _ in range(20)])
low, high = draws.min(axis=0), draws.max(axis=0)
inside = (X >= low) & (X <= high)
print(f"the intervals hold the removed value for {inside[missing].mean():.0%} "
      "of the removed entries")

column = 0
rows = np.flatnonzero(missing[:, column])[:25]
fig, ax = plt.subplots(figsize=(6, 3))
ax.vlines(np.arange(len(rows)), low[rows, column], high[rows, column], color="0.6",
          label="range of 20 imputations")
ax.plot(np.arange(len(rows)), X[rows, column], "k.", label="removed value")
ax.set_xlabel("row with its alcohol content removed")
ax.set_ylabel("alcohol (standardised)")
ax.legend(loc="upper left", fontsize="small")
fig.tight_layout()
plt.show()
