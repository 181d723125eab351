"""The head-to-head benchmark's own parts, which need neither ctgan nor sdmetrics."""

import sys
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.tabular_peers import _metadata, mixed_table, tstr  # noqa: E402


def test_mixed_table_has_the_structure_it_documents():
    table = mixed_table(3000, random_state=0)
    means = table.groupby("group", observed=True)[["score", "visits"]].mean()
    assert means.loc["b", "score"] > 2 > -0.5 > means.loc["a", "score"]  # bimodal by group
    assert means.loc["a", "visits"] < means.loc["b", "visits"] < means.loc["c", "visits"]
    assert (table["income"] > 0).all()
    assert np.corrcoef(np.log(table["income"]), table["age"])[0, 1] > 0.5
    assert table.loc[table["member"], "age"].mean() > table.loc[~table["member"], "age"].mean()


def test_metadata_gives_each_column_its_sdtype():
    sdtypes = {name: column["sdtype"] for name, column in
               _metadata(mixed_table(50))["columns"].items()}
    assert sdtypes == {"group": "categorical", "score": "numerical", "income": "numerical",
                       "age": "numerical", "visits": "numerical", "member": "boolean"}


def test_tstr_of_real_rows_beats_chance_and_one_class_predicts_it():
    table = mixed_table(600, random_state=0)
    train, test = table[:400], table[400:]
    assert tstr(train, test, "group", train, seed=0) > 0.6
    one_class = train[train["group"] == "a"]
    assert tstr(one_class, test, "group", train, seed=0) == pytest.approx(
        np.mean(test["group"] == "a"))
