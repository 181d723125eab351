"""Area 6: small data, where scikit-learn users live: a default fit of load_digits.

What a new user meets first: ``VAETransformer(n_components=8).fit(X)`` with every other
parameter at its default, timed side by side with the hand-written torch loop of the
same network, batch size and number of epochs, and with GaussianMixture and
FactorAnalysis; its held-out score; how soon it was within 1 nat of its final
held-out score; and the cost of one training step against the hand-written step.
"""

# License: BSD 3 clause


import warnings

import numpy as np
import torch
from sklearn.decomposition import FactorAnalysis
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from skvae import VAETransformer
from skvae._objectives import ELBOObjective
from skvae._training import adam

from ._harness import Target, compare, interleave, limit_threads, row
from .baselines import PlainGaussianVAE, fit_on_device
from .data import DEQUANTISED_DIGITS, dequantised_digits

TITLE = "Small data (load_digits, default parameters)"

#: Latent size the user sets; everything else is the default.
N_COMPONENTS = 8

#: Held-out score of a 200-epoch fit before the defaults changed (area 5 of the run
#: of 2026-11-26, same data and split): a default fit must not score below it.
SCORE_200_EPOCHS = 55.8

#: Seconds a default fit of load_digits may take on the 2-core reference machine.
FIT_SECONDS = 2.0

#: Training steps per round of the per-step comparison.
STEPS = 200


def _default_fit(X, device, max_iter=None):
    """The user's fit: only ``n_components`` set (and ``max_iter`` in short runs)."""
    params = {} if max_iter is None else {"max_iter": max_iter}
    with warnings.catch_warnings():
        if max_iter is not None:  # a deliberately short fit
            warnings.simplefilter("ignore", ConvergenceWarning)
        return VAETransformer(n_components=N_COMPONENTS, random_state=0, device=device,
                              **params).fit(X)


def _epochs_to_quality(vae, margin=1.0):
    """The first epoch whose validation score is within ``margin`` nats of the best."""
    scores = np.asarray(vae.validation_scores_ if vae.validation_scores_ else
                        [-loss for loss in vae.loss_curve_])
    return int(np.argmax(scores >= scores.max() - margin)) + 1


def _step_pair(X, vae, device):
    """One skvae training step and one hand-written step, same network and batch."""
    batch_size = vae._batch_size(X.shape[0])
    x = vae._standardizer.to_tensor(X, torch.float32, device)[:batch_size]
    module = _default_fit(X, device, max_iter=1).module_.train()
    objective = ELBOObjective(module, (x, None), None,
                              torch.Generator(device=device).manual_seed(0),
                              vae._standardizer, beta=1.0, kl_warmup=0, free_bits=0.0,
                              start_epoch=0)
    optimizer = adam(module, vae.learning_rate_init)
    plain = PlainGaussianVAE(X.shape[1], vae.hidden_layer_sizes, N_COMPONENTS).to(device)
    plain_optimizer = torch.optim.Adam(plain.parameters(), lr=vae.learning_rate_init)
    generator = torch.Generator(device=device).manual_seed(0)

    def steps(loss, optimizer):
        def run():
            for _ in range(STEPS):
                value = loss()
                optimizer.zero_grad(set_to_none=True)
                value.backward()
                optimizer.step()
        return run

    return {"skvae": steps(lambda: objective.loss((x, None)), optimizer),
            "hand-written": steps(lambda: plain.loss(x, generator), plain_optimizer)}


def run(settings, device):
    """Fit in turns, then compare times, scores and steps.

    Parameters
    ----------
    settings : benchmarks.config.Settings
    device : torch.device

    Returns
    -------
    area : dict
        ``title``, ``description``, ``rows`` and ``notes``.
    """
    X_train, X_test, _, _ = dequantised_digits()
    vae = _default_fit(X_train, device, settings.small_data_max_iter)
    epochs, batch_size = vae.n_iter_, vae._batch_size(X_train.shape[0])
    x_train = torch.as_tensor((X_train - X_train.mean(0)) / X_train.std(0),
                              dtype=torch.float32, device=device)
    sides = {
        "skvae": lambda: _default_fit(X_train, device, settings.small_data_max_iter),
        "loop": lambda: fit_on_device(x_train, hidden_layer_sizes=vae.hidden_layer_sizes,
                                      n_components=N_COMPONENTS, batch_size=batch_size,
                                      epochs=epochs, lr=vae.learning_rate_init,
                                      model_class=PlainGaussianVAE),
        "GaussianMixture(5, full)": lambda: GaussianMixture(
            5, covariance_type="full", random_state=0).fit(X_train),
        f"FactorAnalysis({N_COMPONENTS})": lambda: FactorAnalysis(
            N_COMPONENTS, random_state=0).fit(X_train),
    }
    timings = interleave(sides, repeats=settings.repeats, device=device)
    fit_seconds = timings["skvae"].median
    score = vae.score(X_test)
    to_quality = fit_seconds * _epochs_to_quality(vae) / epochs
    rows = [
        row("default fit time (lower is better)", "s", fit_seconds,
            target=Target("<=", FIT_SECONDS), details={"epochs": epochs}),
        row(f"held-out score of the default fit (200 epochs before: {SCORE_200_EPOCHS})",
            "nats/sample", score, target=Target(">=", SCORE_200_EPOCHS)),
        row("seconds until the validation score is within 1 nat of its best", "s",
            to_quality, details={"epochs": _epochs_to_quality(vae)}),
        compare(f"default fit vs hand-written loop, same {epochs} epochs (lower is better)",
                "s", timings["skvae"].seconds, timings["loop"].seconds,
                other_label="hand-written loop, data on device"),
    ]
    for label in ("GaussianMixture(5, full)", f"FactorAnalysis({N_COMPONENTS})"):
        other = timings[label].result.score(X_test)
        rows.append(compare(f"fit time vs {label} (lower is better)", "s",
                            timings["skvae"].seconds, timings[label].seconds,
                            other_label=label,
                            details={"held-out score": other}))
    with limit_threads(1):
        steps = interleave(_step_pair(X_train, vae, device), repeats=settings.repeats,
                           device=device)
    rows.append(compare("training step vs hand-written step, 1 thread (lower is better)",
                        "ms", [1e3 * s / STEPS for s in steps["skvae"].seconds],
                        [1e3 * s / STEPS for s in steps["hand-written"].seconds],
                        other_label="hand-written step", target=Target("<=", 1.1)))
    return {
        "title": TITLE,
        "description": (
            f"{device.type}; VAETransformer(n_components={N_COMPONENTS}), every other "
            f"parameter at its default ({vae.n_iter_} epochs run, batch {batch_size}, "
            f"early_stopping={vae.early_stopping!r}, n_iter_no_change="
            f"{vae.n_iter_no_change}); data: {DEQUANTISED_DIGITS}. The hand-written loop "
            "is a Gaussian VAE of the same network "
            f"({'-'.join(map(str, [64, *vae.hidden_layer_sizes, N_COMPONENTS]))}) trained "
            "for the same epochs and batch size with torch's default Adam on a "
            "pre-standardised tensor. "
            "The time to quality is the fit time times the share of epochs run before the "
            "validation ELBO first came within 1 nat of its best. The step comparison "
            f"times {STEPS} steps of one batch per round, both sides with 1 torch thread."
        ),
        "rows": rows,
        "notes": [f"held-out scores: skvae {score:.2f}, " + ", ".join(
            f"{label} {timings[label].result.score(X_test):.2f}"
            for label in ("GaussianMixture(5, full)", f"FactorAnalysis({N_COMPONENTS})"))],
    }
