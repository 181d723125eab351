"""Command line: ``skvae fit``, ``transform``, ``sample``, ``score`` and ``demo``.

Run ``skvae --help`` (or ``python -m skvae --help``) for the commands, and
``skvae COMMAND --help`` for each one's options. Tables are CSV or Parquet files, chosen
by the file extension; models are written in skvae's safe format (see
:func:`skvae._persistence.save`), which loads without running any code.

Exit status: 0 on success, 1 when the data, the model or a file is wrong (one line on
stderr: ``skvae: error: ...``; ``--debug`` shows the traceback instead), 2 for a
command-line usage error.
"""

# License: BSD 3 clause

import argparse
import contextlib
import logging
import os
import secrets
import shutil
import sys
import textwrap
import warnings

import numpy as np

#: Extensions read and written as CSV (pandas infers the compression from them).
CSV_EXTENSIONS = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zst", ".csv.zip")

#: Extensions read and written as Parquet.
PARQUET_EXTENSIONS = (".parquet", ".pq")

#: Most rows ``skvae sample`` draws in one run.
MAX_SAMPLES = 1_000_000_000

#: Rows ``skvae sample`` draws and writes at a time ...
CHUNK_ROWS = 100_000

#: ... or fewer, so that a chunk holds at most this many values (wide tables).
CHUNK_VALUES = 10_000_000

#: Name of the label column ``skvae sample`` writes for a conditional model, unless
#: ``--target`` or the ``--labels`` table names it.
DEFAULT_TARGET = "label"

_EXIT_STATUS = """\
exit status:
  0  success
  1  the data, the model or a file is wrong: one line on stderr ("skvae: error: ...");
     add --debug for the full traceback
  2  command-line usage error"""

_MAIN_EPILOG = f"""\
examples:
  skvae fit data.csv -o model.skvae --n-components 8 --max-iter 100
  skvae transform model.skvae data.csv -o latents.csv
  skvae sample model.skvae -n 1000 -o synthetic.parquet --random-state 0
  skvae score model.skvae test.csv
  skvae fit table.csv -o gen.skvae --generator --target group
  skvae sample gen.skvae -n 500 --label a --target group -o synthetic.parquet

Tables are CSV (.csv, .csv.gz, ...) or Parquet (.parquet, .pq; needs pyarrow), chosen
by extension; "-" reads CSV from stdin or writes CSV to stdout. Outputs are written
whole or not at all, and never over an input. Run "skvae COMMAND --help" for the
options of each command.

{_EXIT_STATUS}"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's layout; descriptions are wrapped by :func:`_wrap`."""

    def __init__(self, prog):
        super().__init__(prog, max_help_position=26)

    def add_argument(self, action):
        super().add_argument(action)
        # argparse measures the command names without their extra indentation, so a
        # long one ("transform") would wrap its help onto the next line.
        if action.help is not argparse.SUPPRESS and hasattr(action, "_get_subactions"):
            for sub in action._get_subactions():
                length = (len(self._format_action_invocation(sub)) + self._current_indent
                          + self._indent_increment)
                self._action_max_length = max(self._action_max_length, length)


def _wrap(text):
    return textwrap.fill(text, width=79)


class CommandError(Exception):
    """A problem with the user's data, model or files, reported as one line."""


# ---------------------------------------------------------------- argument types
def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _float_type(low, low_closed, high=None):
    bound = f"{'>=' if low_closed else '>'} {low:g}" + (f" and < {high:g}" if high else "")

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number {bound}, got {text!r}") from None
        ok = (value >= low if low_closed else value > low) and (high is None or value < high)
        if not ok or value != value:
            raise argparse.ArgumentTypeError(f"expected a number {bound}, got {text!r}")
        return value

    return parse


def _layer_sizes(text):
    """``"128,128"`` -> ``(128, 128)``; ``""`` -> ``()`` (a linear VAE)."""
    if not text.strip():
        return ()
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 128,128, got {text!r}"
        ) from None
    if not all(size >= 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return sizes


def _n_samples(text):
    value = _positive_int(text)
    if value > MAX_SAMPLES:
        raise argparse.ArgumentTypeError(
            f"at most {MAX_SAMPLES:,} rows per run, got {text!r}; run it several times "
            "(with different --random-state) for more")
    return value


def _batch_size(text):
    return "auto" if text == "auto" else _positive_int(text)


def _column_list(text):
    columns = [c.strip() for c in text.split(",")]
    if not all(columns):
        raise argparse.ArgumentTypeError(f"expected comma-separated column names, got {text!r}")
    return columns


# ------------------------------------------------------------------------ parser
#: ``--early-stopping`` values -> the estimator's ``early_stopping``.
_EARLY_STOPPING = {"auto": "auto", "on": True, "off": False}


def build_parser():
    """The argument parser of the ``skvae`` command.

    Returns
    -------
    parser : argparse.ArgumentParser

    Examples
    --------
    >>> args = build_parser().parse_args(["fit", "data.csv", "-o", "model.skvae",
    ...                                   "--hidden-layer-sizes", "64,32"])
    >>> args.command, args.data, args.output, args.hidden_layer_sizes
    ('fit', 'data.csv', 'model.skvae', (64, 32))
    """
    from ._transformer import VAETransformer
    from .likelihoods import LIKELIHOODS
    from .priors import PRIORS

    defaults = VAETransformer().get_params()
    formatter = _Formatter
    parser = argparse.ArgumentParser(
        prog="skvae",
        description=_wrap(
            "Variational autoencoders as scikit-learn estimators: fit a model to a "
            "table, encode tables into latent coordinates, draw synthetic rows, and score rows "
            "by their ELBO (a lower bound on the log-likelihood)."),
        epilog=_MAIN_EPILOG, formatter_class=formatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error instead of one line")
    trusting = argparse.ArgumentParser(add_help=False)
    trusting.add_argument("--allow-torch-format", action="store_true",
                          help="also read a model whose tensors were written with "
                          "torch.save (by skvae where safetensors was not installed), "
                          "through torch.load(weights_only=True): for files you trust")
    reading = argparse.ArgumentParser(add_help=False)
    reading.add_argument("--parse-dates", type=_column_list, default=(), metavar="A,B,...",
                         help="read these columns as datetimes (text in one consistent "
                         "format, e.g. 2024-03-01 or 2024-03-01 12:30:00); Parquet "
                         "datetimes need no option")

    # fit ------------------------------------------------------------------
    fit = commands.add_parser(
        "fit", parents=[common, reading], formatter_class=formatter,
        help="fit a VAE to a table and save the model",
        description=_wrap(
            "Fit a VAETransformer to the numeric columns of a table, or with --generator "
            "a VAEGenerator to a mixed table (numbers, integers, bools, text categories, "
            "dates, missing values), and save it in skvae's safe model format. With "
            "--target the generator is conditional: that column's labels are its y. "
            "Options not given keep the estimator's defaults."),
        epilog="examples:\n"
        "  skvae fit data.csv -o model.skvae\n"
        "  skvae fit data.parquet -o model.skvae --n-components 8 \\\n"
        "      --hidden-layer-sizes 256,128 --max-iter 500 --early-stopping --random-state 0\n"
        "  skvae fit counts.csv -o model.skvae --likelihood poisson --columns a,b,c\n"
        "  skvae fit data.csv -o gen.skvae --generator\n"
        "  skvae fit people.csv -o gen.skvae --generator --target group\n\n"
        + _EXIT_STATUS,
    )
    fit.add_argument("data", help="training table (.csv or .parquet; - for CSV on stdin)")
    fit.add_argument("-o", "--output", required=True, metavar="MODEL",
                     help="where to write the model (e.g. model.skvae)")
    fit.add_argument("--columns", type=_column_list, metavar="A,B,...",
                     help="comma-separated columns to model (default: every column "
                     "but the --target; numeric ones only without --generator)")
    fit.add_argument("--generator", action="store_true",
                     help="fit a VAEGenerator (synthetic data, mixed tables; likelihood "
                     "chosen per column by default) instead of a VAETransformer")
    fit.add_argument("--target", metavar="COL",
                     help="with --generator: the column of labels y of a conditional "
                     "generator (left out of the modelled columns)")
    model = fit.add_argument_group("model options")
    model.add_argument("--n-components", type=_positive_int, metavar="N",
                       help=f"latent size (default {defaults['n_components']})")
    model.add_argument("--hidden-layer-sizes", type=_layer_sizes, metavar="W,W,...",
                       help="encoder widths, the decoder mirrors them; \"\" for a linear "
                       f"VAE (default {','.join(map(str, defaults['hidden_layer_sizes']))})")
    model.add_argument("--likelihood", choices=sorted(LIKELIHOODS) + ["auto"],
                       metavar="NAME",
                       help=f"noise model p(x|z): {', '.join(sorted(LIKELIHOODS))}, or auto "
                       f"(with --generator only; its default). Default "
                       f"{defaults['likelihood']}")
    model.add_argument("--prior", choices=sorted(PRIORS), metavar="NAME",
                       help=f"prior p(z): {', '.join(sorted(PRIORS))} "
                       f"(default {defaults['prior']})")
    model.add_argument("--beta", type=_float_type(0, True), metavar="B",
                       help="weight of the KL term in training (beta-VAE; default "
                       f"{defaults['beta']:g}); scores always use the true ELBO")
    training = fit.add_argument_group("training options")
    training.add_argument("--max-iter", type=_positive_int, metavar="N",
                          help=f"epochs at most (default {defaults['max_iter']})")
    training.add_argument("--batch-size", type=_batch_size, metavar="N",
                          help=f"minibatch rows, or auto (default {defaults['batch_size']})")
    training.add_argument("--learning-rate-init", type=_float_type(0, False), metavar="LR",
                          help="Adam's learning rate "
                          f"(default {defaults['learning_rate_init']:g})")
    training.add_argument("--tol", type=_float_type(0, True), metavar="TOL",
                          help="improvement in nats per row that counts as progress "
                          f"(default {defaults['tol']:g})")
    training.add_argument("--n-iter-no-change", type=_positive_int, metavar="N",
                          help="epochs without progress before stopping "
                          f"(default {defaults['n_iter_no_change']})")
    training.add_argument("--early-stopping", nargs="?", const="on",
                          choices=sorted(_EARLY_STOPPING), metavar="auto|on|off",
                          help="hold out rows, stop when their ELBO stops improving and "
                          "keep the best epoch's weights: on, off, or auto (on when there "
                          "are enough rows; the default); the flag alone means on")
    training.add_argument("--learning-rate", choices=("adaptive", "constant"),
                          help="adaptive: on a plateau, back to the best weights with a "
                          "5 times smaller learning rate, twice, before stopping "
                          f"(default {defaults.get('learning_rate', 'constant')})")
    training.add_argument("--validation-fraction", type=_float_type(0, False, 1), metavar="F",
                          help="share of rows held out by --early-stopping "
                          f"(default {defaults['validation_fraction']:g})")
    training.add_argument("--random-state", type=int, metavar="SEED",
                          help="seed for a reproducible fit (default: a fresh seed)")
    training.add_argument("--device", metavar="DEVICE",
                          help="auto, cpu, cuda, cuda:1 or mps (default auto: CUDA, then "
                          "MPS, then the CPU)")
    training.add_argument("-v", "--verbose", action="count",
                          help="show a progress bar and log each epoch on stderr")

    # transform ------------------------------------------------------------
    transform = commands.add_parser(
        "transform", parents=[common, reading, trusting], formatter_class=formatter,
        help="encode a table into latent coordinates",
        description=_wrap(
            "Encode each row of a table as the mean of its posterior q(z|x) and "
            "write the latent coordinates, one column per latent (named as "
            "get_feature_names_out gives them). The model's columns are taken from the table "
            "by name; other columns are ignored. A conditional generator uses the labels "
            "of the --target column, or without it averages over the labels."),
        epilog="examples:\n"
        "  skvae transform model.skvae data.csv -o latents.csv\n"
        "  skvae transform model.skvae data.parquet -o latents.parquet\n"
        "  skvae transform gen.skvae people.csv -o latents.csv --target group\n\n"
        + _EXIT_STATUS,
    )
    transform.add_argument("model", help="a model written by skvae fit")
    transform.add_argument("data", help="table to encode (.csv or .parquet; - for stdin)")
    transform.add_argument("-o", "--output", default="-", metavar="PATH",
                           help="where to write the latents (.csv or .parquet; default - "
                           "for CSV on stdout)")
    transform.add_argument("--target", metavar="COL",
                           help="the column of labels, for a generator fitted with --target")

    # sample ---------------------------------------------------------------
    sample = commands.add_parser(
        "sample", parents=[common, trusting], formatter_class=formatter,
        help="draw synthetic rows from a model",
        description=_wrap(
            "Draw rows from the model's generative process (z from the prior, then "
            "x from p(x|z)) and write them with the training table's column names and "
            "(Parquet) types. A conditional generator draws for the labels given with "
            "--label or --labels, else for labels drawn at their training frequencies, "
            "and writes them in a column named by --target (default "
            f"{DEFAULT_TARGET!r}). Rows are drawn and written {CHUNK_ROWS:,} at a time "
            "(fewer for wide tables), so memory stays bounded; a run that would not fit on "
            "the disk stops after the first chunk. With --random-state the rows are "
            "reproducible for a given -n; up to one chunk they are those of "
            "sample(n, random_state=SEED) in Python."),
        epilog="examples:\n"
        "  skvae sample model.skvae -n 1000 -o synthetic.csv\n"
        "  skvae sample model.skvae -n 1000 -o synthetic.parquet --random-state 0\n"
        "  skvae sample gen.skvae -n 500 --label a --target group -o a.parquet\n"
        "  skvae sample gen.skvae --labels groups.csv -o synthetic.csv\n\n"
        + _EXIT_STATUS,
    )
    sample.add_argument("model", help="a model written by skvae fit")
    sample.add_argument("-n", "--n-samples", type=_n_samples, metavar="N",
                        help=f"number of rows to draw, at most {MAX_SAMPLES:,} (required "
                        "unless --labels gives one label per row)")
    sample.add_argument("-o", "--output", default="-", metavar="PATH",
                        help="where to write the rows (.csv or .parquet; default - for CSV "
                        "on stdout)")
    sample.add_argument("--random-state", type=int, metavar="SEED",
                        help="seed for reproducible rows (default: fresh rows each run)")
    labels = sample.add_mutually_exclusive_group()
    labels.add_argument("--label", metavar="VALUE",
                        help="draw every row for this label (a generator fitted with "
                        "--target)")
    labels.add_argument("--labels", metavar="TABLE",
                        help="draw one row per label in this table (.csv or .parquet): its "
                        "only column, or the --target column")
    sample.add_argument("--target", metavar="NAME",
                        help="name of the label column written for a conditional "
                        f"generator (default {DEFAULT_TARGET!r}, or the --labels column)")

    # score ----------------------------------------------------------------
    score = commands.add_parser(
        "score", parents=[common, reading, trusting], formatter_class=formatter,
        help="score rows by their ELBO (log-likelihood bound)",
        description=_wrap(
            "Print the mean ELBO of the table's rows: a lower bound on their "
            "log-likelihood in nats per row, for the data in its own units (higher is better; "
            "comparable with PCA.score). With --per-row, write each row's ELBO instead. "
            "A conditional generator scores log p(x | y) with the labels of the --target "
            "column, or without it log p(x), averaging over the labels."),
        epilog="examples:\n"
        "  skvae score model.skvae test.csv\n"
        "  skvae score model.skvae test.csv --per-row -o scores.csv\n"
        "  skvae score gen.skvae people.csv --target group\n\n"
        + _EXIT_STATUS,
    )
    score.add_argument("model", help="a model written by skvae fit")
    score.add_argument("data", help="table to score (.csv or .parquet; - for stdin)")
    score.add_argument("--per-row", action="store_true",
                       help="write one ELBO per row (column 'elbo') instead of the mean")
    score.add_argument("-o", "--output", metavar="PATH",
                       help="with --per-row: where to write the scores (.csv or .parquet; "
                       "default - for CSV on stdout)")
    score.add_argument("--target", metavar="COL",
                       help="the column of labels, for a generator fitted with --target")

    # demo -----------------------------------------------------------------
    demo = commands.add_parser(
        "demo", help="fit PCA and a VAE on the bundled digits and compare them",
        description="Fit PCA and VAETransformer at the same latent size on load_digits, "
        "print held-out log-likelihood and latent classification accuracy side by side, "
        "and write a PNG of reconstructed and sampled digits.",
    )
    demo.add_argument("--n-components", type=int, default=8, help="latent size (default 8)")
    demo.add_argument("--max-iter", type=int, default=None,
                      help="epochs at most (default: VAETransformer's, which stops when "
                      "held-out rows stop improving)")
    demo.add_argument("--output", default="skvae-demo.png",
                      help="PNG path (default skvae-demo.png)")
    demo.add_argument("--device", default="auto", help="torch device (default auto)")

    for sub in (fit, transform, sample, score):
        sub.set_defaults(subparser=sub)
    return parser


# ------------------------------------------------------------------------ tables
def _pandas():
    try:
        import pandas
    except ImportError:
        raise CommandError("the command line needs pandas: pip install pandas") from None
    return pandas


def _table_format(path):
    lower = str(path).lower()
    if path == "-" or lower.endswith(CSV_EXTENSIONS):
        return "csv"
    if lower.endswith(PARQUET_EXTENSIONS):
        return "parquet"
    raise CommandError(
        f"{path}: unknown table format; use a name ending in "
        f"{', '.join(CSV_EXTENSIONS[:1] + PARQUET_EXTENSIONS)} (or .csv.gz and the like)"
    )


def _require_parquet(path):
    try:
        import pyarrow.parquet
    except ImportError:
        raise CommandError(
            f"{path}: reading and writing Parquet needs pyarrow: pip install pyarrow"
        ) from None
    return pyarrow.parquet


def read_table(path, parse_dates=()):
    r"""Read a CSV or Parquet table (by extension) into a DataFrame.

    CSV is read by :func:`pandas.read_csv` with its defaults (numbers become int64 or
    float64, ``True``/``False`` become bool, other text becomes strings), except that a
    column of ``True``/``False`` with missing values becomes pandas' nullable
    ``boolean`` rather than text. Parquet keeps the types it stores.

    Parameters
    ----------
    path : str
        ``"-"`` reads CSV from stdin.
    parse_dates : sequence of str, default=()
        Columns to read as datetimes (text in one consistent format, such as ISO 8601).

    Returns
    -------
    frame : pandas.DataFrame

    Examples
    --------
    >>> import io, sys
    >>> from unittest import mock
    >>> text = "when,ok\n2024-01-31,True\n2024-02-29,\n"
    >>> with mock.patch.object(sys, "stdin", io.StringIO(text)):
    ...     frame = read_table("-", parse_dates=["when"])
    >>> frame["when"].dt.month.tolist(), str(frame["ok"].dtype), frame["ok"].tolist()
    ([1, 2], 'boolean', [True, <NA>])
    """
    pd = _pandas()
    fmt = _table_format(path)
    if path != "-" and not os.path.isfile(path):
        raise CommandError(f"{path}: no such file")
    try:
        if fmt == "parquet":
            _require_parquet(path)
            frame = pd.read_parquet(path, engine="pyarrow")
        else:
            frame = _nullable_bools(pd.read_csv(sys.stdin if path == "-" else path))
    except CommandError:
        raise
    except Exception as exc:  # pandas and pyarrow raise many types
        raise CommandError(f"{path}: cannot read it as {fmt.upper()}: {_one_line(exc)}") from None
    for name in parse_dates:
        frame[name] = _dates(_select(frame, [name], path)[name], path)
    return frame


def _nullable_bools(frame):
    """Columns of bools with gaps become ``boolean`` (pandas leaves them as objects)."""
    for name in frame.columns:
        if frame[name].dtype != object:
            continue
        values = frame[name].dropna()
        if len(values) and all(isinstance(v, bool) for v in values):
            frame[name] = frame[name].astype("boolean")
    return frame


def _dates(column, source):
    """``column`` parsed as datetimes, or an error naming the first row that is not one."""
    pd = _pandas()
    if pd.api.types.is_datetime64_any_dtype(column):
        return column
    if pd.api.types.is_numeric_dtype(column):
        # Numbers could be seconds or nanoseconds since 1970, or days: no safe guess.
        raise CommandError(f"{source}: column {column.name!r} holds numbers, not dates; "
                           "--parse-dates reads text such as 2024-03-01")
    with warnings.catch_warnings():  # pandas warns when it guesses the format per row
        warnings.simplefilter("ignore", UserWarning)
        parsed = pd.to_datetime(column, errors="coerce")
    bad = column.notna() & parsed.isna()
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raise CommandError(
            f"{source}: column {column.name!r} holds {column.iloc[row]!r} in data row "
            f"{row + 1}, which is not a date in the format of the rows before it"
        )
    return parsed


def _check_output(path, inputs, table=True):
    """Fail before any work when ``path`` cannot be written or is one of ``inputs``."""
    if path == "-":
        return
    if table and _table_format(path) == "parquet":
        _require_parquet(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CommandError(f"{path}: the folder {folder} does not exist")
    if os.path.isdir(path):
        raise CommandError(f"{path}: is a folder")
    for source in inputs:
        # samefile also sees through other spellings, symbolic and hard links.
        if source != "-" and os.path.exists(path) and os.path.exists(source) \
                and os.path.samefile(path, source):
            raise CommandError(
                f"{path}: is the input {source}; skvae never overwrites its input, "
                "choose another output"
            )


class _TableWriter:
    """Write a table in one or more pieces, atomically.

    A file is written under a temporary name in its own folder and renamed over
    ``path`` once every piece is in, so a failure (or Ctrl-C) leaves no partial file and
    an existing ``path`` untouched. ``"-"`` streams CSV to stdout.

    Parameters
    ----------
    path : str
        A CSV or Parquet file name, or ``"-"``.
    """

    def __init__(self, path):
        self.path = path
        self.format = _table_format(path)
        self.rows = 0
        self._temporary = None
        self._parquet = None

    def __enter__(self):
        if self.path != "-":
            folder, name = os.path.split(os.path.abspath(self.path))
            self._temporary = os.path.join(
                folder, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
            # Created here ("x": never an existing file), so that __exit__ always has
            # one to rename or remove.
            open(self._temporary, "xb").close()
        return self

    def write(self, frame):
        """Append the rows of ``frame`` (the first piece sets the columns)."""
        if self.format == "parquet":
            self._write_parquet(frame)
        else:
            self._write_csv(frame)
        self.rows += len(frame)

    def _write_csv(self, frame):
        first = self.rows == 0
        if self.path == "-":
            frame.to_csv(sys.stdout, index=False, header=first)
            return
        compression = _compression(self.path)
        # gzip, bz2 and xz streams can be appended to, zip and zstd files cannot
        # (pandas would add a second archive member or frame that readers skip).
        if not first and compression["method"] in ("zip", "zstd"):
            raise CommandError(
                f"{self.path}: a .csv.{compression['method'].replace('zstd', 'zst')} "
                f"file is written in one piece, so it holds at most {self.rows:,} rows "
                "here; use .csv, .csv.gz or Parquet for more"
            )
        frame.to_csv(self._temporary, index=False, header=first, mode="w" if first else "a",
                     compression=compression)

    def _write_parquet(self, frame):
        import pyarrow

        table = pyarrow.Table.from_pandas(frame, preserve_index=False)
        if self._parquet is None:
            self._parquet = _require_parquet(self.path).ParquetWriter(
                self._temporary, table.schema)
        else:
            # A later piece can differ in type where the first had no missing value
            # (int64 there, float64 with NaN here); the file keeps the first's types.
            table = table.cast(self._parquet.schema)
        self._parquet.write_table(table)

    def check_room(self, n_rows):
        """Refuse a table of ``n_rows`` rows that would not fit on the disk.

        The size is estimated from the rows written so far; stdout is not checked.
        """
        if self.path == "-" or self.rows == 0:
            return
        written = os.path.getsize(self._temporary)
        needed = written / self.rows * (n_rows - self.rows)
        free = shutil.disk_usage(os.path.dirname(self._temporary)).free
        if needed > free:
            raise CommandError(
                f"{self.path}: {n_rows:,} rows need about {_size(written + needed)} and "
                f"{_size(free)} are free there; draw fewer rows or write elsewhere"
            )

    def __exit__(self, kind, exc, traceback):
        try:
            if self._parquet is not None:
                self._parquet.close()
            if kind is None and self._temporary is not None:
                os.replace(self._temporary, self.path)
        finally:
            if self._temporary is not None and os.path.exists(self._temporary):
                os.remove(self._temporary)
        return False


def _compression(path):
    """pandas' ``compression`` argument for ``path``, named after it, not the temporary."""
    lower = path.lower()
    for suffix, method in ((".gz", "gzip"), (".bz2", "bz2"), (".xz", "xz"), (".zst", "zstd")):
        if lower.endswith(suffix):
            return {"method": method}
    if lower.endswith(".zip"):
        return {"method": "zip", "archive_name": os.path.basename(path)[: -len(".zip")]}
    return {"method": None}


def _size(n_bytes):
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n_bytes < 1000 or unit == "TB":
            return f"{n_bytes:.0f} {unit}" if unit == "bytes" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1000


def write_table(frame, path):
    """Write a DataFrame as CSV or Parquet (by extension), atomically.

    ``"-"`` writes CSV to stdout. Parquet keeps the dtypes (categories, datetimes,
    nullable types); CSV holds what :meth:`pandas.DataFrame.to_csv` writes.
    """
    with _TableWriter(path) as writer:
        writer.write(frame)


def _numeric(frame, source, hint=""):
    """Check that every column is numeric (booleans count); name the first that is not."""
    pd = _pandas()
    _check_not_empty(frame, source)
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_complex_dtype(column):
            continue
        converted = pd.to_numeric(column, errors="coerce")
        bad = column.notna() & converted.isna()
        example = ""
        if bad.any():
            row = int(bad.to_numpy().argmax())
            example = f" (data row {row + 1} holds {column.iloc[row]!r})"
        raise CommandError(
            f"{source}: column {name!r} is not numeric{example}; a VAETransformer models "
            f"numeric columns only{hint}"
        )
    return frame


def _check_not_empty(frame, source):
    if frame.shape[1] == 0:
        raise CommandError(f"{source}: the table has no columns")
    if frame.shape[0] == 0:
        raise CommandError(f"{source}: the table has no rows")


def _select(frame, columns, source):
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        have = list(map(str, frame.columns))
        shown = ", ".join(have[:10]) + (", ..." if len(have) > 10 else "")
        raise CommandError(
            f"{source}: no column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(map(repr, missing))} (the table has: {shown})"
        )
    return frame[list(columns)]


def _load_model(path, allow_torch_format=False):
    from ._persistence import load

    if not os.path.isfile(path):
        raise CommandError(f"{path}: no such file")
    try:
        return load(path, allow_torch_format=allow_torch_format)
    except ValueError as exc:
        raise CommandError(_one_line(exc)) from None


def _frame(values, columns):
    pd = _pandas()
    if isinstance(values, pd.DataFrame):
        return values
    return pd.DataFrame(values, columns=[str(c) for c in columns])


# ------------------------------------------------------------------------ labels
def _is_conditional(estimator):
    return hasattr(estimator, "classes_")


def _as_classes(values, classes, where):
    """The model's classes matching ``values`` (a Series), compared as text.

    Text is what a command line and a CSV hold: ``--label 1`` or a CSV column of 1s
    then finds the class 1 of a model fitted on integers.
    """
    missing = values.isna().to_numpy()
    if missing.any():
        raise CommandError(f"{where}: data row {int(missing.argmax()) + 1} has no label")
    position = {str(c): i for i, c in enumerate(classes.tolist())}
    found = values.astype(str).map(position)
    unknown = found.isna().to_numpy()
    if unknown.any():
        row = int(unknown.argmax())
        known = ", ".join(map(str, classes[:10])) + (", ..." if len(classes) > 10 else "")
        where = where if len(values) == 1 else f"{where}, data row {row + 1}"
        raise CommandError(
            f"{where}: {values.iloc[row]!r} is not a label of the model (it knows {known})"
        )
    return classes[found.to_numpy(dtype=int)]


def _split_target(frame, target, source):
    """``(X, y)``: the table without the ``target`` column, and that column's labels."""
    if target is None:
        return frame, None
    y = _select(frame, [target], source)[target]
    missing = y.isna().to_numpy()
    if missing.any():
        raise CommandError(f"{source}: the --target column {target!r} has no label in "
                           f"data row {int(missing.argmax()) + 1}; every row needs one")
    return frame.drop(columns=target), y.to_numpy()


def _model_input(estimator, frame, source, target):
    """``(X, y)`` for ``estimator``: its columns taken from ``frame`` by name, and the
    labels of the ``target`` column (None without ``target``)."""
    from ._generator import VAEGenerator

    y = None
    if target is not None:
        if not _is_conditional(estimator):
            raise CommandError(f"--target {target}: the model was fitted without --target, "
                               "so it takes no labels")
        y = _as_classes(_select(frame, [target], source)[target], estimator.classes_,
                        f"{source}: column {target!r}")
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        frame = _select(frame, [str(n) for n in names], source)
    if isinstance(estimator, VAEGenerator):
        _check_not_empty(frame, source)
    else:
        frame = _numeric(frame, source)
    return frame, y


def _requested_labels(args, estimator):
    """``(labels, name)``: the labels asked for with --label or --labels, and the
    name of their output column; ``(None, name)`` when none were asked for."""
    pd = _pandas()
    if args.label is None and args.labels is None:
        return None, args.target or DEFAULT_TARGET
    option = "--label" if args.label is not None else "--labels"
    if not _is_conditional(estimator):
        raise CommandError(f"{option}: the model was fitted without --target, so it "
                           "draws no labels")
    if args.label is not None:
        labels = _as_classes(pd.Series([args.label]), estimator.classes_, "--label")
        return labels, args.target or DEFAULT_TARGET
    table = read_table(args.labels)
    if args.target is None and table.shape[1] != 1:
        raise CommandError(f"{args.labels}: the table has {table.shape[1]} columns; name "
                           "the one with the labels with --target")
    name = args.target or table.columns[0]
    column = _select(table, [name], args.labels)[name]
    return _as_classes(column, estimator.classes_, f"{args.labels}: column {name!r}"), name


# ---------------------------------------------------------------------- commands
_PARAMETER_FLAGS = ("n_components", "hidden_layer_sizes", "likelihood", "prior", "beta",
                    "max_iter", "batch_size", "learning_rate", "learning_rate_init", "tol",
                    "n_iter_no_change", "validation_fraction", "random_state", "device",
                    "verbose")


def _fit(args):
    from ._persistence import save

    _check_fit_usage(args)
    _check_output(args.output, [args.data], table=False)
    X, y = _split_target(read_table(args.data, args.parse_dates), args.target, args.data)
    if args.columns:
        X = _select(X, args.columns, args.data)
    if args.generator:
        from ._generator import VAEGenerator as Estimator

        _check_not_empty(X, args.data)
    else:
        from ._transformer import VAETransformer as Estimator

        hint = ("" if args.columns else "; choose numeric columns with --columns, or fit "
                "a VAEGenerator (mixed tables) with --generator")
        X = _numeric(X, args.data, hint)
    params = {name: getattr(args, name) for name in _PARAMETER_FLAGS
              if getattr(args, name) is not None}
    if args.early_stopping is not None:
        params["early_stopping"] = _EARLY_STOPPING[args.early_stopping]
    estimator = Estimator(**params)
    with _progress_logging(args.verbose):
        estimator.fit(X, y)
    save(estimator, args.output)
    return 0


def _check_fit_usage(args):
    if args.likelihood == "auto" and not args.generator:
        args.subparser.error("--likelihood auto needs --generator")
    if args.target is not None and not args.generator:
        args.subparser.error("--target needs --generator (a VAETransformer takes no labels)")
    if args.target is not None and args.columns and args.target in args.columns:
        args.subparser.error(f"the --target column {args.target!r} cannot be in --columns too")
    if args.output == "-":
        args.subparser.error("the model cannot be written to stdout; give a file name")


def _transform(args):
    _check_output(args.output, [args.model, args.data])
    estimator = _load_model(args.model, args.allow_torch_format)
    X, y = _model_input(estimator, read_table(args.data, args.parse_dates), args.data,
                        args.target)
    latents = _with_labels(estimator.transform, X, y)
    write_table(_frame(latents, estimator.get_feature_names_out()), args.output)
    return 0


def _sample(args):
    if args.n_samples is None and args.labels is None:
        args.subparser.error("the following arguments are required: -n/--n-samples")
    _check_output(args.output, [args.model] + ([args.labels] if args.labels else []))
    estimator = _load_model(args.model, args.allow_torch_format)
    labels, target = _requested_labels(args, estimator)
    n_rows = _n_rows(args, labels)
    if _is_conditional(estimator) and target in _feature_names(estimator):
        raise CommandError(f"the model has a column {target!r} already; name the label "
                           "column otherwise with --target")
    # One generator for all the chunks: the rows are reproducible for a given -n, and
    # up to one chunk they are those of one sample(n, random_state=SEED) call.
    rng = None if args.random_state is None else np.random.RandomState(args.random_state)
    step = _chunk_rows(estimator)
    with _TableWriter(args.output) as writer:
        for start in range(0, n_rows, step):
            stop = min(start + step, n_rows)
            chunk_labels = None if labels is None else (
                labels[start:stop] if len(labels) > 1 else np.repeat(labels, stop - start))
            writer.write(_draw(estimator, stop - start, chunk_labels, rng, target))
            writer.check_room(n_rows)
    return 0


def _n_rows(args, labels):
    if args.labels is None:
        return args.n_samples
    if args.n_samples is not None and args.n_samples != len(labels):
        raise CommandError(f"-n {args.n_samples} but {args.labels} holds {len(labels)} "
                           "labels; give one label per row (or leave out -n)")
    if len(labels) > MAX_SAMPLES:
        raise CommandError(f"{args.labels}: {len(labels):,} labels, more than the "
                           f"{MAX_SAMPLES:,} rows skvae sample draws at most")
    return len(labels)


def _chunk_rows(estimator):
    """Rows drawn at a time: CHUNK_ROWS, fewer for a wide table, to bound the memory."""
    return max(1, min(CHUNK_ROWS, CHUNK_VALUES // estimator.n_features_in_))


def _feature_names(estimator):
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        return [f"x{i}" for i in range(estimator.n_features_in_)]
    return [str(n) for n in names]


def _draw(estimator, n_rows, labels, rng, target):
    """``n_rows`` drawn rows as a DataFrame; a conditional model's labels in ``target``."""
    if labels is None:
        drawn = estimator.sample(n_rows, random_state=rng)
    else:
        drawn = estimator.sample(n_rows, y=labels, random_state=rng)
    if not _is_conditional(estimator):
        return _frame(drawn, _feature_names(estimator))
    rows, y = drawn
    return _frame(rows, _feature_names(estimator)).assign(**{target: y})


def _score(args):
    if args.output is not None and not args.per_row:
        args.subparser.error("-o/--output needs --per-row (the mean is printed)")
    output = args.output or "-"
    if args.per_row:
        _check_output(output, [args.model, args.data])
    estimator = _load_model(args.model, args.allow_torch_format)
    X, y = _model_input(estimator, read_table(args.data, args.parse_dates), args.data,
                        args.target)
    if args.per_row:
        scores = _with_labels(estimator.score_samples, X, y)
        write_table(_frame({"elbo": scores}, ["elbo"]), output)
    else:
        print(_with_labels(estimator.score, X, y))
    return 0


def _with_labels(method, X, y):
    """``method(X)``, or ``method(X, y)`` with labels (a conditional generator)."""
    return method(X) if y is None else method(X, y)


_COMMANDS = {"fit": _fit, "transform": _transform, "sample": _sample, "score": _score}


@contextlib.contextmanager
def _progress_logging(verbose):
    """Show the ``skvae`` logger's epoch messages on stderr while fitting verbosely."""
    if not verbose:
        yield
        return
    logger = logging.getLogger("skvae")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("skvae: %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _one_line(exc):
    """An exception's message on one line."""
    text = " ".join(str(exc).split())
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        text = f"{exc.filename}: {exc.strerror}"
    return text or type(exc).__name__


def _show_warning(message, category, filename, lineno, file=None, line=None):
    text = " ".join(str(message).split())
    print(f"skvae: warning: {text} ({category.__name__})", file=sys.stderr)


def main(argv=None):
    """Run the ``skvae`` command line; returns the exit status.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments after the program name; None reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 on success, 1 for an error in the data, the model or a file (reported as one
        line on stderr), 2 for a usage error (reported by argparse).

    Examples
    --------
    >>> main(["sample", "no-such-model.skvae", "-n", "5"])
    1
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help and usage errors
        return exc.code if isinstance(exc.code, int) else 2
    if args.command == "demo":
        from ._demo import main as demo

        demo(args.n_components, args.max_iter, args.output, args.device)
        return 0
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return _COMMANDS[args.command](args)
    except SystemExit as exc:  # usage errors found after parsing
        return exc.code if isinstance(exc.code, int) else 2
    except KeyboardInterrupt:
        print("skvae: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        if isinstance(exc, (CommandError, ValueError, TypeError, OSError)):
            message = _one_line(exc)
        else:
            message = f"{type(exc).__name__}: {_one_line(exc)} (rerun with --debug for details)"
        print(f"skvae: error: {message}", file=sys.stderr)
        return 1

