"""VQ-VAE on 28x28 digits: reconstruction error against bits per image, the learned code
prior against a uniform one, and codebook use at the end of a default fit.

Three tables, written to stdout as Markdown:

1. *Rate and distortion*: held-out reconstruction RMSE (pixels in [0, 1]) against the
   bits a test image is stored in. VQVAETransformer stores ``n_positions * log2(n_codes)``
   bits (and, entropy-coded with its learned prior, ``-log2 p(c)`` on average). PCA and a
   Gaussian VAETransformer store continuous codes: they are quantised to ``b`` bits per
   component (uniformly between the training codes' minimum and maximum), so
   ``n_components * b`` bits, and decoded from the quantised codes.
2. *Sample quality*: Frechet distance and precision / recall (benchmarks/sample_quality.py,
   a digit classifier's feature space) of 1000 images decoded from codes drawn from the
   learned prior and from a uniform prior over codes, same fitted model, 3 seeds. The
   images are the decoder's means (the Gaussian likelihood's per-pixel noise would
   otherwise dominate both).
3. *Codebook use*: perplexity and dead codes at the end of each default fit.

Run::

    python -m benchmarks.vq_vae            # about 15 minutes of one CPU core
    python -m benchmarks.vq_vae --smoke    # tiny fits that only exercise the code
"""

# License: BSD 3 clause

import argparse
import sys
import time
import warnings

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning

from skvae import VAETransformer, VQVAETransformer

from .sample_quality import DIGIT_IMAGES, FeatureSpace, digit_images

#: (n_positions, n_codes, n_top_positions) of the VQ-VAEs of the rate-distortion table;
#: (8, 32, 0) is the default and comes from the sample-quality fits. The last is a
#: two-level VQ-VAE-2, whose learned prior is also compared with a uniform one (seed 0).
VQ_SIZES = [(4, 16, 0), (16, 64, 0), (8, 32, 4)]

#: Latent sizes of the Gaussian VAEs, and bits per component of the quantised codes.
VAE_SIZES = [4, 8, 16]
PCA_SIZES = [2, 4, 8, 16, 32]
BITS_PER_COMPONENT = [2, 4, 6]

SEEDS = [0, 1, 2]


def rmse(a, b):
    return float(np.sqrt(np.mean((a - b) ** 2)))


def quantised(Z_train, Z, bits):
    """Z quantised to ``2**bits`` levels per column over the training codes' range."""
    low, high = Z_train.min(axis=0), Z_train.max(axis=0)
    step = np.where(high > low, (high - low) / (2**bits - 1), 1.0)
    return low + np.clip(np.round((Z - low) / step), 0, 2**bits - 1) * step


def continuous_rows(name, model, X_train, X_test, n_components):
    """Rate-distortion rows of a model with continuous codes, quantised."""
    Z_train, Z_test = model.transform(X_train), model.transform(X_test)
    rows = [(name, n_components, "inf", rmse(model.inverse_transform(Z_test), X_test), "")]
    for bits in BITS_PER_COMPONENT:
        X_hat = model.inverse_transform(quantised(Z_train, Z_test, bits))
        rows.append((name, n_components, n_components * bits, rmse(X_hat, X_test), ""))
    return rows


def vq_row(model, X_test):
    """The rate-distortion row of a fitted VQ-VAE."""
    p, k, top = model.n_positions, model.n_codes, model.n_top_positions
    code = f"{p} x {k} codes" + (f" + top {top} x {k}" if top else "")
    codes = torch.as_tensor(model.transform_codes(X_test))
    with torch.no_grad():  # the code length under the learned prior (entropy coding)
        prior_bits = -float(model._module64.code_prior.log_prob(codes).mean()) / np.log(2)
    X_hat = model.inverse_transform(model.transform(X_test))
    return ("VQVAETransformer", code, f"{(p + top) * np.log2(k):.0f}",
            rmse(X_hat, X_test), f"{prior_bits:.1f}")


def sample_quality(model, space, X_test, seed, n_samples=1000):
    """FD, precision and recall of decoded samples, learned prior and uniform prior."""
    learned = model.sample_codes(n_samples, random_state=seed)
    uniform = np.random.RandomState(seed).randint(model.n_codes, size=learned.shape)
    out = {}
    for name, codes in (("learned", learned), ("uniform", uniform)):
        images = np.clip(model.inverse_transform(model.embed_codes(codes)), 0.0, 1.0)
        precision, recall = space.precision_recall(X_test, images)
        out[name] = (space.frechet_distance(X_test, images), precision, recall)
    return out


def progress(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [f"{v:.4f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.vq_vae", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny fits, for the tests")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    fit = dict(device="cpu", max_iter=2) if args.smoke else dict(device="cpu")
    seeds = SEEDS[:1] if args.smoke else SEEDS
    X_train, X_test, y_train, _ = digit_images()
    print(f"Data: {DIGIT_IMAGES}; {len(X_train)} training and {len(X_test)} test images.\n")
    space = FeatureSpace().fit(X_train, y_train)

    quality, usage, defaults = [], [], {}
    for seed in seeds:
        progress(f"default fit, seed {seed}")
        start = time.perf_counter()
        model = VQVAETransformer(random_state=seed, **fit).fit(X_train)
        seconds = time.perf_counter() - start
        defaults[seed] = model
        usage.append((seed, model.n_iter_, f"{seconds:.0f}", f"{model.perplexity_:.2f}",
                      model.n_dead_codes_, model.dead_codes_curve_[-1], model.n_codes))
        result = sample_quality(model, space, X_test, seed)
        for prior, (fd, precision, recall) in result.items():
            quality.append((seed, prior, fd, precision, recall))

    rate = [vq_row(defaults[seeds[0]], X_test)]
    for p, k, top in VQ_SIZES:
        progress(f"VQ-VAE {p} x {k}, top {top}")
        model = VQVAETransformer(p, n_codes=k, n_top_positions=top, random_state=0,
                                 **fit).fit(X_train)
        rate.append(vq_row(model, X_test))
        if top:
            for prior, (fd, precision, recall) in sample_quality(model, space, X_test,
                                                                  0).items():
                quality.append((f"0 (two levels, {p} + top {top})", prior, fd, precision,
                                recall))
    for d in VAE_SIZES:
        progress(f"VAE {d}")
        vae = VAETransformer(d, hidden_layer_sizes=(128, 128), random_state=0,
                             **fit).fit(X_train)
        rate += continuous_rows("VAETransformer (Gaussian)", vae, X_train, X_test, d)
    for d in PCA_SIZES:
        pca = PCA(d, random_state=0).fit(X_train)
        rate += continuous_rows("PCA", pca, X_train, X_test, d)

    print("### Rate and distortion (held-out images)\n")
    print(table(["model", "code", "bits per image", "RMSE", "bits under the learned prior"],
                rate))
    print("\n### Samples from the learned code prior vs a uniform code prior\n")
    print(table(["seed", "code prior", "Frechet distance", "precision", "recall"], quality))
    fd = {prior: [q[2] for q in quality if q[1] == prior and q[0] in seeds]
          for prior in ("learned", "uniform")}
    print(f"\nDefault one-level model, mean Frechet distance: learned {np.mean(fd['learned']):.2f}, uniform "
          f"{np.mean(fd['uniform']):.2f}; learned lower on "
          f"{sum(a < b for a, b in zip(fd['learned'], fd['uniform']))} of {len(seeds)} seeds.")
    print("\n### Codebook use at the end of a default fit\n")
    print(table(["seed", "epochs", "fit seconds", "perplexity", "dead codes (final model)",
                 "dead codes (last epoch)", "codebook size"], usage))


if __name__ == "__main__":
    main()
