"""Safe persistence of a scikit-learn Pipeline whose steps include skvae estimators.

:func:`skvae.save` writes a :class:`~sklearn.pipeline.Pipeline` as a zip archive of

``pipeline.json``
    The header: format name and version, the skvae version that wrote it, the
    Pipeline's own parameters (``memory`` as None or a path, ``verbose``,
    ``transform_input``) and, per step, its name and how it is stored.
``steps/<i>.skvae``
    A skvae estimator, in the single-model format of :mod:`skvae._persistence`, read back
    with the same checks (no unpickling, tensors validated against the architecture).
``steps/<i>.pipeline``
    A nested Pipeline, in this format.
``steps/<i>.skops``
    Any other estimator (a scaler, a classifier, ...), written by ``skops.io.dumps``
    and read back by ``skops.io.loads`` with skops' default trust: only the types skops
    trusts out of the box (scikit-learn's estimators, numpy and builtin values) are
    built; a file naming any other type is refused. These steps need the ``skops``
    package, on the machine that saves and on the one that loads.

A ``"passthrough"`` or None step is stored in the header. Nothing is ever unpickled, and
a file whose members do not match its header exactly is refused.
"""

# License: BSD 3 clause

import inspect
import io
import json
import zipfile

from sklearn.pipeline import Pipeline

from . import _persistence
from ._estimator import _Estimator
from ._version import __version__

#: Header member; its presence tells :func:`skvae.load` that the file holds a Pipeline.
PIPELINE_HEADER = _persistence._PIPELINE_HEADER

#: Name written in every pipeline header.
PIPELINE_FORMAT = "skvae-pipeline"

#: Version of the pipeline layout; :func:`load_pipeline` refuses newer ones.
PIPELINE_FORMAT_VERSION = 1

#: How a step is stored -> the extension of its member.
_KINDS = ("skvae", "pipeline", "skops")

#: Steps that are no estimator, stored in the header as they are.
_PASSTHROUGH = ("passthrough", None)

#: Deepest nesting of Pipelines accepted on load (a guard against a recursion bomb).
_MAX_DEPTH = 8


def _import_skops(purpose):
    try:
        import skops.io
    except ImportError:
        raise ValueError(
            f"{purpose} needs the skops package (pip install skops), which stores "
            "scikit-learn estimators without pickle."
        ) from None
    return skops.io


# ------------------------------------------------------------------------------ save
def pipeline_members(pipeline):
    """The archive members of ``pipeline``: ``{member name: bytes}``.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline

    Returns
    -------
    members : dict of str to bytes
    """
    members, steps = {}, []
    for index, (name, step) in enumerate(pipeline.steps):
        if step is None or (isinstance(step, str) and step in _PASSTHROUGH):
            steps.append({"name": name, "passthrough": step})
            continue
        kind, data = _dump_step(name, step)
        member = f"steps/{index}.{kind}"
        members[member] = data
        steps.append({"name": name, "kind": kind, "member": member})
    header = {"format": PIPELINE_FORMAT, "format_version": PIPELINE_FORMAT_VERSION,
              "skvae_version": __version__, "params": _pipeline_params(pipeline),
              "steps": steps}
    members[PIPELINE_HEADER] = json.dumps(header, indent=1, allow_nan=False).encode("utf-8")
    return members


def _dump_step(name, step):
    """``(kind, bytes)`` of one step."""
    if isinstance(step, Pipeline):
        buffer = io.BytesIO()
        _persistence._write_zip(buffer, pipeline_members(step))
        return "pipeline", buffer.getvalue()
    if isinstance(step, _Estimator):
        buffer = io.BytesIO()
        _persistence.save(step, buffer)
        return "skvae", buffer.getvalue()
    skops_io = _import_skops(f"Saving the step {name!r} ({type(step).__name__})")
    try:
        data = skops_io.dumps(step)
    except Exception as exc:
        raise ValueError(
            f"Cannot save the step {name!r}: skops cannot store a {type(step).__name__} "
            f"({type(exc).__name__}: {exc}). skvae estimators can be Pipeline steps, not "
            "parts of other estimators."
        ) from None
    untrusted = skops_io.get_untrusted_types(data=data)
    if untrusted:
        raise ValueError(
            f"Cannot save the step {name!r}: it holds types that skops does not trust by "
            f"default ({untrusted}), which skvae.load would refuse. Use pickle or joblib "
            "for this pipeline, and load it only from a source you trust."
        )
    return "skops", data


def _pipeline_params(pipeline):
    """The Pipeline's parameters other than its steps, as JSON values."""
    params = pipeline.get_params(deep=False)
    params.pop("steps")
    bad = _not_plain(params)
    if bad:
        raise ValueError(f"Cannot save the Pipeline's {bad}: the safe format stores None, "
                         "a bool, a str or a list of str there.")
    return params


def _not_plain(params):
    """``"key=value"`` of the first parameter that is not None, a bool, a str or a list of
    str, or None when they all are."""
    for key, value in params.items():
        plain = value is None or type(value) in (bool, str) or (
            type(value) is list and all(type(v) is str for v in value))
        if not plain:
            return f"{key}={value!r:.200}"
    return None


# ------------------------------------------------------------------------------ load
def load_pipeline(archive, size, allow_torch_format=False, depth=0):
    """The Pipeline stored in the open zip ``archive``, checked member by member.

    Parameters
    ----------
    archive : zipfile.ZipFile
    size : int
        Bytes of the file the archive is read from: its members may claim no more, and
        no read goes beyond it.
    allow_torch_format : bool, default=False
        Passed to :func:`skvae.load` for the skvae steps.
    depth : int, default=0
        How deep in nested Pipelines this one is.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
    """
    if depth > _MAX_DEPTH:
        raise ValueError(f"Pipelines are nested more than {_MAX_DEPTH} deep")
    _persistence._check_members(archive, size)
    header = _read_header(archive, size)
    steps, members = [], {PIPELINE_HEADER}
    for entry in _list(header["steps"]):
        name, step, member = _load_step(archive, entry, size, allow_torch_format, depth)
        steps.append((name, step))
        members.update([member] if member else [])
    extra = set(archive.namelist()) - members
    if extra or len(archive.namelist()) != len(set(archive.namelist())):
        raise ValueError(f"unexpected entries {sorted(extra)[:5]} (or duplicate entries)")
    params = header["params"]
    known = set(inspect.signature(Pipeline).parameters) - {"steps"}
    if type(params) is not dict or not set(params) <= known or _not_plain(params):
        raise ValueError(f"bad Pipeline parameters {params!r:.200}")
    return Pipeline(steps, **params)


def _read_header(archive, size):
    raw = _persistence._read_member(archive, PIPELINE_HEADER,
                                    min(size, _persistence._MAX_HEADER_BYTES))
    header = _persistence._parse_json(raw, PIPELINE_HEADER)
    if type(header) is not dict or header.get("format") != PIPELINE_FORMAT:
        raise ValueError(f"its {PIPELINE_HEADER} does not declare format {PIPELINE_FORMAT!r}")
    version = header.get("format_version")
    if type(version) is not int or not 1 <= version <= PIPELINE_FORMAT_VERSION:
        raise ValueError(f"pipeline format version {version!r} is not one this skvae "
                         f"({__version__}) reads (1 to {PIPELINE_FORMAT_VERSION})")
    return header


def _load_step(archive, entry, size, allow_torch_format, depth):
    """``(name, step, member)`` of one header entry (``member`` None for passthrough)."""
    if type(entry) is not dict or type(entry.get("name")) is not str:
        raise ValueError(f"bad step entry {entry!r:.200}")
    name = entry["name"]
    if "passthrough" in entry:
        if entry["passthrough"] not in _PASSTHROUGH or set(entry) != {"name", "passthrough"}:
            raise ValueError(f"bad passthrough step {entry!r:.200}")
        return name, entry["passthrough"], None
    kind, member = entry.get("kind"), entry.get("member")
    if kind not in _KINDS:
        raise ValueError(f"step {name!r} is stored as {kind!r}, not one of {list(_KINDS)}")
    if type(member) is not str or not member.endswith(f".{kind}"):
        raise ValueError(f"step {name!r} names a bad member {member!r:.200}")
    # A KeyError when absent, reported as a missing entry.
    data = _persistence._read_member(archive, member, size)
    try:
        return name, _load_member(kind, data, allow_torch_format, depth), member
    except ValueError as exc:
        raise ValueError(f"step {name!r}: {exc}") from None


def _load_member(kind, data, allow_torch_format, depth):
    if kind == "skvae":
        return _persistence.load(io.BytesIO(data), allow_torch_format=allow_torch_format)
    if kind == "pipeline":
        with zipfile.ZipFile(io.BytesIO(data)) as nested:
            return load_pipeline(nested, len(data), allow_torch_format, depth + 1)
    skops_io = _import_skops("Loading this step")
    untrusted = skops_io.get_untrusted_types(data=data)
    if untrusted:
        raise ValueError(f"it names types that skops does not trust by default "
                         f"({untrusted[:5]}); skvae builds none of them")
    return skops_io.loads(data)


def _list(value):
    if type(value) is not list:
        raise ValueError(f"expected a JSON list, got {value!r:.200}")
    return value
