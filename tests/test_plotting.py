"""The Display classes of skvae.plotting, drawn with the Agg backend on a tiny VAE."""

import subprocess
import sys
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402

from skvae import VAETransformer  # noqa: E402
from skvae.plotting import (  # noqa: E402
    LatentSpaceDisplay,
    LatentTraversalDisplay,
    LossCurveDisplay,
    ReconstructionDisplay,
    SampleGridDisplay,
)

TINY = dict(hidden_layer_sizes=(8,), max_iter=3, random_state=0, device="cpu")


def _fit(X, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return VAETransformer(**{**TINY, **params}).fit(X)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:200] / 16, y[:200]


@pytest.fixture(scope="module")
def vae(digits):
    return _fit(digits[0], n_components=2)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _n_points(display):
    return sum(len(s.get_offsets()) for s in display.scatters_)


# ------------------------------------------------------------------ LatentSpaceDisplay
def test_latent_space_points_are_the_posterior_means_by_class(vae, digits):
    X, y = digits
    disp = LatentSpaceDisplay.from_estimator(vae, X, y)
    Z = vae.transform(X)
    assert _n_points(disp) == len(X)
    classes = np.unique(y)
    assert len(disp.scatters_) == len(classes)
    for scatter, k in zip(disp.scatters_, classes):
        assert scatter.get_label() == str(k)
        np.testing.assert_allclose(scatter.get_offsets(), Z[y == k])
    assert [t.get_text() for t in disp.legend_.get_texts()] == [str(k) for k in classes]
    assert disp.colorbar_ is None
    assert disp.ax_.get_xlabel() == "latent dimension 0"
    assert disp.ax_.get_ylabel() == "latent dimension 1"
    assert disp.figure_ is disp.ax_.figure


def test_latent_space_dims_choose_the_columns(vae, digits):
    X, _ = digits
    disp = LatentSpaceDisplay.from_estimator(vae, X, dims=(1, 0))
    (scatter,) = disp.scatters_
    np.testing.assert_allclose(scatter.get_offsets(), vae.transform(X)[:, [1, 0]])
    assert disp.legend_ is None and disp.colorbar_ is None
    assert disp.ax_.get_xlabel() == "latent dimension 1"


def test_latent_space_continuous_y_gets_a_colorbar(vae, digits):
    X, _ = digits
    values = np.linspace(0.0, 1.0, len(X)) ** 2
    disp = LatentSpaceDisplay.from_estimator(vae, X, values, s=5)
    (scatter,) = disp.scatters_
    assert disp.colorbar_ is not None and disp.legend_ is None
    np.testing.assert_allclose(scatter.get_array(), values)
    np.testing.assert_allclose(scatter.get_sizes(), [5])


def test_latent_space_string_labels_get_a_legend(vae, digits):
    X, y = digits
    names = np.where(y % 2 == 0, "even", "odd")
    disp = LatentSpaceDisplay.from_estimator(vae, X, names)
    assert sorted(s.get_label() for s in disp.scatters_) == ["even", "odd"]
    assert _n_points(disp) == len(X)


def test_latent_space_one_component_is_a_strip(digits):
    X, y = digits
    vae1 = _fit(X, n_components=1)
    disp = LatentSpaceDisplay.from_estimator(vae1, X, y)
    assert _n_points(disp) == len(X)
    z = vae1.transform(X)[:, 0]
    for scatter, k in zip(disp.scatters_, np.unique(y)):
        np.testing.assert_allclose(scatter.get_offsets()[:, 0], z[y == k])
    assert len(disp.ax_.get_yticks()) == 0


@pytest.mark.parametrize(
    "dims, match",
    [((0, 2), "out of range"), ((-1, 0), "out of range"), ((1, 1), "repeats"),
     ((0, 1, 1), "repeats"), (("a", 1), "sequence of ints"), (1.5, "int")],
)
def test_latent_space_bad_dims(vae, digits, dims, match):
    with pytest.raises(ValueError, match=match):
        LatentSpaceDisplay.from_estimator(vae, digits[0], dims=dims)


def test_latent_space_y_must_match_x(vae, digits):
    X, y = digits
    with pytest.raises(ValueError, match="y has 199 entries"):
        LatentSpaceDisplay.from_estimator(vae, X, y[:-1])
    with pytest.raises(ValueError, match="either y or a colour"):
        LatentSpaceDisplay.from_estimator(vae, X, y, c="k")


# --------------------------------------------------------------- ReconstructionDisplay
def test_reconstruction_shows_inputs_above_reconstructions(vae, digits):
    X, _ = digits
    disp = ReconstructionDisplay.from_estimator(vae, X, n_images=5)
    assert disp.artists_.shape == (2, 5)
    assert len(disp.ax_.images) == 10
    X_rec = vae.inverse_transform(vae.transform(X[:5]))
    for j in range(5):
        np.testing.assert_array_equal(disp.artists_[0, j].get_array(), X[j].reshape(8, 8))
        np.testing.assert_allclose(disp.artists_[1, j].get_array(), X_rec[j].reshape(8, 8))
    labels = [t.get_text() for t in disp.ax_.get_yticklabels()]
    assert labels == ["input", "reconstruction"]
    # Every cell shares one colour scale, so inputs and reconstructions compare.
    assert len({im.get_clim() for im in disp.ax_.images}) == 1


def test_reconstruction_takes_all_rows_when_fewer_than_n_images(vae, digits):
    disp = ReconstructionDisplay.from_estimator(vae, digits[0][:3], n_images=8)
    assert disp.artists_.shape == (2, 3)


def test_reconstruction_custom_image_shape(vae, digits):
    X, _ = digits
    disp = ReconstructionDisplay.from_estimator(vae, X, n_images=2, image_shape=(4, 16))
    np.testing.assert_array_equal(disp.artists_[0, 1].get_array(), X[1].reshape(4, 16))


def test_reconstruction_non_square_rows_are_lines():
    X = np.random.RandomState(0).normal(size=(60, 5))
    est = _fit(X, n_components=2)
    disp = ReconstructionDisplay.from_estimator(est, X, n_images=4)
    assert len(disp.ax_.images) == 0
    assert disp.artists_.shape == (2, 4)
    assert all(isinstance(a, Line2D) for a in disp.artists_.ravel())
    assert all(len(a.get_xdata()) == 5 for a in disp.artists_.ravel())
    # Within a row of cells, the higher the value the higher the point (y is inverted).
    for row, data in zip(disp.artists_, [X[:4], est.inverse_transform(est.transform(X[:4]))]):
        for line, values in zip(row, data):
            assert np.array_equal(np.argsort(-line.get_ydata()), np.argsort(values))


@pytest.mark.parametrize(
    "image_shape, match",
    [((7, 7), "holds 49 pixels.*64 features"), ((8,), "pair of positive ints"),
     ((0, 64), "pair of positive ints"), ("8x8", "pair of positive ints")],
)
def test_bad_image_shape(vae, digits, image_shape, match):
    with pytest.raises(ValueError, match=match):
        ReconstructionDisplay.from_estimator(vae, digits[0], image_shape=image_shape)
    with pytest.raises(ValueError, match=match):
        SampleGridDisplay.from_estimator(vae, image_shape=image_shape)
    with pytest.raises(ValueError, match=match):
        LatentTraversalDisplay.from_estimator(vae, image_shape=image_shape)


# ------------------------------------------------------------------- SampleGridDisplay
def test_sample_grid_means_are_decoded_standard_normal_draws(vae):
    disp = SampleGridDisplay.from_estimator(vae, n_samples=10, random_state=3)
    assert len(disp.ax_.images) == 10
    assert disp.artists_.shape == (3, 4)
    assert sum(a is not None for a in disp.artists_.ravel()) == 10
    Z = np.random.RandomState(3).standard_normal((10, 2))
    expected = vae.inverse_transform(Z)
    cells = [a for a in disp.artists_.ravel() if a is not None]
    for im, row in zip(cells, expected):
        np.testing.assert_allclose(im.get_array(), row.reshape(8, 8))
    assert not disp.ax_.axison


def test_sample_grid_random_state_changes_the_images(vae):
    a = SampleGridDisplay.from_estimator(vae, n_samples=4, random_state=0)
    b = SampleGridDisplay.from_estimator(vae, n_samples=4, random_state=1)
    c = SampleGridDisplay.from_estimator(vae, n_samples=4, random_state=0)
    assert not np.allclose(a.samples, b.samples)
    np.testing.assert_array_equal(a.samples, c.samples)


def test_sample_grid_mean_false_uses_sample(vae):
    disp = SampleGridDisplay.from_estimator(vae, n_samples=4, random_state=0, mean=False)
    expected = vae.sample(4, random_state=0)
    for im, row in zip(disp.ax_.images, expected):
        np.testing.assert_allclose(im.get_array(), row.reshape(8, 8))
    assert "p(x | z)" in disp.ax_.get_title()


def test_sample_grid_bad_n_samples(vae):
    with pytest.raises(ValueError, match="n_samples must be an integer >= 1"):
        SampleGridDisplay.from_estimator(vae, n_samples=0)


# -------------------------------------------------------------- LatentTraversalDisplay
def test_traversal_decodes_each_dimension(vae):
    disp = LatentTraversalDisplay.from_estimator(vae, n_steps=5, span=2.0)
    assert disp.artists_.shape == (2, 5)
    assert len(disp.ax_.images) == 10
    values = np.linspace(-2.0, 2.0, 5)
    for d in range(2):
        Z = np.zeros((5, 2))
        Z[:, d] = values
        for im, row in zip(disp.artists_[d], vae.inverse_transform(Z)):
            np.testing.assert_allclose(im.get_array(), row.reshape(8, 8))
    # The middle column is the origin for every dimension.
    origin = vae.inverse_transform(np.zeros((1, 2)))[0].reshape(8, 8)
    for d in range(2):
        np.testing.assert_allclose(disp.artists_[d, 2].get_array(), origin)
    assert [t.get_text() for t in disp.ax_.get_yticklabels()] == ["z0", "z1"]
    assert len(disp.ax_.get_xticklabels()) == 5
    assert not any(s.get_visible() for s in disp.ax_.spines.values())


def test_traversal_subset_of_dims(vae):
    disp = LatentTraversalDisplay.from_estimator(vae, dims=[1], n_steps=3)
    assert disp.artists_.shape == (1, 3)
    Z = np.array([[0.0, -3.0], [0.0, 0.0], [0.0, 3.0]])
    for im, row in zip(disp.artists_[0], vae.inverse_transform(Z)):
        np.testing.assert_allclose(im.get_array(), row.reshape(8, 8))


@pytest.mark.parametrize(
    "params, match",
    [(dict(dims=[2]), "out of range"), (dict(dims=[0, 0]), "repeats"),
     (dict(n_steps=1), "n_steps"), (dict(span=0.0), "span"), (dict(span=np.inf), "span")],
)
def test_traversal_bad_parameters(vae, params, match):
    with pytest.raises(ValueError, match=match):
        LatentTraversalDisplay.from_estimator(vae, **params)


# -------------------------------------------------------------------- LossCurveDisplay
def test_loss_curve_draws_loss_curve(digits):
    vae = _fit(digits[0], n_components=2, early_stopping=False)
    disp = LossCurveDisplay.from_estimator(vae)
    np.testing.assert_allclose(disp.line_.get_ydata(), vae.loss_curve_)
    np.testing.assert_array_equal(disp.line_.get_xdata(), np.arange(1, len(vae.loss_curve_) + 1))
    assert disp.validation_line_ is None
    assert "nats per sample" in disp.ax_.get_ylabel()
    assert disp.ax_.get_xlabel() == "epoch"


def test_loss_curve_with_early_stopping(digits):
    est = _fit(digits[0], n_components=2, early_stopping=True, validation_fraction=0.2)
    disp = LossCurveDisplay.from_estimator(est)
    assert disp.validation_line_ is not None
    np.testing.assert_allclose(disp.validation_line_.get_ydata(),
                               -np.asarray(est.validation_scores_))
    labels = [t.get_text() for t in disp.ax_.get_legend().get_texts()]
    assert labels == ["training loss", "validation loss (-ELBO)"]


# ----------------------------------------------------------------------------- common
def _all_displays(vae, X):
    return {
        "latent": lambda ax: LatentSpaceDisplay.from_estimator(vae, X, ax=ax),
        "reconstruction": lambda ax: ReconstructionDisplay.from_estimator(vae, X, ax=ax),
        "samples": lambda ax: SampleGridDisplay.from_estimator(vae, ax=ax),
        "traversal": lambda ax: LatentTraversalDisplay.from_estimator(vae, ax=ax),
        "loss": lambda ax: LossCurveDisplay.from_estimator(vae, ax=ax),
    }


@pytest.mark.parametrize("name", ["latent", "reconstruction", "samples", "traversal", "loss"])
def test_existing_ax_is_used(vae, digits, name):
    fig, (ax0, ax1) = plt.subplots(1, 2)
    disp = _all_displays(vae, digits[0])[name](ax1)
    assert disp.ax_ is ax1 and disp.figure_ is fig
    assert plt.get_fignums() == [fig.number]
    assert ax1.has_data() and not ax0.has_data()


@pytest.mark.parametrize("name", ["latent", "reconstruction", "samples", "traversal", "loss"])
def test_new_figure_when_no_ax(vae, digits, name):
    disp = _all_displays(vae, digits[0])[name](None)
    assert plt.get_fignums() == [disp.figure_.number]
    assert disp.ax_.get_title()


def test_plot_returns_self_and_redraws(vae, digits):
    disp = SampleGridDisplay.from_estimator(vae, n_samples=4, random_state=0)
    first_ax = disp.ax_
    assert disp.plot(cmap="viridis") is disp
    assert disp.ax_ is not first_ax
    assert all(im.get_cmap().name == "viridis" for im in disp.ax_.images)


@pytest.mark.parametrize("name", ["latent", "reconstruction", "samples", "traversal", "loss"])
def test_unfitted_estimator(digits, name):
    with pytest.raises(NotFittedError):
        _all_displays(VAETransformer(), digits[0])[name](None)


def _run_python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)


def test_import_does_not_import_matplotlib():
    result = _run_python(
        "import sys\n"
        "import skvae.plotting\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib')\n"
        "assert not loaded, loaded\n"
    )
    assert result.returncode == 0, result.stderr


def test_missing_matplotlib_names_the_plots_extra():
    result = _run_python(
        "import sys\n"
        "sys.modules['matplotlib'] = None  # makes `import matplotlib` fail\n"
        "from skvae.plotting import LossCurveDisplay\n"
        "try:\n"
        "    LossCurveDisplay([1.0, 0.5]).plot()\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
        "else:\n"
        "    raise SystemExit('no ImportError')\n"
    )
    assert result.returncode == 0, result.stderr
    assert "LossCurveDisplay.plot requires matplotlib" in result.stdout
    assert "pip install skvae[plots]" in result.stdout
