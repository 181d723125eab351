"""
=========================================
The latent space: scatter and traversals
=========================================

A VAE with two latent dimensions can be looked at directly. This example fits one to
the digits and draws it with the displays of :mod:`skvae.plotting`:

* :class:`~skvae.plotting.LatentSpaceDisplay`: the posterior means of the images,
  coloured by their (unused) labels;
* :class:`~skvae.plotting.LatentTraversalDisplay`: what the decoder makes of points
  along each latent axis;
* :class:`~skvae.plotting.SampleGridDisplay`: decoded points drawn from the prior.

It then shows how ``beta`` changes the picture.
"""

# %%
# A two-dimensional VAE of the digits
# -----------------------------------
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits

from skvae import VAETransformer
from skvae.plotting import LatentSpaceDisplay, LatentTraversalDisplay, SampleGridDisplay

# Grey levels in [0, 1] with the customary Bernoulli likelihood: its decoder means stay
# in [0, 1], which makes clean images. (Its score is then a cross-entropy rather than a
# density; use "continuous_bernoulli" or "gaussian" to compare with PCA.)
X, y = load_digits(return_X_y=True)
X = X / 16
params = dict(n_components=2, likelihood="bernoulli", hidden_layer_sizes=(128,),
              batch_size=256, learning_rate_init=5e-3, n_iter_no_change=10, device="cpu",
              random_state=0)
vae = VAETransformer(**params).fit(X)

# %%
# Posterior means
# ---------------
# ``transform`` maps each image to the mean of its posterior. The labels play no part
# in the fit; colouring by them shows that the digits still group by class.
LatentSpaceDisplay.from_estimator(vae, X, y)

# %%
# Latent traversals
# -----------------
# Each row walks along one latent dimension from -3 to 3 prior standard deviations,
# with the other held at 0, and decodes (``inverse_transform``) every point.
LatentTraversalDisplay.from_estimator(vae, n_steps=9)

# %%
# Decoded prior samples
# ---------------------
# Points drawn from the prior N(0, I), decoded: what the model thinks digits look like.
SampleGridDisplay.from_estimator(vae, n_samples=25, random_state=0)

# %%
# The effect of ``beta``
# ----------------------
# ``beta`` weighs the KL term of the training objective (see :ref:`beta`). A small
# ``beta`` lets the codes spread out and the classes separate, at the price of a latent
# space that matches the prior less well. A large ``beta`` pulls every posterior
# towards the prior; here, at ``beta=4``, the KL term wins outright: both dimensions
# collapse to the prior, every image gets nearly the same code, and the decoder can
# only draw an average digit. The score in each title is the ELBO of the training
# images, always computed with ``beta=1``: ``beta`` changes training only.
fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), layout="constrained", sharex=True,
                         sharey=True)
for beta, ax in zip([0.25, 1.0, 4.0], axes):
    model = vae if beta == 1.0 else VAETransformer(beta=beta, **params).fit(X)
    display = LatentSpaceDisplay.from_estimator(model, X, y, ax=ax, s=6)
    if display.legend_ is not None and beta != 4.0:
        display.legend_.remove()
    ax.set_title(f"beta={beta:g}: score {model.score(X):.1f} nats")
