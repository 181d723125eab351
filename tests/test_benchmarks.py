"""The benchmark suite runs end to end, at smoke and at quick sizes, and reports every area.

The quick run is the one the README promises in under two minutes on a 2-core CPU; here
it shares the CPUs with the rest of the suite, so only its completion is checked, not
its time (its JSON records the time it took).
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
# The benchmarks package sits beside skvae and is not installed with it.
sys.path.insert(0, str(ROOT))
from benchmarks._harness import compare, interleave  # noqa: E402

#: One worker runs this module's benchmark runs, once per mode (pytest -n 2 --dist loadgroup).
pytestmark = pytest.mark.xdist_group("benchmarks")

AREAS = ("throughput", "inference", "memory", "scaling", "quality", "small_data")

#: Units whose values may be zero or negative: log-likelihoods and log-log slopes.
SIGNED_UNITS = {"nats/sample", "slope"}


@pytest.fixture(scope="module", params=["--smoke", "--quick"])
def smoke_run(tmp_path_factory, request):
    """Run ``python -m benchmarks`` once per mode; return its JSON and its Markdown."""
    out = tmp_path_factory.mktemp("benchmarks")
    json_path, markdown_path = out / "results.json", out / "RESULTS.md"
    # One thread: the test shares the CPUs with the rest of the suite (pytest -n 2).
    command = [sys.executable, "-m", "benchmarks", request.param, "--device", "cpu",
               "--threads", "1", "--out", str(json_path), "--markdown", str(markdown_path)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(json_path.read_text()), markdown_path.read_text()


def _rows(results):
    return [r for area in results["areas"].values() for r in area["rows"]]


def test_every_area_is_reported(smoke_run):
    results, _ = smoke_run
    assert list(results["areas"]) == list(AREAS)
    for area in results["areas"].values():
        assert area["rows"] and area["seconds"] > 0


def test_measurements_are_finite_and_positive(smoke_run):
    results, _ = smoke_run
    measured = [r for r in _rows(results) if r["status"] in {"PASS", "FAIL", "info"}]
    assert measured
    for r in measured:
        values = [v for v in (r["skvae"], r["other"], r["ratio"]) if v is not None]
        values += [v for side in r["samples"].values() for v in side]
        assert values and all(math.isfinite(v) for v in values), r["name"]
        if r["unit"] not in SIGNED_UNITS:
            assert all(v > 0 for v in values), r["name"]
        if r["difference"] is not None:
            assert math.isfinite(r["difference"]), r["name"]


def test_rows_that_did_not_run_say_why(smoke_run):
    results, _ = smoke_run
    for r in _rows(results):
        if r["skvae"] is None:
            assert r["status"] not in {"PASS", "FAIL", "info"}, r["name"]


def test_targets_decide_pass_or_fail(smoke_run):
    results, _ = smoke_run
    for r in _rows(results):
        if r["skvae"] is not None:
            assert (r["status"] in {"PASS", "FAIL"}) == (r["target"] is not None), r["name"]


def test_markdown_describes_the_machine_and_tabulates_every_area(smoke_run):
    results, markdown = smoke_run
    assert "| CPU |" in markdown and "torch " in markdown and "scikit-learn " in markdown
    for area in results["areas"].values():
        assert f"{area['title']}\n" in markdown
    table_lines = [line for line in markdown.splitlines() if line.startswith("| fit, batch")]
    assert len(table_lines) == 3 * 2  # three other sides at each of two batch sizes


def test_interleave_takes_turns_and_reverses_every_other_round():
    calls = []
    sides = {name: (lambda name=name: calls.append(name)) for name in "ABC"}
    timings = interleave(sides, repeats=4, device=torch.device("cpu"), warmup=1)
    assert "".join(calls) == "ABC" + "ABC" + "CBA" + "ABC" + "CBA"
    assert all(len(t.seconds) == 4 for t in timings.values())


def test_ratio_is_the_median_of_paired_round_ratios():
    # True ratio 0.5; the machine was slow through round 3 (both sides 10x) and during
    # skvae's turn of round 2. The paired ratio keeps 0.5, the ratio of the medians is 5.
    skvae, other = [1.0, 10.0, 10.0], [2.0, 2.0, 20.0]
    r = compare("x", "s", skvae, other, other_label="y")
    assert r["ratio"] == 0.5 and r["skvae"] / r["other"] == 5.0
    assert r["details"]["ratio_range"] == [0.5, 5.0]
    r = compare("x", "s", [1.0, 3.0, 2.0], [1.0, 1.0, 1.0], other_label="y")
    assert r["ratio"] == 2.0 and r["details"]["ratio_range"] == [1.0, 3.0]
    with pytest.raises(ValueError, match="same positive number"):
        compare("x", "s", [1.0, 2.0], [1.0], other_label="y")
