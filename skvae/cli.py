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
import sys
import textwrap
import warnings

#: Extensions read and written as CSV (pandas infers the compression from them).
CSV_EXTENSIONS = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zst", ".csv.zip")

#: Extensions read and written as Parquet.
PARQUET_EXTENSIONS = (".parquet", ".pq")

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

Tables are CSV (.csv, .csv.gz, ...) or Parquet (.parquet, .pq; needs pyarrow), chosen
by extension; "-" reads CSV from stdin or writes CSV to stdout. Run
"skvae COMMAND --help" for the options of each command.

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


def _non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
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


def _batch_size(text):
    return "auto" if text == "auto" else _positive_int(text)


def _column_list(text):
    columns = [c.strip() for c in text.split(",")]
    if not all(columns):
        raise argparse.ArgumentTypeError(f"expected comma-separated column names, got {text!r}")
    return columns


# ------------------------------------------------------------------------ parser
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

    # fit ------------------------------------------------------------------
    fit = commands.add_parser(
        "fit", parents=[common], formatter_class=formatter,
        help="fit a VAE to a table and save the model",
        description=_wrap(
            "Fit a VAETransformer (or, with --generator, a VAEGenerator) to the "
            "numeric columns of a table and save it in skvae's safe model format. Options "
            "not given keep the estimator's defaults."),
        epilog="examples:\n"
        "  skvae fit data.csv -o model.skvae\n"
        "  skvae fit data.parquet -o model.skvae --n-components 8 \\\n"
        "      --hidden-layer-sizes 256,128 --max-iter 500 --early-stopping --random-state 0\n"
        "  skvae fit counts.csv -o model.skvae --likelihood poisson --columns a,b,c\n"
        "  skvae fit data.csv -o gen.skvae --generator\n\n" + _EXIT_STATUS,
    )
    fit.add_argument("data", help="training table (.csv or .parquet; - for CSV on stdin)")
    fit.add_argument("-o", "--output", required=True, metavar="MODEL",
                     help="where to write the model (e.g. model.skvae)")
    fit.add_argument("--columns", type=_column_list, metavar="A,B,...",
                     help="comma-separated columns to model (default: every column; "
                     "they must all be numeric)")
    fit.add_argument("--generator", action="store_true",
                     help="fit a VAEGenerator (synthetic data; likelihood chosen from the "
                     "data by default) instead of a VAETransformer")
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
    training.add_argument("--early-stopping", action="store_true",
                          help="hold out rows, stop when their ELBO stops improving and "
                          "keep the best epoch's weights")
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
        "transform", parents=[common], formatter_class=formatter,
        help="encode a table into latent coordinates",
        description=_wrap(
            "Encode each row of a table as the mean of its posterior q(z|x) and "
            "write the latent coordinates, one column per latent (named as "
            "get_feature_names_out gives them). The model's columns are taken from the table "
            "by name; other columns are ignored."),
        epilog="examples:\n"
        "  skvae transform model.skvae data.csv -o latents.csv\n"
        "  skvae transform model.skvae data.parquet -o latents.parquet\n\n" + _EXIT_STATUS,
    )
    transform.add_argument("model", help="a model written by skvae fit")
    transform.add_argument("data", help="table to encode (.csv or .parquet; - for stdin)")
    transform.add_argument("-o", "--output", default="-", metavar="PATH",
                           help="where to write the latents (.csv or .parquet; default - "
                           "for CSV on stdout)")

    # sample ---------------------------------------------------------------
    sample = commands.add_parser(
        "sample", parents=[common], formatter_class=formatter,
        help="draw synthetic rows from a model",
        description=_wrap(
            "Draw rows from the model's generative process (z from the prior, then "
            "x from p(x|z)) and write them with the training table's column names."),
        epilog="examples:\n"
        "  skvae sample model.skvae -n 1000 -o synthetic.csv\n"
        "  skvae sample model.skvae -n 1000 -o synthetic.parquet --random-state 0\n\n"
        + _EXIT_STATUS,
    )
    sample.add_argument("model", help="a model written by skvae fit")
    sample.add_argument("-n", "--n-samples", type=_positive_int, required=True, metavar="N",
                        help="number of rows to draw")
    sample.add_argument("-o", "--output", default="-", metavar="PATH",
                        help="where to write the rows (.csv or .parquet; default - for CSV "
                        "on stdout)")
    sample.add_argument("--random-state", type=int, metavar="SEED",
                        help="seed for reproducible rows (default: fresh rows each run)")

    # score ----------------------------------------------------------------
    score = commands.add_parser(
        "score", parents=[common], formatter_class=formatter,
        help="score rows by their ELBO (log-likelihood bound)",
        description=_wrap(
            "Print the mean ELBO of the table's rows: a lower bound on their "
            "log-likelihood in nats per row, for the data in its own units (higher is better; "
            "comparable with PCA.score). With --per-row, write each row's ELBO instead."),
        epilog="examples:\n"
        "  skvae score model.skvae test.csv\n"
        "  skvae score model.skvae test.csv --per-row -o scores.csv\n\n" + _EXIT_STATUS,
    )
    score.add_argument("model", help="a model written by skvae fit")
    score.add_argument("data", help="table to score (.csv or .parquet; - for stdin)")
    score.add_argument("--per-row", action="store_true",
                       help="write one ELBO per row (column 'elbo') instead of the mean")
    score.add_argument("-o", "--output", metavar="PATH",
                       help="with --per-row: where to write the scores (.csv or .parquet; "
                       "default - for CSV on stdout)")

    # demo -----------------------------------------------------------------
    demo = commands.add_parser(
        "demo", help="fit PCA and a VAE on the bundled digits and compare them",
        description="Fit PCA and VAETransformer at the same latent size on load_digits, "
        "print held-out log-likelihood and latent classification accuracy side by side, "
        "and write a PNG of reconstructed and sampled digits.",
    )
    demo.add_argument("--n-components", type=int, default=8, help="latent size (default 8)")
    demo.add_argument("--max-iter", type=int, default=300, help="epochs at most (default 300)")
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
    import importlib

    for engine in ("pyarrow", "fastparquet"):
        try:
            importlib.import_module(engine)
            return engine
        except ImportError:
            continue
    raise CommandError(f"{path}: reading and writing Parquet needs pyarrow: pip install pyarrow")


def read_table(path):
    """Read a CSV or Parquet table (by extension) into a DataFrame.

    Parameters
    ----------
    path : str
        ``"-"`` reads CSV from stdin.

    Returns
    -------
    frame : pandas.DataFrame
    """
    pd = _pandas()
    fmt = _table_format(path)
    if path != "-" and not os.path.isfile(path):
        raise CommandError(f"{path}: no such file")
    try:
        if fmt == "parquet":
            engine = _require_parquet(path)
            return pd.read_parquet(path, engine=engine)
        return pd.read_csv(sys.stdin if path == "-" else path)
    except CommandError:
        raise
    except Exception as exc:  # pandas and the parquet engines raise many types
        raise CommandError(f"{path}: cannot read it as {fmt.upper()}: {_one_line(exc)}") from None


def _check_output(path):
    """Fail before any work when ``path`` cannot be written as a table."""
    fmt = _table_format(path)
    if path != "-":
        _check_folder(path)
        if fmt == "parquet":
            _require_parquet(path)


def _check_folder(path):
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CommandError(f"{path}: the folder {folder} does not exist")
    if os.path.isdir(path):
        raise CommandError(f"{path}: is a folder")


def write_table(frame, path):
    """Write a DataFrame as CSV or Parquet (by extension); ``"-"`` writes CSV to stdout."""
    fmt = _table_format(path)
    if path == "-":
        frame.to_csv(sys.stdout, index=False)
    elif fmt == "parquet":
        frame.to_parquet(path, index=False, engine=_require_parquet(path))
    else:
        frame.to_csv(path, index=False)


def _numeric(frame, source, hint=""):
    """Check that every column is numeric (booleans count); name the first that is not."""
    pd = _pandas()
    if frame.shape[1] == 0:
        raise CommandError(f"{source}: the table has no columns")
    if frame.shape[0] == 0:
        raise CommandError(f"{source}: the table has no rows")
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
            f"{source}: column {name!r} is not numeric{example}; skvae models numeric "
            f"columns only{hint}"
        )
    return frame


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


def _model_input(estimator, frame, source):
    """The columns the model was fitted on, taken from ``frame`` by name."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        frame = _select(frame, [str(n) for n in names], source)
    return _numeric(frame, source)


def _load_model(path):
    from ._persistence import load

    if not os.path.isfile(path):
        raise CommandError(f"{path}: no such file")
    try:
        return load(path)
    except ValueError as exc:
        raise CommandError(_one_line(exc)) from None


def _frame(values, columns):
    pd = _pandas()
    if isinstance(values, pd.DataFrame):
        return values
    return pd.DataFrame(values, columns=[str(c) for c in columns])


# ---------------------------------------------------------------------- commands
_PARAMETER_FLAGS = ("n_components", "hidden_layer_sizes", "likelihood", "prior", "beta",
                    "max_iter", "batch_size", "learning_rate_init", "tol",
                    "n_iter_no_change", "validation_fraction", "random_state", "device",
                    "verbose")


def _fit(args):
    from ._persistence import save

    if args.likelihood == "auto" and not args.generator:
        args.subparser.error("--likelihood auto needs --generator")
    if args.output == "-":
        args.subparser.error("the model cannot be written to stdout; give a file name")
    _check_folder(args.output)
    frame = read_table(args.data)
    if args.columns:
        frame = _select(frame, args.columns, args.data)
    frame = _numeric(frame, args.data,
                     "" if args.columns else "; choose numeric columns with --columns")
    if args.generator:
        from ._generator import VAEGenerator as Estimator
    else:
        from ._transformer import VAETransformer as Estimator
    params = {name: getattr(args, name) for name in _PARAMETER_FLAGS
              if getattr(args, name) is not None}
    if args.early_stopping:
        params["early_stopping"] = True
    estimator = Estimator(**params)
    with _progress_logging(args.verbose):
        estimator.fit(frame)
    save(estimator, args.output)
    return 0


def _transform(args):
    _check_output(args.output)
    estimator = _load_model(args.model)
    frame = _model_input(estimator, read_table(args.data), args.data)
    latents = estimator.transform(frame)
    write_table(_frame(latents, estimator.get_feature_names_out()), args.output)
    return 0


def _sample(args):
    _check_output(args.output)
    estimator = _load_model(args.model)
    rows = estimator.sample(args.n_samples, random_state=args.random_state)
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        names = [f"x{i}" for i in range(estimator.n_features_in_)]
    write_table(_frame(rows, names), args.output)
    return 0


def _score(args):
    if args.output is not None and not args.per_row:
        args.subparser.error("-o/--output needs --per-row (the mean is printed)")
    output = args.output or "-"
    if args.per_row:
        _check_output(output)
    estimator = _load_model(args.model)
    frame = _model_input(estimator, read_table(args.data), args.data)
    if args.per_row:
        scores = estimator.score_samples(frame)
        write_table(_frame({"elbo": scores}, ["elbo"]), output)
    else:
        print(estimator.score(frame))
    return 0


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

