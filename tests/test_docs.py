"""The documentation builds with warnings as errors, and the gallery draws its figures.

Skipped unless the ``docs`` extra is installed (``pip install -e ".[docs]"``). The docs
sources are copied to a temporary folder and built there, so the test writes nothing
into the checkout; the examples run against the skvae of this checkout. One test does
the whole build, so that pytest-xdist never builds twice.
"""

# License: BSD 3 clause

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
DOCS_EXTRA = ("sphinx", "numpydoc", "sphinx_gallery", "pydata_sphinx_theme", "matplotlib")
MISSING = [name for name in DOCS_EXTRA if importlib.util.find_spec(name) is None]

#: Outputs of earlier builds in docs/, left out of the copy.
BUILD_OUTPUTS = ("_build", "auto_examples", "generated", "gen_modules",
                 "sg_execution_times.rst", "__pycache__")


@pytest.mark.slow  # runs every gallery example: a minute or two on a 2-core machine
@pytest.mark.skipif(bool(MISSING), reason=f"docs extra not installed: {MISSING}")
@pytest.mark.skipif(not DOCS.is_dir(), reason="no docs/ folder")
def test_docs_build_and_gallery_figures(tmp_path):
    source = tmp_path / "docs"
    shutil.copytree(DOCS, source, ignore=shutil.ignore_patterns(*BUILD_OUTPUTS))
    html = tmp_path / "html"
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
         "-D", "plot_gallery=1", str(source), str(html)],
        cwd=tmp_path, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        timeout=1800,
    )
    print(f"docs built in {time.perf_counter() - start:.0f} s")

    # No warnings (each would have failed the build, but say which).
    problems = [line for line in done.stdout.splitlines()
                if re.search(r"WARNING|ERROR|CRITICAL|Traceback", line)]
    assert done.returncode == 0, "\n".join(problems) or done.stdout[-5000:]
    assert not problems, "\n".join(problems)
    for page in ("index", "install", "api", "user_guide/index", "auto_examples/index",
                 "generated/skvae.VAETransformer", "generated/skvae.VAEGenerator"):
        assert (html / f"{page}.html").is_file(), page

    # Every example ran and drew at least one figure, and the figures are published.
    examples = sorted(p.stem for p in (DOCS / "examples").glob("plot_*.py"))
    assert examples
    for name in examples:
        assert (html / "auto_examples" / f"{name}.html").is_file(), name
        figures = sorted((source / "auto_examples" / "images").glob(f"sphx_glr_{name}_*.png"))
        assert figures, f"{name} drew no figure"
        for figure in figures:
            published = html / "_images" / figure.name
            assert published.is_file() and published.stat().st_size > 1000, published
            assert published.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", published

    # The tables generated from the registries list every registered part.
    from skvae.likelihoods import LIKELIHOODS
    from skvae.networks import NETWORKS
    from skvae.priors import PRIORS

    parts = (html / "user_guide" / "parts.html").read_text(encoding="utf-8")
    for name in [*LIKELIHOODS, *PRIORS, *NETWORKS]:
        assert f"&quot;{name}&quot;" in parts or f'"{name}"' in parts, name


def test_the_docs_say_what_is_reproducible_where():
    # Same seed, machine and torch build: bitwise; elsewhere: the same distribution of
    # results, not numbers that agree to floating-point accuracy.
    text = " ".join((DOCS / "user_guide" / "practical.rst").read_text().split())
    assert "agree to floating-point accuracy" not in text
    section = text[text.index("What is reproducible where"):]
    section = section[: section.index(".. _devices:")]
    assert "same machine with the same PyTorch build" in section
    assert "bit for bit" in section and "the same distribution, not the same numbers" in section


#: Lines git writes into a file whose merge stopped on a conflict.
CONFLICT_MARKER = re.compile(r"^(<{7} |={7}$|>{7} )", re.MULTILINE)


def test_no_text_file_keeps_a_merge_conflict_marker():
    # A heading underline of exactly seven '=' is valid reStructuredText, so .rst files
    # are checked for the opening and closing markers only.
    roots = ["skvae", "tests", "benchmarks", "docs", "examples", ".ci"]
    files = [ROOT / "README.md", *(p for root in roots for p in (ROOT / root).rglob("*")
                                   if p.suffix in {".py", ".md", ".rst", ".toml", ".txt"}
                                   and "_build" not in p.parts and "generated" not in p.parts)]
    found = []
    for path in files:
        for match in CONFLICT_MARKER.finditer(path.read_text(encoding="utf-8")):
            if path.suffix == ".rst" and match.group(0) == "=" * 7:
                continue
            found.append(f"{path.relative_to(ROOT)}: {match.group(0)!r}")
    assert not found, found
