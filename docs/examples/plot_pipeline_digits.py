"""
==============================================
A VAE as a feature extractor in a Pipeline
==============================================

:class:`~skvae.VAETransformer` is a scikit-learn transformer: ``transform`` returns the
posterior mean of each row's latent code. So it takes the place of
:class:`~sklearn.decomposition.PCA` in front of a classifier, in a
:class:`~sklearn.pipeline.Pipeline` that fits, predicts and cross-validates as one
estimator.

Here both reduce the 64 pixels of the digits to a few features for a
:class:`~sklearn.linear_model.LogisticRegression`.
"""

# %%
# The pipelines
# -------------
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skvae import VAETransformer
from skvae.plotting import LossCurveDisplay, ReconstructionDisplay

# sphinx_gallery_thumbnail_number = 3

X, y = load_digits(return_X_y=True)
X = X / 16  # grey levels in [0, 1]
X_train, X_test, y_train, y_test = train_test_split(
    X, y, train_size=1000, test_size=500, stratify=y, random_state=0
)


def vae_pipeline(n_components):
    vae = VAETransformer(n_components=n_components, hidden_layer_sizes=(64,),
                         batch_size=200, learning_rate_init=5e-3, n_iter_no_change=10,
                         device="cpu", random_state=0)
    return make_pipeline(vae, StandardScaler(), LogisticRegression(max_iter=1000))


def pca_pipeline(n_components):
    pca = PCA(n_components=n_components, random_state=0)
    return make_pipeline(pca, StandardScaler(), LogisticRegression(max_iter=1000))


vae_pipe = vae_pipeline(8).fit(X_train, y_train)
print(vae_pipe)
print(f"test accuracy with 8 VAE features: {vae_pipe.score(X_test, y_test):.3f}")

# %%
# The pipeline passes ``y`` to every step; ``VAETransformer.fit`` ignores it, as PCA
# does, so the features are learned without the labels. The fitted VAE is the
# pipeline's first step: its training curve is in nats per image (see
# :ref:`loss_curve`), and its reconstructions show what the 8 features keep.
vae = vae_pipe[0]
LossCurveDisplay.from_estimator(vae)

# %%
ReconstructionDisplay.from_estimator(vae, X_test, n_images=10)

# %%
# Accuracy against the number of features
# ---------------------------------------
# With very few features, the nonlinear encoder can keep more of what separates the
# classes than the same number of principal components. With more features PCA
# catches up and, on a training set this small (1000 images), passes the VAE: its
# features are fitted for reconstruction, not for the classifier, and the VAE stops
# where its own held-out reconstruction stops improving. The printed table and the
# plot below come from this run.
sizes = [2, 4, 8, 16]
accuracy = {"PCA": [], "VAETransformer": []}
for n in sizes:
    accuracy["PCA"].append(pca_pipeline(n).fit(X_train, y_train).score(X_test, y_test))
    accuracy["VAETransformer"].append(
        vae_pipe.score(X_test, y_test) if n == 8
        else vae_pipeline(n).fit(X_train, y_train).score(X_test, y_test)
    )

print("n_components  " + "  ".join(f"{name:>14}" for name in accuracy))
for i, n in enumerate(sizes):
    print(f"{n:>12}  " + "  ".join(f"{accuracy[name][i]:>14.3f}" for name in accuracy))

fig, ax = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
for name, values in accuracy.items():
    ax.plot(sizes, values, marker="o", label=f"{name} + LogisticRegression")
ax.set_xscale("log", base=2)
ax.set_xticks(sizes, labels=[str(n) for n in sizes])
ax.set_xlabel("n_components (features given to the classifier)")
ax.set_ylabel("test accuracy")
ax.set_title("Digits: classification on reduced features")
ax.legend()

# %%
# Everything that works on a pipeline works here: ``cross_val_score``, ``clone``,
# pickling, and :class:`~sklearn.model_selection.GridSearchCV` over
# ``vaetransformer__n_components`` or ``vaetransformer__beta`` with the accuracy as the
# score, to tune the VAE for the classifier rather than for likelihood.
