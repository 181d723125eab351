"""Area 2: ``transform`` throughput and single-row latency, against the raw encoder and PCA."""

# License: BSD 3 clause

import copy

import numpy as np
import torch
from sklearn.decomposition import PCA

from ._harness import Target, compare, fit_vae, interleave, rates
from .config import HIDDEN_LAYER_SIZES, N_COMPONENTS
from .data import BINARY_DIGITS, binary_digits, gaussian_rows

TITLE = "Inference"

#: Rows the models are fitted on; inference speed does not depend on the training.
FIT_ROWS = 2_048

#: The single-row latency model of ../shared/ANCHORS.md section 6 (a 64-256-128-16 MLP,
#: 69 us per forward there): features, encoder widths, latent size.
LATENCY_SHAPE = (64, (256, 128), 16)


def encoder_forward(module, x):
    """Posterior means of ``x`` straight through the torch module, no estimator around it.

    Parameters
    ----------
    module : skvae._module.VAEModule
    x : torch.Tensor of shape (n_samples, n_features)
        Already standardised, in the module's dtype and on its device.

    Returns
    -------
    mean : torch.Tensor of shape (n_samples, n_components)
    """
    with torch.no_grad():
        return module.encode(x).mean


def run(settings, device):
    """Batch ``transform`` rows/s and single-row ``transform`` latency.

    Parameters
    ----------
    settings : benchmarks.config.Settings
    device : torch.device

    Returns
    -------
    area : dict
        ``title``, ``description``, ``rows`` and ``notes``.
    """
    X = binary_digits(settings.inference_rows)
    X32 = X.astype(np.float32)
    vae = fit_vae(X[:FIT_ROWS], likelihood="bernoulli", hidden_layer_sizes=HIDDEN_LAYER_SIZES,
                  n_components=N_COMPONENTS, batch_size=256, max_iter=1, device=device)
    pca = PCA(N_COMPONENTS, random_state=0).fit(X[:FIT_ROWS])
    module = vae.module_.eval()
    # skvae computes in the input's precision (float64 in: float64 maths, as PCA), so
    # each dtype is also held against a raw forward in that dtype.
    module64 = copy.deepcopy(module).double()
    # The Bernoulli likelihood does not standardise, so X is what the module sees.
    x_device = torch.as_tensor(X32, device=device)
    x_device64 = torch.as_tensor(X, device=device)

    batch = interleave({
        "float64": lambda: vae.transform(X),
        "float32": lambda: vae.transform(X32),
        "encoder": lambda: encoder_forward(module, x_device),
        "encoder64": lambda: encoder_forward(module64, x_device64),
        "pca": lambda: pca.transform(X),
    }, repeats=settings.repeats, device=device)
    speed = {name: rates(len(X), t.seconds) for name, t in batch.items()}

    n_features, hidden, n_components = LATENCY_SHAPE
    T = gaussian_rows(FIT_ROWS, n_features)
    small = fit_vae(T, hidden_layer_sizes=hidden, n_components=n_components, max_iter=1,
                    device=device)
    small_pca = PCA(n_components, random_state=0).fit(T)
    x1, t1 = np.ascontiguousarray(X[:1]), np.ascontiguousarray(T[:1])
    # Each pair takes turns on its own: interleaving the large model's calls with the
    # small one's would evict the small model's weights from the caches between calls.
    single = {
        **interleave({"small": lambda: small.transform(t1),
                      "small_pca": lambda: small_pca.transform(t1)},
                     repeats=settings.latency_calls, device=device, warmup=5),
        **interleave({"skvae": lambda: vae.transform(x1), "pca": lambda: pca.transform(x1)},
                     repeats=settings.latency_calls, device=device, warmup=5),
    }
    latency = {name: [1e6 * s for s in t.seconds] for name, t in single.items()}
    shape = f"{n_features}-{'-'.join(map(str, hidden))}-{n_components}"

    n = len(X)
    rows = [
        compare(f"transform {n} rows, float64 in, vs raw encoder forward in float64", "rows/s",
                speed["float64"], speed["encoder64"],
                other_label="encoder forward, float64 tensor", target=Target(">=", 0.9)),
        compare(f"transform {n} rows, float64 in, vs raw encoder forward in float32", "rows/s",
                speed["float64"], speed["encoder"], other_label="encoder forward, float32 tensor"),
        compare(f"transform {n} rows, float32 in, vs raw encoder forward", "rows/s",
                speed["float32"], speed["encoder"], other_label="encoder forward, float32 tensor",
                target=Target(">=", 0.9)),
        compare(f"transform {n} rows, float64 in, vs PCA.transform", "rows/s",
                speed["float64"], speed["pca"], other_label="PCA(32).transform, float64"),
        compare(f"single-row transform latency, {shape} Gaussian VAE, vs PCA.transform "
                "(lower is better)", "us", latency["small"], latency["small_pca"],
                other_label=f"PCA({n_components}).transform, 1 row", target=Target("<=", 1.0)),
        compare("single-row transform latency, 784-512-512-32 VAE, vs PCA.transform (lower "
                "is better)", "us", latency["skvae"], latency["pca"],
                other_label=f"PCA({N_COMPONENTS}).transform, 1 row"),
    ]
    return {
        "title": TITLE,
        "description": (
            f"{device.type}; the {X.shape[1]}-{'-'.join(map(str, HIDDEN_LAYER_SIZES))}-"
            f"{N_COMPONENTS} Bernoulli VAE of area 1 (fitted 1 epoch on {FIT_ROWS} rows) and "
            f"PCA({N_COMPONENTS}); data: {BINARY_DIGITS}. The raw forward gets a float32 "
            "tensor prepared beforehand. Latency is the median of "
            f"{settings.latency_calls} single-row calls per side on a float64 row; its target "
            f"is held on the {shape} model of ../shared/ANCHORS.md section 6 (Gaussian "
            f"likelihood, fitted 1 epoch on {FIT_ROWS} rows of {n_features} standard-normal "
            "features), and the 784-512-512-32 model is shown beside it: its "
            "float64 encoder forward alone takes about as long as PCA's whole call."
        ),
        "rows": rows,
        "notes": [],
    }
