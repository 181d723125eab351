"""
=====================================================
Discrete codes: a VQ-VAE and its learned code prior
=====================================================

:class:`~skvae.VQVAETransformer` stores each image as a few indices into a learned
codebook. This example fits one to the digits, looks at how the codebook is used
while training, decodes images from their codes, and compares images drawn with the
learned prior over codes against images from codes drawn uniformly at random.
"""

# %%
# Fitting
# -------
# Each 8x8 digit becomes ``n_positions=4`` codes out of ``n_codes=16``: 16 bits per
# image. The Bernoulli likelihood keeps the decoded grey levels in [0, 1].
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from skvae import VQVAETransformer

X, y = load_digits(return_X_y=True)
X = X / 16
vq = VQVAETransformer(n_positions=4, n_codes=16, embedding_dim=4, likelihood="bernoulli",
                      hidden_layer_sizes=(128,), batch_size=256, learning_rate_init=5e-3,
                      n_iter_no_change=10, device="cpu", random_state=0).fit(X)
codes = vq.transform_codes(X)
print("codes of the first three images:\n", codes[:3])
print(f"perplexity {vq.perplexity_:.1f} of {vq.n_codes} codes, {vq.n_dead_codes_} dead")

# %%
# Codebook use during training
# ----------------------------
# The perplexity (the number of codes in effective use) and the codes no image chose
# in an epoch, which are restarted at random encoder outputs before the next one.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3), layout="constrained")
ax1.plot(vq.perplexity_curve_)
ax1.set(xlabel="epoch", ylabel="perplexity", ylim=(0, vq.n_codes + 1))
ax2.plot(vq.dead_codes_curve_)
ax2.set(xlabel="epoch", ylabel="dead codes")

# %%
# Images, their codes, and samples
# --------------------------------
# Top: digits. Second row: decoded from their codes
# (``inverse_transform(transform(X))``). Third row: decoded from codes drawn from the
# learned prior (``sample_codes``). Bottom: decoded from codes drawn uniformly, which
# ignores which codes go together.
rng = np.random.RandomState(0)
rows = {
    "digits": X[:8],
    "from their codes": vq.inverse_transform(vq.transform(X[:8])),
    "learned prior": vq.inverse_transform(vq.embed_codes(vq.sample_codes(8, random_state=0))),
    "uniform codes": vq.inverse_transform(vq.embed_codes(rng.randint(16, size=(8, 4)))),
}
fig, axes = plt.subplots(4, 8, figsize=(8, 4.4), layout="constrained")
for ax_row, (title, images) in zip(axes, rows.items()):
    ax_row[0].set_title(title, loc="left", fontsize=9)
    for ax, image in zip(ax_row, images):
        ax.imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_axis_off()

# %%
# ``score`` is ``log p(x | codes) + log p(codes)``, the log joint probability of an
# image and the codes it is stored in: a lower bound on the model's log-likelihood
# (with the Bernoulli likelihood, a negative cross-entropy rather than a density).
print(f"score {vq.score(X):.1f} nats per image")
