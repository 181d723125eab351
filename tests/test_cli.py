"""The ``skvae`` command line: fit, transform, sample and score tables; errors in one line."""

import io
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skvae import VAEGenerator, VAETransformer
from skvae.cli import build_parser, main
from skvae._persistence import load

pd = pytest.importorskip("pandas")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FIT_FLAGS = ["--hidden-layer-sizes", "8", "--max-iter", "3", "--random-state", "0",
             "--device", "cpu"]
FIT_PARAMS = dict(hidden_layer_sizes=(8,), max_iter=3, random_state=0, device="cpu")
COLUMNS = ["a", "b", "c"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    rng = np.random.RandomState(0)
    frame = pd.DataFrame(rng.normal(size=(60, 3)), columns=COLUMNS)
    frame["label"] = rng.choice(["x", "y"], size=60)
    frame.to_csv(folder / "data.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def frame(folder):
    return pd.read_csv(folder / "data.csv")


@pytest.fixture(scope="module")
def model(folder):
    path = folder / "model.skvae"
    status = main(["fit", str(folder / "data.csv"), "-o", str(path), "--columns", "a,b,c",
                   "--n-components", "3", *FIT_FLAGS])
    assert status == 0
    return path


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, err, match):
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("skvae: error: ") and match in lines[0], err
    assert "Traceback" not in err


# ----------------------------------------------------------------- happy paths
def test_fit_matches_the_python_api(model, frame):
    est = load(model)
    assert type(est) is VAETransformer
    assert est.n_components == 3 and est.hidden_layer_sizes == (8,)
    assert list(est.feature_names_in_) == COLUMNS
    expected = VAETransformer(n_components=3, **FIT_PARAMS).fit(frame[COLUMNS])
    np.testing.assert_array_equal(est.transform(frame[COLUMNS]),
                                  expected.transform(frame[COLUMNS]))


def test_transform_writes_the_latents(model, frame, folder, capsys):
    out = folder / "latents.csv"
    # Extra columns (here "label") are ignored: the model's columns are taken by name.
    status, _, err = run(capsys, "transform", model, folder / "data.csv", "-o", out)
    assert status == 0, err
    latents = pd.read_csv(out)
    est = load(model)
    assert list(latents.columns) == list(est.get_feature_names_out())
    assert list(latents.columns) == ["vaetransformer0", "vaetransformer1", "vaetransformer2"]
    np.testing.assert_array_equal(latents.to_numpy(), est.transform(frame[COLUMNS]))


def test_sample_writes_rows_with_the_training_columns(model, folder, capsys):
    out = folder / "synthetic.csv"
    status, _, err = run(capsys, "sample", model, "-n", 7, "-o", out, "--random-state", 0)
    assert status == 0, err
    rows = pd.read_csv(out)
    assert list(rows.columns) == COLUMNS
    np.testing.assert_array_equal(rows.to_numpy(), load(model).sample(7, random_state=0))


def test_score_prints_the_mean_elbo(model, frame, folder, capsys):
    status, out, err = run(capsys, "score", model, folder / "data.csv")
    assert status == 0, err
    assert float(out) == load(model).score(frame[COLUMNS])


def test_score_per_row(model, frame, folder, capsys):
    out = folder / "scores.csv"
    status, _, err = run(capsys, "score", model, folder / "data.csv", "--per-row", "-o", out)
    assert status == 0, err
    scores = pd.read_csv(out)
    assert list(scores.columns) == ["elbo"]
    np.testing.assert_array_equal(scores["elbo"].to_numpy(),
                                  load(model).score_samples(frame[COLUMNS]))


def test_stdin_and_stdout(model, frame, folder, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO((folder / "data.csv").read_text()))
    status, out, err = run(capsys, "transform", model, "-")
    assert status == 0, err
    latents = pd.read_csv(io.StringIO(out))
    np.testing.assert_array_equal(latents.to_numpy(), load(model).transform(frame[COLUMNS]))


def test_parquet_in_and_out(model, frame, folder, capsys):
    pytest.importorskip("pyarrow")
    frame.to_parquet(folder / "data.parquet")
    status, _, err = run(capsys, "transform", model, folder / "data.parquet", "-o",
                         folder / "latents.parquet")
    assert status == 0, err
    latents = pd.read_parquet(folder / "latents.parquet")
    np.testing.assert_array_equal(latents.to_numpy(), load(model).transform(frame[COLUMNS]))


def test_parquet_without_pyarrow_is_one_clear_line(model, folder, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "fastparquet", None)
    status, _, err = run(capsys, "sample", model, "-n", 2, "-o", folder / "s.parquet")
    assert_one_line_error(status, err, "pip install pyarrow")


def test_fit_a_generator_verbosely(folder, frame, capsys):
    path = folder / "generator.skvae"
    with warnings.catch_warnings():
        warnings.simplefilter("always", ConvergenceWarning)
        status, _, err = run(capsys, "fit", folder / "data.csv", "-o", path, "--generator",
                             "--columns", "a,b", "--beta", "0.5", "--batch-size", "16",
                             "--learning-rate-init", "0.01", "-v", *FIT_FLAGS)
    assert status == 0, err
    assert "skvae: epoch 1" in err
    assert "skvae: warning: Stochastic optimizer" in err  # warnings are one line too
    est = load(path)
    assert type(est) is VAEGenerator and est.beta == 0.5 and est.batch_size == 16
    assert est.learning_rate_init == 0.01 and list(est.feature_names_in_) == ["a", "b"]
    status, out, _ = run(capsys, "sample", path, "-n", 3)
    assert status == 0 and pd.read_csv(io.StringIO(out)).shape == (3, 2)


def test_help_reads_well(capsys):
    status, out, _ = run(capsys, "--help")
    assert status == 0
    for command in ("fit", "transform", "sample", "score", "demo"):
        assert command in out
    assert "examples:" in out and "exit status:" in out
    for command in ("fit", "transform", "sample", "score"):
        status, out, _ = run(capsys, command, "--help")
        assert status == 0 and "examples:" in out and f"skvae {command}" in out


def test_demo_subcommand_is_unchanged():
    args = build_parser().parse_args(["demo"])
    assert (args.n_components, args.max_iter, args.output, args.device) == (
        8, 300, "skvae-demo.png", "auto")


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "argv, match",
    [
        (["fit", "{folder}/missing.csv", "-o", "{folder}/m.skvae"], "missing.csv: no such file"),
        (["fit", "{data}", "-o", "{folder}/m.skvae", "--columns", "a,zz"], "no column 'zz'"),
        (["fit", "{data}", "-o", "{folder}/m.skvae"],
         "column 'label' is not numeric (data row 1 holds"),
        (["fit", "{data}", "-o", "{folder}/m.skvae", "--columns", "a,b", "--device", "cuda:9"],
         "device="),
        (["fit", "{data}", "-o", "{folder}/m.skvae", "--columns", "a,b", "--likelihood",
          "poisson"], "likelihood='poisson' needs non-negative integers"),
        (["fit", "{data}", "-o", "{folder}/no/such/folder/m.skvae"], "does not exist"),
        (["fit", "{folder}/data.xlsx", "-o", "{folder}/m.skvae"], "unknown table format"),
        (["transform", "{folder}/missing.skvae", "{data}"], "missing.skvae: no such file"),
        (["transform", "{data}", "{data}"], "not an skvae model file"),
        (["transform", "{model}", "{folder}/narrow.csv"], "no column 'c'"),
        (["transform", "{model}", "{folder}/nan.csv"], "NaN"),
        (["score", "{model}", "{folder}/text.csv"], "column 'c' is not numeric"),
        (["score", "{model}", "{folder}/empty.csv"], "cannot read it as CSV"),
        (["sample", "{model}", "-n", "3", "-o", "{folder}/out.txt"], "unknown table format"),
    ],
)
def test_errors_are_one_line_and_exit_1(argv, match, folder, model, capsys):
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    frame.to_csv(folder / "narrow.csv", index=False)
    frame.assign(c=[np.nan, 1.0]).to_csv(folder / "nan.csv", index=False)
    frame.assign(c=["1.5", "oops"]).to_csv(folder / "text.csv", index=False)
    (folder / "empty.csv").write_text("")
    (folder / "data.xlsx").write_text("")
    paths = dict(folder=folder, data=folder / "data.csv", model=model)
    status, _, err = run(capsys, *[a.format(**paths) for a in argv])
    assert_one_line_error(status, err, match)


@pytest.mark.parametrize(
    "argv",
    [
        ["fit", "data.csv", "-o", "m.skvae", "--n-components", "abc"],
        ["fit", "data.csv", "-o", "m.skvae", "--max-iter", "0"],
        ["fit", "data.csv", "-o", "m.skvae", "--beta", "-1"],
        ["fit", "data.csv", "-o", "m.skvae", "--hidden-layer-sizes", "128,x"],
        ["fit", "data.csv", "-o", "m.skvae", "--likelihood", "nonsense"],
        ["fit", "data.csv", "-o", "m.skvae", "--likelihood", "auto"],
        ["fit", "data.csv"],
        ["sample", "m.skvae"],
        ["score", "m.skvae", "data.csv", "-o", "scores.csv"],
        ["frobnicate"],
        [],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    status, _, err = run(capsys, *argv)
    assert status == 2
    assert "usage: skvae" in err and "Traceback" not in err


def test_debug_shows_the_traceback(folder):
    with pytest.raises(Exception, match="no such file"):
        main(["fit", str(folder / "missing.csv"), "-o", str(folder / "m.skvae"), "--debug"])


def test_command_line_in_a_subprocess(model, frame, folder):
    out = folder / "latents-subprocess.csv"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "skvae", "transform", str(model), str(folder / "data.csv"),
         "-o", str(out)], capture_output=True, text=True, env=env, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(pd.read_csv(out).to_numpy(),
                                  load(model).transform(frame[COLUMNS]))
    done = subprocess.run(
        [sys.executable, "-m", "skvae", "score", str(model), str(folder / "absent.csv")],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"skvae: error: {folder / 'absent.csv'}: no such file"]
