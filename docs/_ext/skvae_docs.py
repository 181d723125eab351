"""Sphinx helpers for the skvae docs: tables generated from the registries, and a check
that the API reference lists every public name.

``.. skvae-registry:: likelihoods`` (or ``priors``, ``posteriors``, ``networks``) renders one row per
registered class: its name, class, what data it accepts (found by asking the class's own
``check_support``), whether it standardises X, its parameters and the first sentence
of its docstring. A part added to a registry shows up here with no edit to the docs.

``.. skvae-run:: code/script.py`` shows the script and what it printed. Each script
runs in a fresh interpreter (so what it registers does not leak into this build's
registries); a script that fails fails the build.

``.. skvae-bad-inputs:: code/bad_inputs.py`` runs that script with ``--json`` (in a fresh
interpreter too) and renders what every bad input got, one table per estimator,
function or command; the script fails, and so the build, when an input gets anything
but a clear error or a finite result.
"""

# License: BSD 3 clause

import importlib
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: registry argument -> (module, registry name, base class name)
REGISTRIES = {
    "likelihoods": ("skvae.likelihoods", "LIKELIHOODS", "Likelihood"),
    "priors": ("skvae.priors", "PRIORS", "Prior"),
    "posteriors": ("skvae.posteriors", "POSTERIORS", "Posterior"),
    "networks": ("skvae.networks", "NETWORKS", "Network"),
}

# Probe values for check_support, and the support each pattern of answers means.
_PROBES = np.array([-1.5, 0.0, 0.5, 1.0, 2.0, 2.5])
_SUPPORTS = {
    (True, True, True, True, True, True): "any real",
    (False, True, True, True, False, False): "[0, 1]",
    (False, False, True, False, False, False): "(0, 1)",
    (False, True, False, True, True, False): "0, 1, 2, ...",
}


def _registry(kind):
    module_name, registry_name, base_name = REGISTRIES[kind]
    module = importlib.import_module(module_name)
    return module, getattr(module, registry_name), getattr(module, base_name)


def _first_sentence(obj):
    doc = inspect.getdoc(obj) or ""
    paragraph = doc.split("\n\n")[0].replace("\n", " ").strip()
    match = re.match(r"(.+?\.)(\s|$)", paragraph)
    return match.group(1) if match else paragraph


def _support(likelihood):
    accepted = []
    for value in _PROBES:
        try:
            likelihood.check_support(np.full((2, 1), value))
        except ValueError:
            accepted.append(False)
        else:
            accepted.append(True)
    text = _SUPPORTS.get(tuple(accepted))
    if text is None:
        text = ", ".join(f"{v:g}" for v, ok in zip(_PROBES, accepted) if ok) or "(none of the probes)"
    return text


def _parameters(cls):
    params = [p for name, p in inspect.signature(cls.__init__).parameters.items()
              if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if not params:
        return "none"
    return ", ".join(f"``{p.name}={p.default!r}``" if p.default is not p.empty
                     else f"``{p.name}``" for p in params)


class RegistryTable(Directive):
    """``.. skvae-registry:: likelihoods``: a table of the registered classes."""

    required_arguments = 1
    has_content = False

    def run(self):
        kind = self.arguments[0]
        if kind not in REGISTRIES:
            raise self.error(f"unknown registry {kind!r}; one of {sorted(REGISTRIES)}")
        module, registry, base = _registry(kind)
        classes = sorted(registry.items())
        is_likelihood = kind == "likelihoods"
        with_parameters = any(_parameters(cls) != "none" for _, cls in classes)
        header = ["name and class"]
        if is_likelihood:
            header += ["values of X", "standardised"]
        if with_parameters:
            header += ["parameters"]
        header += ["what it is"]
        lines = [".. list-table::", "   :header-rows: 1", "   :class: skvae-registry", ""]
        lines += ["   * - " + header[0]] + [f"     - {h}" for h in header[1:]]
        for name, cls in classes:
            lines += [f'   * - ``"{name}"``', "",
                      f"       :class:`~{module.__name__}.{cls.__name__}`"]
            cells = []
            if is_likelihood:
                standardises = cls.standardizer is not base.standardizer
                cells += [_support(cls()), "yes" if standardises else "no"]
            if with_parameters:
                cells += [_parameters(cls)]
            cells += [_first_sentence(cls)]
            lines += [f"     - {c}" for c in cells]
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source=f"<skvae-registry {kind}>"),
                                self.content_offset, container)
        return container.children


#: Seconds a skvae-run script may take.
RUN_TIMEOUT = 600

def _run_script(path, *args):
    """Run ``path`` (with ``args``) in a fresh interpreter; return its exit code and output."""
    import skvae

    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MPLBACKEND", "Agg")
    root = str(Path(skvae.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    try:
        done = subprocess.run([sys.executable, path.name, *args], cwd=path.parent, env=env,
                              text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {RUN_TIMEOUT} s"
    return done.returncode, done.stdout


class RunScript(Directive):
    """``.. skvae-run:: code/script.py``: the script's source, then its output."""

    required_arguments = 1
    has_content = False

    def run(self):
        env = self.state.document.settings.env
        rel, path = env.relfn2path(self.arguments[0])
        path = Path(path).resolve()
        env.note_dependency(rel)
        source = path.read_text(encoding="utf-8")
        code, output = _run_script(path)
        if code != 0:
            raise self.error(f"{self.arguments[0]} exited with {code}:\n{output}")
        src = nodes.literal_block(source, source, language="python")
        src["classes"].append("skvae-run-source")
        caption = nodes.paragraph(text=f"Output of python {path.name}:")
        out = nodes.literal_block(output, output, language="text")
        out["classes"].append("skvae-run-output")
        return [src, caption, out]


def _table_node(header, rows, widths):
    """A docutils table of plain-text cells (no markup is parsed in them)."""
    table = nodes.table(classes=["skvae-bad-inputs"])
    group = nodes.tgroup(cols=len(header))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    for part, lines in ((nodes.thead(), [header]), (nodes.tbody(), rows)):
        group += part
        for cells in lines:
            row = nodes.row()
            for cell in cells:
                entry = nodes.entry()
                entry += nodes.paragraph(text=cell)
                row += entry
            part += row
    return table


class BadInputsTable(Directive):
    """``.. skvae-bad-inputs:: code/bad_inputs.py``: every bad input and what it gets."""

    required_arguments = 1
    has_content = False

    def run(self):
        env = self.state.document.settings.env
        rel, path = env.relfn2path(self.arguments[0])
        path = Path(path).resolve()
        env.note_dependency(rel)
        code, output = _run_script(path, "--json")
        if code != 0:
            raise self.error(f"{self.arguments[0]} exited with {code}:\n{output}")
        lines = [line for line in output.splitlines() if line.startswith("{")]
        if not lines:
            raise self.error(f"{self.arguments[0]} printed no JSON table:\n{output}")
        data = json.loads(lines[-1])
        header, rows = data["header"], data["rows"]
        where = header.index("where")
        groups = {}
        for row in rows:
            groups.setdefault(row[where], []).append(row[:where] + row[where + 1:])
        columns = header[:where] + header[where + 1:]
        summary = nodes.paragraph(text=(
            f"{data['calls']} calls in {len(rows)} rows (calls with the same input, "
            "outcome and message share a row), generated when these pages were built."))
        result = [summary]
        for place, group_rows in groups.items():
            result.append(nodes.rubric(text=place))
            result.append(_table_node(columns, group_rows, [22, 16, 14, 48]))
        return result


#: What each optional extra of pyproject.toml is for; extras not listed get "".
EXTRA_PURPOSES = {
    "plots": ":mod:`skvae.plotting` (the Display classes); matplotlib is imported only "
             "when something is drawn",
    "pandas": "DataFrames in and out of :class:`~skvae.VAEGenerator` (mixed column "
              "types), ``set_output(transform=\"pandas\")``",
    "io": ":func:`skvae.save` in the safetensors format; pandas and pyarrow for tables "
          "on disk",
    "bench": "the benchmarks against other VAE libraries",
    "dask": "grid searches on a Dask cluster and out-of-core fits with dask-ml's "
            "``Incremental`` (:ref:`dask`)",
    "tests": "running the test suite",
    "docs": "building this documentation",
}


class ExtrasTable(Directive):
    """``.. skvae-extras::``: the optional extras of pyproject.toml, with their packages."""

    has_content = False

    def run(self):
        try:
            import tomllib
        except ImportError:  # Python 3.10
            raise self.error("skvae-extras needs Python 3.11 or newer (tomllib)") from None
        import skvae

        env = self.state.document.settings.env
        # The checkout that skvae is imported from, else the one above the docs.
        candidates = [Path(skvae.__file__).resolve().parent.parent / "pyproject.toml",
                      Path(env.srcdir).parent / "pyproject.toml"]
        pyproject = next((p for p in candidates if p.is_file()), None)
        if pyproject is None:
            raise self.error("skvae-extras: no pyproject.toml next to skvae or the docs")
        env.note_dependency(str(pyproject))
        extras = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"].get(
            "optional-dependencies", {})
        lines = [".. list-table::", "   :header-rows: 1", "", "   * - extra",
                 "     - installs", "     - for"]
        for name, requirements in extras.items():
            packages = ", ".join(re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0]
                                 for r in requirements)
            lines += [f"   * - ``{name}``", f"     - {packages}",
                      f"     - {EXTRA_PURPOSES.get(name, '')}"]
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="<skvae-extras>"),
                                self.content_offset, container)
        return container.children


#: Values that the prose of the user guide quotes: (module, expression) -> value. A
#: change in skvae that makes one of them false fails the build until the pages agree.
QUOTED_VALUES = {
    ("skvae._noise", "SCORE_DRAWS"): 16,
    ("skvae._noise", "VALIDATION_DRAWS"): 2,
    ("skvae._noise", "score_draws(7)"): 16,
    ("skvae._noise", "score_draws(8) > 16"): True,
    ("skvae.likelihoods", "GAUSSIAN_MIN_SCALE"): 1e-3,
}


def check_quoted_values(app):
    """Warn (an error under -W) when a value quoted in the user guide has changed."""
    for (module_name, expression), quoted in QUOTED_VALUES.items():
        module = importlib.import_module(module_name)
        try:
            actual = eval(expression, vars(module))  # noqa: S307 - our own expressions
        except Exception as exc:  # noqa: BLE001
            actual = f"an error: {exc!r}"
        if actual != quoted:
            logger.warning(f"the user guide quotes {module_name}.{expression} = {quoted!r}, "
                           f"but skvae now gives {actual!r}; update docs/user_guide "
                           "(grep for the value) and QUOTED_VALUES in docs/_ext/skvae_docs.py.",
                           type="skvae", subtype="quoted")


def _expected_api_names():
    """Dotted names that docs/api.rst must mention."""
    import skvae
    from skvae import datasets, plotting

    names = {f"skvae.{n}" for n in skvae.__all__ if not n.startswith("_")}
    names |= {f"skvae.plotting.{n}" for n in plotting.__all__}
    names |= {f"skvae.datasets.{n}" for n, obj in vars(datasets).items()
              if not n.startswith("_") and inspect.isfunction(obj)
              and obj.__module__ == datasets.__name__}
    for kind, (module_name, registry_name, base_name) in REGISTRIES.items():
        try:
            module, registry, _ = _registry(kind)
        except ImportError:
            continue
        names.add(f"{module_name}.{base_name}")
        names |= {f"{module_name}.{cls.__name__}" for cls in registry.values()}
        names |= {f"{module_name}.{n}" for n, obj in vars(module).items()
                  if inspect.isfunction(obj) and obj.__module__ == module_name
                  and re.match(r"(get|register|infer)_", n)}
    return names


_REF = re.compile(r":ref:`([^`<]*?)\s*(?:<([^`>]+)>)?`")


def unlink_foreign_refs(app, what, name, obj, options, lines):
    """Plain text for :ref: roles in docstrings inherited from scikit-learn.

    Their labels live in scikit-learn's own docs, which this build does not link to.
    """
    module = getattr(obj, "__module__", None) or ""
    if not module.startswith("sklearn"):
        return
    lines[:] = [_REF.sub(lambda m: m.group(1) or m.group(2), line) for line in lines]


def check_api_complete(app):
    """Warn (an error under -W) for each public name that docs/api.rst leaves out."""
    text = Path(app.srcdir, "api.rst").read_text(encoding="utf-8")
    current = None
    listed = set()
    for line in text.splitlines():
        module = re.match(r"\.\.\s+currentmodule::\s+(\S+)", line.strip())
        if module:
            current = module.group(1)
            continue
        entry = re.fullmatch(r"\s{3,}(~?[\w.]+)", line)
        if entry and current and not line.strip().startswith(":"):
            name = entry.group(1).lstrip("~")
            listed.add(name if name.startswith("skvae") else f"{current}.{name}")
    for name in sorted(_expected_api_names() - listed):
        logger.warning(f"docs/api.rst does not list the public name {name}; add it to the "
                       "autosummary of its module.", type="skvae", subtype="api")


def setup(app):
    app.add_directive("skvae-registry", RegistryTable)
    app.add_directive("skvae-run", RunScript)
    app.add_directive("skvae-bad-inputs", BadInputsTable)
    app.add_directive("skvae-extras", ExtrasTable)
    app.connect("builder-inited", check_api_complete)
    app.connect("builder-inited", check_quoted_values)
    app.connect("autodoc-process-docstring", unlink_foreign_refs)
    return {"parallel_read_safe": False, "parallel_write_safe": True}
