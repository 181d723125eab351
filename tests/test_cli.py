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


def test_demo_subcommand_keeps_the_estimator_defaults():
    args = build_parser().parse_args(["demo"])
    assert (args.n_components, args.max_iter, args.output, args.device) == (
        8, None, "skvae-demo.png", "auto")


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "argv, match",
    [
        (["fit", "{folder}/missing.csv", "-o", "{folder}/m.skvae"], "missing.csv: no such file"),
        (["fit", "{data}", "-o", "{folder}/m.skvae", "--columns", "a,zz"], "no column 'zz'"),
        (["fit", "{data}", "-o", "{folder}/m.skvae"],
         "column 'label' is not numeric (data row 1 holds"),
        (["fit", "{data}", "-o", "{folder}/m.skvae", "--generator", "--target", "zz"],
         "no column 'zz'"),
        (["fit", "{data}", "-o", "{folder}/m.skvae", "--parse-dates", "a"],
         "column 'a' holds numbers, not dates"),
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
        (["sample", "{model}", "-n", "3", "--label", "x"], "fitted without --target"),
        (["transform", "{model}", "{data}", "--target", "label"], "fitted without --target"),
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
        ["fit", "data.csv", "-o", "m.skvae", "--target", "label"],
        ["fit", "data.csv", "-o", "m.skvae", "--generator", "--target", "a", "--columns", "a,b"],
        ["sample", "m.skvae", "-n", "1000000000000"],
        ["sample", "m.skvae", "-n", "3", "--label", "x", "--labels", "labels.csv"],
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


# ---------------------------------------------------------------- mixed tables
MIXED_COLUMNS = ["x", "k", "flag", "ok", "group", "when"]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """A small table of every column type, as CSV and as Parquet, and its labels "y".

    ``ok`` is a bool with a gap; ``group`` a text category (in Parquet, a pandas
    category) with a gap; ``when`` dates, kept as text here (see
    test_parse_dates_gives_datetimes).
    """
    folder = tmp_path_factory.mktemp("mixed")
    rng = np.random.RandomState(0)
    n = 60
    frame = pd.DataFrame({
        "x": rng.normal(size=n),
        "k": rng.poisson(3, size=n),
        "flag": rng.uniform(size=n) < 0.5,
        "ok": pd.array(rng.uniform(size=n) < 0.5, dtype="boolean"),
        "group": rng.choice(["a", "b", "c"], size=n),
        "when": (pd.Timestamp("2024-01-01")
                 + pd.to_timedelta(rng.randint(0, 30, size=n), unit="D")).strftime("%Y-%m-%d"),
        "y": rng.choice(["u", "v"], size=n),
    })
    frame.loc[3, "x"] = np.nan
    frame.loc[4, "ok"] = pd.NA
    frame.loc[5, "group"] = None
    frame.to_csv(folder / "mixed.csv", index=False)
    frame.assign(group=frame["group"].astype("category")).to_parquet(folder / "mixed.parquet")
    return folder


@pytest.fixture(scope="module")
def mixed_model(mixed):
    """Fit a generator per input format, without and with --target y."""
    models = {}
    for fmt in ("csv", "parquet"):
        for target in (None, "y"):
            path = mixed / f"gen-{fmt}-{target}.skvae"
            argv = ["fit", mixed / f"mixed.{fmt}", "-o", path, "--generator", *FIT_FLAGS]
            status = main([str(a) for a in argv + (["--target", target] if target else [])])
            assert status == 0
            models[fmt, target] = path
    return models


def read_mixed(mixed, fmt):
    return pd.read_csv(mixed / "mixed.csv") if fmt == "csv" else pd.read_parquet(
        mixed / "mixed.parquet")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("target", [None, "y"])
def test_fit_a_generator_on_a_mixed_table(mixed_model, fmt, target):
    est = load(mixed_model[fmt, target])
    assert type(est) is VAEGenerator
    assert list(est.feature_names_in_) == MIXED_COLUMNS + ([] if target else ["y"])
    assert hasattr(est, "classes_") == (target is not None)
    if target:
        assert est.classes_.tolist() == ["u", "v"]


def test_fit_reads_bools_with_gaps_as_booleans(mixed_model, mixed):
    rows = load(mixed_model["csv", None]).sample(200, random_state=0)
    assert str(rows["ok"].dtype) == "boolean" and rows["flag"].dtype == bool


@pytest.mark.parametrize("target", [None, "y"])
def test_sample_a_mixed_table_keeps_the_dtypes_in_parquet(mixed_model, mixed, target, capsys):
    pytest.importorskip("pyarrow")
    out = mixed / f"synthetic-{target}.parquet"
    status, _, err = run(capsys, "sample", mixed_model["parquet", target], "-n", 9, "-o", out,
                         "--random-state", 0)
    assert status == 0, err
    rows = pd.read_parquet(out)
    expected = load(mixed_model["parquet", target]).sample(9, random_state=0)
    if target:
        expected, labels = expected
        assert rows.pop("label").tolist() == labels.tolist()
    pd.testing.assert_frame_equal(rows, expected)
    assert isinstance(rows["group"].dtype, pd.CategoricalDtype)
    assert rows["group"].cat.categories.tolist() == ["a", "b", "c"]


def test_sample_with_a_label(mixed_model, mixed, capsys):
    out = mixed / "label-u.csv"
    status, _, err = run(capsys, "sample", mixed_model["csv", "y"], "-n", 8, "--label", "u",
                         "--target", "y", "-o", out, "--random-state", 0)
    assert status == 0, err
    rows = pd.read_csv(out)
    assert list(rows.columns) == MIXED_COLUMNS + ["y"]
    assert (rows["y"] == "u").all()
    expected, _ = load(mixed_model["csv", "y"]).sample(8, y=["u"] * 8, random_state=0)
    np.testing.assert_array_equal(rows["x"], expected["x"])


def test_sample_with_a_table_of_labels(mixed_model, mixed, capsys):
    pd.DataFrame({"y": ["v", "u", "v"]}).to_csv(mixed / "labels.csv", index=False)
    status, out, err = run(capsys, "sample", mixed_model["csv", "y"], "--labels",
                           mixed / "labels.csv")
    assert status == 0, err
    rows = pd.read_csv(io.StringIO(out))
    assert rows["y"].tolist() == ["v", "u", "v"]  # the labels file names the column


def test_sample_refuses_an_unknown_label(mixed_model, capsys):
    status, _, err = run(capsys, "sample", mixed_model["csv", "y"], "-n", 2, "--label", "w")
    assert_one_line_error(status, err, "--label: 'w' is not a label of the model (it knows u, v)")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("target", [None, "y"])
def test_transform_a_mixed_table(mixed_model, mixed, fmt, target, capsys):
    model = mixed_model[fmt, target]
    out = mixed / f"latents-{fmt}-{target}.csv"
    status, _, err = run(capsys, "transform", model, mixed / f"mixed.{fmt}", "-o", out,
                         *(["--target", target] if target else []))
    assert status == 0, err
    frame = read_mixed(mixed, fmt)
    est = load(model)
    if target:
        expected = est.transform(frame[MIXED_COLUMNS], frame["y"].to_numpy())
    else:
        expected = est.transform(frame[MIXED_COLUMNS + ["y"]])
    np.testing.assert_array_equal(pd.read_csv(out).to_numpy(), expected)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("target", [None, "y"])
def test_score_a_mixed_table(mixed_model, mixed, fmt, target, capsys):
    model = mixed_model[fmt, target]
    status, out, err = run(capsys, "score", model, mixed / f"mixed.{fmt}",
                           *(["--target", target] if target else []))
    assert status == 0, err
    frame = read_mixed(mixed, fmt)
    est = load(model)
    if target:
        expected = est.score(frame[MIXED_COLUMNS], frame["y"].to_numpy())
    else:
        expected = est.score(frame[MIXED_COLUMNS + ["y"]])
    assert float(out) == expected


def test_score_without_the_target_averages_over_labels(mixed_model, mixed, capsys):
    status, out, err = run(capsys, "score", mixed_model["csv", "y"], mixed / "mixed.csv",
                           "--per-row")
    assert status == 0, err
    frame = read_mixed(mixed, "csv")
    np.testing.assert_array_equal(pd.read_csv(io.StringIO(out))["elbo"],
                                  load(mixed_model["csv", "y"]).score_samples(
                                      frame[MIXED_COLUMNS]))


def test_parse_dates_gives_datetimes(mixed, capsys):
    model = mixed / "dates.skvae"
    status, _, err = run(capsys, "fit", mixed / "mixed.csv", "-o", model, "--generator",
                         "--target", "y", "--parse-dates", "when", *FIT_FLAGS)
    assert status == 0, err
    out = mixed / "dates.parquet"
    status, _, err = run(capsys, "sample", model, "-n", 5, "--label", "v", "-o", out)
    assert status == 0, err
    assert pd.api.types.is_datetime64_any_dtype(pd.read_parquet(out)["when"])
    status, _, err = run(capsys, "score", model, mixed / "mixed.csv", "--target", "y",
                         "--parse-dates", "when")
    assert status == 0, err


def test_a_transformer_points_to_generator_for_mixed_tables(mixed, capsys):
    status, _, err = run(capsys, "fit", mixed / "mixed.csv", "-o", mixed / "t.skvae")
    assert_one_line_error(status, err, "or fit a VAEGenerator (mixed tables) with --generator")


# ------------------------------------------------------- never losing the data
def snapshot(*paths):
    return {path: path.read_bytes() for path in paths}


@pytest.mark.parametrize(
    "argv, victim",
    [
        (["fit", "{data}", "-o", "{data}"], "data"),
        (["transform", "{model}", "{data}", "-o", "{data}"], "data"),
        (["transform", "{model}", "{data}", "-o", "{folder}/./data.csv"], "data"),
        (["transform", "{model}", "{data}", "-o", "{folder}/model-link.csv"], "model"),
        (["score", "{model}", "{data}", "--per-row", "-o", "{folder}/data-link.csv"], "data"),
        (["sample", "{model}", "-o", "{folder}/labels.csv", "--labels",
          "{folder}/labels.csv"], "labels"),
    ],
)
def test_an_input_is_never_overwritten(argv, victim, folder, model, capsys):
    (folder / "labels.csv").write_text("label\nx\n")
    for link, target in (("model-link.csv", model), ("data-link.csv", folder / "data.csv")):
        if not (folder / link).is_symlink():
            (folder / link).symlink_to(target)
    inputs = dict(folder=folder, data=folder / "data.csv", model=model)
    before = snapshot(folder / "data.csv", model, folder / "labels.csv")
    status, _, err = run(capsys, *[a.format(**inputs) for a in argv])
    assert_one_line_error(status, err, "skvae never overwrites its input")
    assert snapshot(*before) == before


def temporaries(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_a_failed_write_leaves_no_file_and_the_old_output_intact(ext, model, folder, capsys,
                                                                monkeypatch):
    pytest.importorskip("pyarrow")
    out = folder / f"failing.{ext}"
    out.write_text("an older output\n")

    def half_then_fail(frame, path, *args, **kwargs):
        with open(path, "w") as file:
            file.write("half a table")
        raise OSError(28, "No space left on device")

    method = "to_csv" if ext == "csv" else "to_parquet"
    monkeypatch.setattr(pd.DataFrame, method, half_then_fail)
    monkeypatch.setattr("pyarrow.parquet.ParquetWriter.write_table",
                        lambda self, table: half_then_fail(None, self.where))
    status, _, err = run(capsys, "transform", model, folder / "data.csv", "-o", out)
    assert_one_line_error(status, err, "No space left on device")
    assert out.read_text() == "an older output\n"
    assert temporaries(folder) == []


def test_an_interrupted_sample_leaves_no_file(model, folder, capsys, monkeypatch):
    monkeypatch.setattr("skvae.cli.CHUNK_ROWS", 5)
    calls = []

    def interrupted(self, n_samples, random_state=None):
        calls.append(n_samples)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return np.zeros((n_samples, 3))

    monkeypatch.setattr(VAETransformer, "sample", interrupted)
    out = folder / "interrupted.csv"
    status, _, err = run(capsys, "sample", model, "-n", 20, "-o", out)
    assert status == 130 and "interrupted" in err
    assert not out.exists() and temporaries(folder) == []


def test_sample_streams_in_chunks_reproducibly(model, folder, capsys, monkeypatch):
    monkeypatch.setattr("skvae.cli.CHUNK_ROWS", 7)
    sizes = []
    original = VAETransformer.sample

    def recorded(self, n_samples, random_state=None):
        sizes.append(n_samples)
        return original(self, n_samples, random_state=random_state)

    monkeypatch.setattr(VAETransformer, "sample", recorded)
    tables = []
    for name in ("chunked-1.csv", "chunked-2.csv"):
        status, _, err = run(capsys, "sample", model, "-n", 20, "-o", folder / name,
                             "--random-state", 3)
        assert status == 0, err
        tables.append(pd.read_csv(folder / name))
    assert sizes == [7, 7, 6] * 2  # never more than a chunk in memory
    assert tables[0].shape == (20, 3) and list(tables[0].columns) == COLUMNS
    pd.testing.assert_frame_equal(tables[0], tables[1])
    assert not tables[0].duplicated().any()  # each chunk draws new rows


def test_sample_streams_parquet_in_chunks(mixed_model, mixed, capsys, monkeypatch):
    pytest.importorskip("pyarrow")
    monkeypatch.setattr("skvae.cli.CHUNK_ROWS", 4)
    out = mixed / "chunked.parquet"
    status, _, err = run(capsys, "sample", mixed_model["parquet", "y"], "-n", 30, "-o", out,
                         "--target", "y", "--random-state", 0)
    assert status == 0, err
    rows = pd.read_parquet(out)
    assert rows.shape == (30, len(MIXED_COLUMNS) + 1)
    assert isinstance(rows["group"].dtype, pd.CategoricalDtype)
    assert set(rows["y"]) <= {"u", "v"}


def test_sample_refuses_what_the_disk_cannot_hold(model, folder, capsys, monkeypatch):
    monkeypatch.setattr("skvae.cli.CHUNK_ROWS", 10)
    monkeypatch.setattr("shutil.disk_usage", lambda path: shutil_usage(free=2000))
    out = folder / "too-big.csv"
    status, _, err = run(capsys, "sample", model, "-n", 100_000, "-o", out)
    assert_one_line_error(status, err, "2.0 KB are free there; draw fewer rows")
    assert not out.exists() and temporaries(folder) == []


def shutil_usage(free):
    import shutil

    return shutil._ntuple_diskusage(total=10 * free, used=9 * free, free=free)


def test_sample_refuses_more_rows_than_the_limit(model, capsys):
    status, _, err = run(capsys, "sample", model, "-n", 10**12)
    assert status == 2 and "at most 1,000,000,000 rows per run" in err


def test_labels_follow_their_rows_across_chunks(mixed_model, mixed, capsys, monkeypatch):
    monkeypatch.setattr("skvae.cli.CHUNK_ROWS", 2)
    labels = ["v", "u", "u", "v", "u"]
    pd.DataFrame({"y": labels}).to_csv(mixed / "five-labels.csv", index=False)
    status, out, err = run(capsys, "sample", mixed_model["csv", "y"], "--labels",
                           mixed / "five-labels.csv")
    assert status == 0, err
    assert pd.read_csv(io.StringIO(out))["y"].tolist() == labels
    status, out, err = run(capsys, "sample", mixed_model["csv", "y"], "-n", 5, "--label", "v")
    assert status == 0, err
    assert pd.read_csv(io.StringIO(out))["label"].tolist() == ["v"] * 5


def test_a_torch_format_model_is_read_only_when_allowed(folder, frame, capsys, monkeypatch):
    from skvae import _persistence

    path = folder / "torch-format.skvae"
    monkeypatch.setattr(_persistence, "_import_safetensors", lambda: None)
    with pytest.warns(UserWarning):  # saving without safetensors says how to load it
        _persistence.save(VAETransformer(n_components=2, **FIT_PARAMS).fit(frame[COLUMNS]),
                          path)
    monkeypatch.undo()
    out = folder / "torch-latents.csv"
    status, _, err = run(capsys, "transform", path, folder / "data.csv", "-o", out)
    assert_one_line_error(status, err, "allow_torch_format=True")
    assert not out.exists()
    status, _, err = run(capsys, "transform", path, folder / "data.csv", "-o", out,
                         "--allow-torch-format")
    assert status == 0, err
    assert pd.read_csv(out).shape == (60, 2)
