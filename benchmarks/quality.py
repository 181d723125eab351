"""Area 5: held-out quality next to fit time, on dequantised ``load_digits``."""

# License: BSD 3 clause

from sklearn.decomposition import PCA, FactorAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ._harness import compare, fit_vae, interleave, row
from .data import DEQUANTISED_DIGITS, dequantised_digits

TITLE = "Quality next to speed (load_digits)"

#: Latent size of the VAE, PCA and factor analysis.
N_COMPONENTS = 8

#: The models the VAE is held against, by their label in the report.
OTHERS = {
    f"PCA({N_COMPONENTS})": lambda: PCA(N_COMPONENTS, random_state=0),
    f"FactorAnalysis({N_COMPONENTS})": lambda: FactorAnalysis(N_COMPONENTS, random_state=0),
    "GaussianMixture(5, full)": lambda: GaussianMixture(5, covariance_type="full",
                                                       random_state=0),
}


def _probe_accuracy(transformer, X_train, X_test, y_train, y_test):
    """Test accuracy of a logistic regression on the (standardised) latents."""
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2_000))
    probe.fit(transformer.transform(X_train), y_train)
    return probe.score(transformer.transform(X_test), y_test)


def run(settings, device):
    """Fit every model in turns, then compare held-out scores and probe accuracies.

    Parameters
    ----------
    settings : benchmarks.config.Settings
    device : torch.device

    Returns
    -------
    area : dict
        ``title``, ``description``, ``rows`` and ``notes``.
    """
    X_train, X_test, y_train, y_test = dequantised_digits()
    sides = {"VAE": lambda: fit_vae(X_train, n_components=N_COMPONENTS, device=device,
                                    hidden_layer_sizes=(128, 128),
                                    max_iter=settings.quality_max_iter)}
    sides.update({label: (lambda make=make: make().fit(X_train)) for label, make in OTHERS.items()})
    timings = interleave(sides, repeats=settings.repeats, device=device)
    vae = timings["VAE"].result
    vae_score = vae.score(X_test)
    rows = []
    for label in OTHERS:
        other_score = timings[label].result.score(X_test)
        rows.append(row(f"held-out score vs {label}", "nats/sample", vae_score,
                        other=other_score, other_label=label,
                        difference=vae_score - other_score))
    pca = timings[f"PCA({N_COMPONENTS})"].result
    split = (X_train, X_test, y_train, y_test)
    vae_acc, pca_acc = _probe_accuracy(vae, *split), _probe_accuracy(pca, *split)
    rows.append(row(f"LogisticRegression accuracy on {N_COMPONENTS}-d latents vs PCA",
                    "accuracy", vae_acc, other=pca_acc, other_label=f"PCA({N_COMPONENTS})",
                    ratio=vae_acc / pca_acc))
    for label in OTHERS:
        rows.append(compare(f"fit time vs {label} (lower is better)", "s",
                            timings["VAE"].seconds, timings[label].seconds, other_label=label))
    return {
        "title": TITLE,
        "description": (
            f"{device.type}; VAETransformer(n_components={N_COMPONENTS}, "
            f"max_iter={settings.quality_max_iter}, tol=0, early_stopping=False, "
            "learning_rate='constant'), otherwise default parameters "
            f"(Gaussian likelihood, hidden (128, 128)); data: {DEQUANTISED_DIGITS}. Scores "
            "are mean held-out log-likelihoods (the VAE's is its ELBO, a lower bound) in "
            "nats per sample; the probe is StandardScaler + LogisticRegression on the latents."
        ),
        "rows": rows,
        "notes": [],
    }
