"""
=======================================================
Image families: conv VAE, structured residuals, VAE-GAN
=======================================================

Rows that are images can go through convolutions (``network="conv"``), a likelihood
with correlated residuals (``likelihood="gaussian_lowrank"``, Dorta et al. 2018) or a
discriminator (:class:`~skvae.VAEGAN`, Larsen et al. 2016), with the same
scikit-learn interface as the plain VAE. Here each family is fitted briefly on the
8x8 digits; every row of the figure shows held-out digits, their reconstructions and
samples (the decoder means of prior draws). See the user guide on image data and
``benchmarks/RESULTS.md`` for measurements on 28x28 digits.
"""

# %%
# Fitting the families
# --------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skvae import VAEGAN, VAETransformer
from skvae.networks import ConvNetwork

# The models train for few epochs here, on purpose: silence the warning that says so.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, _ = load_digits(return_X_y=True)
X_train, X_test = train_test_split(X / 16, test_size=0.2, random_state=0)

conv = ConvNetwork(image_shape=(1, 8, 8), channels=(16,))
common = dict(n_components=8, hidden_layer_sizes=(64,), batch_size=64,
              learning_rate_init=5e-3, max_iter=40, early_stopping=False, device="cpu",
              random_state=0)
families = {
    "MLP VAE": VAETransformer(**common),
    "conv VAE": VAETransformer(**common, network=conv),
    "conv VAE,\nstructured residuals": VAETransformer(
        **common, network=conv, likelihood="gaussian_lowrank"),
    "conv VAE-GAN": VAEGAN(**common, network=conv),
}
for name, model in families.items():
    model.fit(X_train)
    print(f"{name.replace(chr(10), ' '):<36} held-out ELBO {model.score(X_test):8.1f} "
          "nats per image")

# %%
# Reconstructions and samples
# ---------------------------
# The first four columns are held-out digits, the next four their reconstructions
# (``inverse_transform(transform(X))``), the last four samples: ``inverse_transform``
# of draws of the standard normal prior.
originals = X_test[:4]
z = np.random.RandomState(0).standard_normal((4, common["n_components"]))
fig, axes = plt.subplots(len(families), 12, figsize=(10, 1.1 * len(families) + 0.4))
for row, (name, model) in zip(axes, families.items()):
    images = np.vstack([originals, model.inverse_transform(model.transform(originals)),
                        model.inverse_transform(z)])
    for ax, image in zip(row, images):
        ax.imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
    row[0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
for col, title in ((0, "held out"), (4, "reconstructed"), (8, "sampled")):
    axes[0, col].set_title(title, loc="left", fontsize=9)
fig.tight_layout()
plt.show()
