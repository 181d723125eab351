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
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import Normalizer, StandardScaler  # noqa: E402

from skvae import VAEClassifier, VAEGenerator, VAETransformer  # noqa: E402
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


def test_reconstruction_of_a_few_columns_gets_a_panel_per_column():
    X = np.random.RandomState(0).normal(size=(60, 5)) * [1.0, 1.0, 1000.0, 1.0, 1.0]
    est = _fit(X, n_components=2)
    disp = ReconstructionDisplay.from_estimator(est, X, n_images=4)
    assert len(disp.ax_.images) == 0 and disp.axes_.size >= 5
    assert list(disp.artists_) == ["x0", "x1", "x2", "x3", "x4"]
    X_rec = est.inverse_transform(est.transform(X[:4]))
    for j, (inputs, reconstructed) in enumerate(disp.artists_.values()):
        np.testing.assert_allclose(inputs.get_offsets()[:, 1], X[:4, j])
        np.testing.assert_allclose(reconstructed.get_offsets()[:, 1], X_rec[:, j])
        # Each panel has its own scale: the large column flattens no other.
        low, high = inputs.axes.get_ylim()
        assert high - low < 10 * np.ptp(np.r_[X[:4, j], X_rec[:, j]]) + 1e-9
    assert disp.legend_ is not None
    assert [t.get_text() for t in disp.legend_.get_texts()] == ["input", "reconstruction"]


def test_wide_non_image_rows_are_standardised_lines():
    X = np.random.RandomState(0).normal(size=(60, 30))
    X[:, 0] *= 1000.0  # one large feature
    est = _fit(X, n_components=2)
    disp = SampleGridDisplay.from_estimator(est, n_samples=4, random_state=0)
    assert disp.axes_ is None and "standardised" in disp.ax_.get_title()
    lines = [a for a in disp.artists_.ravel() if a is not None]
    assert all(isinstance(a, Line2D) and len(a.get_xdata()) == 30 for a in lines)
    # Standardised, the large feature spans no more than the others.
    spans = np.ptp([line.get_ydata() for line in lines], axis=0)
    assert spans[0] <= 2 * np.median(spans[1:])


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


# ------------------------------------------------------- pipelines, tables, classifiers
DISPLAYS = ["latent", "reconstruction", "samples", "traversal", "loss"]


def _fitted(estimator, X, y=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


@pytest.fixture(scope="module")
def wide_scale():
    """Five columns, one of them a thousand times larger than the others."""
    X = np.random.RandomState(0).normal(size=(80, 5)) * [1.0, 2.0, 1000.0, 1.0, 0.5]
    return X, (X[:, 0] > 0).astype(int)


@pytest.fixture(scope="module")
def pipeline(wide_scale):
    X, y = wide_scale
    return _fitted(make_pipeline(StandardScaler(), VAETransformer(**TINY),
                                 LogisticRegression()), X, y)


@pytest.fixture(scope="module")
def table():
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    n = 80
    return pd.DataFrame({
        "income": rng.lognormal(10, 0.5, n),
        "age": rng.normal(40, 10, n),
        "visits": rng.poisson(3, n),
        "city": pd.Categorical(rng.choice(["north", "south", "east"], n)),
        "member": rng.rand(n) < 0.4,
    })


@pytest.fixture(scope="module")
def table_generator(table):
    return _fitted(VAEGenerator(**TINY), table)


@pytest.mark.parametrize("name", DISPLAYS)
def test_every_display_renders_from_a_pipeline(pipeline, wide_scale, name):
    disp = _all_displays(pipeline, wide_scale[0])[name](None)
    assert disp.estimator_name == "VAETransformer"
    assert disp.figure_ is disp.ax_.figure and disp.ax_.get_title()


def test_pipeline_reconstructions_come_back_in_the_units_of_x(pipeline, wide_scale):
    X, _ = wide_scale
    scaler, vae = pipeline[0], pipeline[1]
    disp = ReconstructionDisplay.from_estimator(pipeline, X, n_images=3)
    expected = scaler.inverse_transform(vae.inverse_transform(
        vae.transform(scaler.transform(X[:3]))))
    for j, (inputs, reconstructed) in enumerate(disp.artists_.values()):
        np.testing.assert_allclose(inputs.get_offsets()[:, 1], X[:3, j])
        np.testing.assert_allclose(reconstructed.get_offsets()[:, 1], expected[:, j])


def test_pipeline_latents_go_through_the_steps_before(pipeline, wide_scale):
    X, y = wide_scale
    disp = LatentSpaceDisplay.from_estimator(pipeline, X, y)
    Z = pipeline[1].transform(pipeline[0].transform(X))
    for scatter, k in zip(disp.scatters_, np.unique(y)):
        np.testing.assert_allclose(scatter.get_offsets(), Z[y == k])


def test_pipeline_step_without_inverse_draws_what_the_vae_sees(wide_scale):
    X, _ = wide_scale
    pipe = _fitted(make_pipeline(Normalizer(), VAETransformer(**TINY)), X)
    disp = ReconstructionDisplay.from_estimator(pipe, X, n_images=3)
    inputs = [collections[0].get_offsets()[:, 1] for collections in disp.artists_.values()]
    np.testing.assert_allclose(np.column_stack(inputs), pipe[0].transform(X[:3]))


@pytest.mark.parametrize("name", DISPLAYS)
def test_every_display_renders_from_a_table_generator(table_generator, table, name):
    disp = _all_displays(table_generator, table)[name](None)
    assert disp.estimator_name == "VAEGenerator"
    if name in ("reconstruction", "samples", "traversal"):
        assert list(disp.artists_) == list(table.columns)
        assert all(panel in disp.ax_.child_axes for panel in disp.axes_.flat if panel)


def test_table_samples_draw_categories_as_bar_charts(table_generator, table):
    disp = SampleGridDisplay.from_estimator(table_generator, n_samples=50, random_state=0,
                                            mean=False)
    (bars,) = disp.artists_["city"]
    assert sum(bar.get_height() for bar in bars) == 50
    panel = bars.patches[0].axes
    assert sorted(t.get_text() for t in panel.get_xticklabels()) == ["east", "north",
                                                                       "south"]
    (histogram,) = disp.artists_["income"]
    assert sum(bar.get_height() for bar in histogram) == 50


def test_table_reconstructions_put_categories_on_a_categorical_axis(table_generator, table):
    disp = ReconstructionDisplay.from_estimator(table_generator, table, n_images=4)
    inputs, _ = disp.artists_["city"]
    labels = [t.get_text() for t in inputs.axes.get_yticklabels()]
    shown = [labels[int(i)] for i in inputs.get_offsets()[:, 1]]
    assert shown == table["city"][:4].astype(str).tolist()


def test_table_display_on_a_given_ax_stays_inside_it(table_generator, table):
    fig, (ax0, ax1) = plt.subplots(1, 2)
    disp = LatentTraversalDisplay.from_estimator(table_generator, n_steps=3, ax=ax1)
    assert disp.ax_ is ax1 and not ax0.child_axes
    assert all(panel in ax1.child_axes for panel in disp.axes_.flat if panel)
    assert [line.get_label() for line in disp.artists_["age"]] == ["z0", "z1"]


@pytest.fixture(scope="module")
def classifier(wide_scale):
    X, y = wide_scale
    return _fitted(VAEClassifier(**TINY), X, y)


@pytest.mark.parametrize("name", ["latent", "loss"])
def test_classifier_latents_and_loss_curve(classifier, wide_scale, name):
    disp = _all_displays(classifier, wide_scale[0])[name](None)
    assert disp.estimator_name == "VAEClassifier"


@pytest.mark.parametrize("name", ["reconstruction", "samples", "traversal"])
def test_classifier_decoded_rows_are_refused_clearly(classifier, wide_scale, name):
    with pytest.raises(TypeError, match="VAEClassifier does not offer"):
        _all_displays(classifier, wide_scale[0])[name](None)


def test_pipeline_uses_the_last_step_that_can_draw(wide_scale):
    X, y = wide_scale
    pipe = _fitted(make_pipeline(VAETransformer(**TINY), VAEClassifier(**TINY)), X, y)
    assert ReconstructionDisplay.from_estimator(pipe, X).estimator_name == "VAETransformer"
    assert LatentSpaceDisplay.from_estimator(pipe, X).estimator_name == "VAEClassifier"


@pytest.mark.parametrize("estimator", [PCA(n_components=2),
                                       make_pipeline(StandardScaler(), PCA(n_components=2))])
def test_estimators_without_a_skvae_step_are_refused(wide_scale, estimator):
    X, _ = wide_scale
    estimator.fit(X)
    with pytest.raises(TypeError, match="skvae estimator"):
        LatentSpaceDisplay.from_estimator(estimator, X)


def test_latent_space_legend_stays_inside_the_axes(vae, digits):
    X, y = digits
    disp = LatentSpaceDisplay.from_estimator(vae, X, y)
    disp.figure_.canvas.draw()
    legend, axes = disp.legend_.get_window_extent(), disp.ax_.get_window_extent()
    assert axes.x0 <= legend.x0 and legend.x1 <= axes.x1
    assert axes.y0 <= legend.y0 and legend.y1 <= axes.y1
