"""Sphinx configuration of the skvae documentation.

Build (warnings are errors, the gallery's examples run):

    python -m sphinx -W --keep-going -b html docs docs/_build/html

or ``bash docs/build.sh``. ``-D plot_gallery=0`` skips running the examples.
"""

# License: BSD 3 clause

import os
import sys
import warnings
from pathlib import Path

# The gallery runs in this process. Its small models are fastest on one thread, and
# OpenMP pools (torch, HistGradientBoosting) that spin on a busy shared CI machine can
# be 100x slower than one thread. Set before torch or scikit-learn start their pools;
# an OMP_NUM_THREADS from the environment wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
try:
    import skvae
except ImportError:  # building from a checkout without installing it
    sys.path.insert(0, str(DOCS.parent))
    import skvae

# sphinx-gallery resolves the names an example uses (IterativeImputer in
# plot_imputation.py) before running it, so the experimental import must come first.
import sklearn.experimental.enable_iterative_imputer  # noqa: E402, F401

warnings.filterwarnings("ignore", message="Matplotlib is currently using agg")

# -- Project -------------------------------------------------------------------------
project = "skvae"
author = "the skvae developers"
copyright = "the skvae developers, BSD 3-Clause License"
version = release = skvae.__version__

# -- General -------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "skvae_docs",  # docs/_ext/skvae_docs.py: registry tables and the API completeness check
]
templates_path = ["_templates"]
# examples/ holds the gallery's sources; sphinx-gallery turns them into auto_examples/.
exclude_patterns = ["_build", "examples", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
default_role = "literal"
root_doc = "index"
# Every cross-reference to skvae must resolve. Other projects' objects are not linked
# (no intersphinx: the build needs no network), so references to them are let through.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(sklearn|torch|numpy|np|matplotlib|joblib|pickle|logging|tqdm)(\..*)?"),
]
# Known gaps in the package's docstrings (reported): bare method names in a class's
# first line do not resolve in the autosummary tables, and two private helpers of
# skvae._base have no page.
nitpick_ignore = [
    ("py:meth", "head"), ("py:meth", "module"), ("py:meth", "kl"),
    ("py:meth", "reparameterise"), ("py:func", "score_noise"), ("py:func", "score_draws"),
]

# Constants the prose quotes, read from the package so they cannot drift.
from skvae import _base, likelihoods  # noqa: E402

_draws = getattr(_base, "SCORE_DRAWS", 16)
rst_epilog = f"""
.. |SCORE_DRAWS| replace:: {_draws}
.. |HALF_DRAWS| replace:: {_draws // 2}
.. |GAUSSIAN_MIN_SCALE| replace:: {likelihoods.GAUSSIAN_MIN_SCALE:g}
"""

# -- autodoc / autosummary / numpydoc ------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- sphinx-gallery ------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("skvae",),
    "backreferences_dir": "gen_modules/backreferences",
    "abort_on_example_error": True,
    # HTML reprs (estimator diagrams) only: no "<... object at 0x...>" lines.
    "capture_repr": ("_repr_html_",),
    "image_scrapers": ("matplotlib",),
    "remove_config_comments": True,
    "min_reported_time": 1,
    "show_memory": False,
    "download_all_examples": False,
}

# -- HTML ----------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skvae {release}"
html_static_path = ["_static"]
html_css_files = ["skvae.css"]
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc", "sg_download_links", "sg_launcher_links"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "install": []}
html_show_sourcelink = False
