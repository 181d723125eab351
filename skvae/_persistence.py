"""Safe persistence: a model file that executes no code when it is loaded.

A ``.skvae`` file is a zip archive with two members:

``skvae.json``
    The header: format name and version, the skvae (and, for information, torch,
    scikit-learn and numpy) versions that wrote it, the estimator's class, its
    parameters, its fitted attributes, and a manifest of the tensors (name, dtype,
    shape).
``tensors.safetensors`` (or ``tensors.pt`` when safetensors is not installed)
    Every array of the model: the torch module's weights and buffers, the optimiser
    state and the numeric numpy arrays (standardisation, RNG state). The safetensors
    format is plain bytes plus a JSON index; the fallback is a ``torch.save`` of a flat
    dict of tensors, read back with ``torch.load(weights_only=True)`` only when the
    caller of :func:`load` allows it (``allow_torch_format=True``).

Values are written by type, not by a hand-kept list of attribute names: every item of
the estimator's ``__dict__`` is classified (JSON scalar, list, tuple, dict, numpy array
or scalar, tensor, torch device, numpy ``RandomState``, a likelihood/prior/posterior
from its registry, the torch module) and an item of any other type makes :func:`save`
raise a ValueError naming it. On load nothing is unpickled: the estimator is built
from its class (an allow-list) and parameters; the module from its class (an
allow-list of the family modules) and the explicit module config in the header,
checked against the stored tensors' names, dtypes and shapes before anything is
allocated (the module is first built on torch's "meta" device, which allocates
nothing), then ``load_state_dict(strict=True)``; the optimiser state is checked
against the module's parameters. Any inconsistency is a ValueError that says what is
wrong.

Every size in a file is checked before it is paid for: the file must be a regular
file of at most :data:`MAX_FILE_BYTES`, its members uncompressed and within it, the
header small and of bounded JSON, the manifest's and the tensor index's sizes within
the bytes the tensor file holds, string arrays no wider than a bound, and the fitted
attributes those of the estimator's class (``_fitted_attributes``). A tampered file
costs little more memory to refuse than the honest model costs to load
(tests/test_persistence_limits.py measures it).
"""

# License: BSD 3 clause

import contextlib
import io
import json
import math
import os
import secrets
import stat
import warnings
import zipfile

import numpy as np
import sklearn
import torch
from sklearn.pipeline import Pipeline

from ._classifier import VAEClassifier
from ._device import check_device_type
from ._generator import VAEGenerator
from ._hierarchical import HierarchicalVAETransformer
from ._module import MODULES
from ._standardize import Standardizer
from ._tabular import TableSchema
from ._training import STALE_OPTIMIZER_STATE, fits_groups, parameter_groups
from ._transformer import VAETransformer
from ._version import __version__
from .exceptions import InconsistentVersionWarning
from .likelihoods import LIKELIHOODS, TABLE_LIKELIHOODS, Likelihood, MixedLikelihood
from .networks import NETWORKS, Network
from .priors import PRIORS, Prior

try:  # posteriors came after the first release of the format's code
    from .posteriors import POSTERIORS, Posterior
except ImportError:  # pragma: no cover
    POSTERIORS, Posterior = None, None

__all__ = ["FORMAT_VERSION", "load", "register_estimator", "save"]

#: Name written in every header; a file without it is not an skvae model.
FORMAT_NAME = "skvae-model"

#: Version of the file layout. :func:`load` reads this version and older ones and
#: refuses newer ones. Version 2 stores the module's class and config explicitly and
#: the standardisation as one value; version 1 files are upgraded on load.
FORMAT_VERSION = 2

_HEADER = "skvae.json"
#: The header of a Pipeline's file (see :mod:`skvae._pipeline_persistence`).
_PIPELINE_HEADER = "pipeline.json"
_SAFETENSORS = "tensors.safetensors"
_TORCH = "tensors.pt"
_WEIGHT_FILES = {"safetensors": _SAFETENSORS, "torch": _TORCH}

#: Largest model file :func:`load` reads, in bytes. A model of skvae's kind is far
#: smaller; a larger file is refused before anything is read.
MAX_FILE_BYTES = 8 * 2**30

#: Largest header accepted, in bytes. Parsed JSON takes up to about 12 times its size in
#: memory (short strings), so this bounds what a tampered header can cost; an honest
#: header holds names and small values and is far smaller.
_MAX_HEADER_BYTES = 4 * 2**20

#: Most JSON lists and objects a header may hold (each costs about 60 bytes parsed, 20
#: times the 3 bytes "[]," takes); an honest header holds a few per fitted attribute,
#: per parameter tensor and per table column.
_MAX_JSON_CONTAINERS = 2**18

#: Most bytes the string arrays of a header may expand to: a numpy string dtype sets
#: the width of every element, so '<U400000000' would cost 1.6 GB per element.
_MAX_STRING_ARRAY_BYTES = 16 * 2**20

#: The classes a file may name; nothing else is ever built by :func:`load`.
_CLASSES = {cls.__name__: cls for cls in (VAETransformer, VAEGenerator, VAEClassifier,
                                           HierarchicalVAETransformer)}



def register_estimator(cls):
    """Allow the estimator class ``cls`` in files written by :func:`save` (a decorator).

    For a model family built on skvae's estimator core (see the developer page
    "Adding a model family"): :func:`load` builds only registered classes, by name.

    Parameters
    ----------
    cls : type
        A subclass of a skvae estimator whose module class is in
        ``skvae._module.MODULES``.

    Returns
    -------
    cls : type
        Unchanged.
    """
    from ._estimator import _Estimator

    if not (isinstance(cls, type) and issubclass(cls, _Estimator)):
        raise TypeError(f"{cls!r} is not a skvae estimator class.")
    if cls.__name__ in _CLASSES and _CLASSES[cls.__name__] is not cls:
        raise ValueError(f"another class is registered as {cls.__name__!r}.")
    _CLASSES[cls.__name__] = cls
    return cls


#: Largest module config value accepted (a width or a count); the stored tensors must
#: match the config besides, which bounds it by the file's size.
_MAX_CONFIG_VALUE = 2**31 - 1

#: Swappable parts: instances are stored by registry name.
_PARTS = {"likelihood": (Likelihood, {**LIKELIHOODS, **TABLE_LIKELIHOODS}),
          "prior": (Prior, PRIORS), "network": (Network, NETWORKS)}
if POSTERIORS is not None:
    _PARTS["posterior"] = (Posterior, POSTERIORS)

#: Tensor dtypes stored as they are.
_TENSOR_DTYPES = {
    name: getattr(torch, name)
    for name in ("float16", "bfloat16", "float32", "float64", "int8", "int16", "int32",
                 "int64", "uint8", "bool")
}

#: numpy dtypes of arrays stored as tensors; the unsigned ones wider than a byte are
#: widened to int64 in the file (torch's support for them is partial) and narrowed back.
_ARRAY_DTYPES = {"float16", "float32", "float64", "int8", "int16", "int32", "int64",
                 "uint8", "uint16", "uint32", "bool"}
_WIDENED = {"uint16", "uint32"}

#: numpy scalar dtypes stored as JSON numbers (exactly: float32 and float16 are
#: exact in a float64, integers are unbounded in JSON).
_SCALAR_DTYPES = _ARRAY_DTYPES | {"uint64"}


def _import_safetensors():
    """``safetensors.torch``, or None when the package is not installed."""
    try:
        import safetensors.torch
    except ImportError:
        return None
    return safetensors.torch


# ------------------------------------------------------------------------- encoding
class _Encoder:
    """Turns a value into JSON, collecting its tensors in ``self.tensors``."""

    def __init__(self):
        self.tensors = {}

    def _add_tensor(self, path, tensor):
        key = path
        n = 1
        while key in self.tensors:
            n += 1
            key = f"{path}#{n}"
        # A clone: contiguous, on the CPU, sharing memory with nothing (safetensors
        # refuses tensors that share storage).
        self.tensors[key] = tensor.detach().to("cpu", copy=True).contiguous()
        return key

    def encode(self, value, path):
        if value is None or type(value) in (bool, int, str):
            return value
        if type(value) is float:
            if math.isfinite(value):
                return value
            return {"type": "float", "value": repr(value)}
        if type(value) is list:
            return [self.encode(v, f"{path}/{i}") for i, v in enumerate(value)]
        if type(value) is tuple:
            return {"type": "tuple", "items": [self.encode(v, f"{path}/{i}")
                                               for i, v in enumerate(value)]}
        if type(value) is dict:
            items = []
            for k, v in value.items():
                if not (k is None or type(k) in (bool, int, str)):
                    raise self._unsupported(path, k, "dictionary key")
                items.append([k, self.encode(v, f"{path}/{k}")])
            return {"type": "dict", "items": items}
        if isinstance(value, np.generic):
            return self._encode_numpy_scalar(value, path)
        if type(value) is np.ndarray:
            return self._encode_array(value, path)
        if type(value) is torch.Tensor:
            if value.layout != torch.strided or _dtype_name(value.dtype) not in _TENSOR_DTYPES:
                raise self._unsupported(path, value, f"tensor ({value.dtype}, {value.layout})")
            value = value.resolve_conj().resolve_neg()
            return {"type": "tensor", "tensor": self._add_tensor(path, value)}
        if type(value) is torch.device:
            return {"type": "device", "value": str(value)}
        if type(value) is np.random.RandomState:
            return {"type": "random_state", "state": self.encode(value.get_state(), path)}
        if type(value) is TableSchema:
            return {"type": "table_schema", "config": self.encode(value.to_config(), path)}
        if type(value) is Standardizer:
            return {"type": "standardizer", "loc": self._encode_array(value.loc, f"{path}/loc"),
                    "scale": self._encode_array(value.scale, f"{path}/scale")}
        for kind, (base, registry) in _PARTS.items():
            if isinstance(value, base):
                return _encode_part(kind, registry, value, path, self)
        raise self._unsupported(path, value)

    def _encode_numpy_scalar(self, value, path):
        if value.dtype.name not in _SCALAR_DTYPES:
            raise self._unsupported(path, value)
        return {"type": "numpy_scalar", "dtype": value.dtype.name,
                "value": self.encode(value.item(), path)}

    def _encode_array(self, value, path):
        kind = value.dtype.kind
        if value.dtype.name in _ARRAY_DTYPES:
            stored = value.astype(np.int64) if value.dtype.name in _WIDENED else value
            stored = np.ascontiguousarray(stored, dtype=stored.dtype.newbyteorder("="))
            key = self._add_tensor(path, torch.from_numpy(stored))
            return {"type": "ndarray", "dtype": value.dtype.name, "tensor": key}
        if kind == "U":
            return {"type": "ndarray_str", "dtype": value.dtype.str.replace(">", "<"),
                    "shape": list(value.shape), "values": value.ravel().tolist()}
        if kind == "O":
            values = []
            for i, v in enumerate(value.ravel()):
                if not (v is None or type(v) in (bool, int, float, str)):
                    raise self._unsupported(f"{path}[{i}]", v, "object array element")
                values.append(self.encode(v, path))
            return {"type": "ndarray_object", "shape": list(value.shape), "values": values}
        raise self._unsupported(path, value, f"array of dtype {value.dtype}")

    @staticmethod
    def _unsupported(path, value, what=None):
        what = what or f"value of type {type(value).__module__}.{type(value).__qualname__}"
        return ValueError(
            f"Cannot save {path!r}: a {what} has no safe representation in the skvae "
            "format (JSON values, numpy arrays, tensors, torch devices, RandomState, "
            "registered likelihoods/priors/posteriors/networks). Use pickle or joblib for this "
            "model, or store the attribute in a supported type."
        )


def _dtype_name(dtype):
    return str(dtype).removeprefix("torch.")


def _encode_part(kind, registry, value, path, encoder):
    """A registered part as its registry name plus its constructor arguments."""
    name = getattr(value, "name", None)
    if not (isinstance(name, str) and registry.get(name) is type(value)):
        raise ValueError(
            f"Cannot save {path!r}: {value!r} is not a registered {kind} "
            f"({sorted(registry)}). The safe format stores {kind}s by registry name; "
            f"register the class with register_{kind} or save with pickle/joblib."
        )
    config = dict(vars(value))
    # The configuration must be constructor arguments that rebuild an equal part.
    try:
        rebuilt = type(value)(**config)
        same = rebuilt == value and vars(rebuilt) == config
    except Exception:
        same = False
    if not same:
        raise ValueError(
            f"Cannot save {path!r}: the {kind} {value!r} holds state {sorted(config)} "
            f"that {type(value).__name__}(**state) does not rebuild, which the safe "
            f"format cannot store; keep a {kind}'s attributes equal to its constructor "
            "arguments, or save with pickle/joblib."
        )
    node = {"type": "part", "kind": kind, "name": name}
    if config:
        node["config"] = {k: encoder.encode(v, f"{path}/{k}") for k, v in config.items()}
    return node


# ------------------------------------------------------------------------- decoding
class _Decoder:
    """Turns header JSON back into values, taking tensors from ``tensors``."""

    def __init__(self, tensors):
        self.tensors = tensors
        self.used = set()
        self.string_bytes = 0

    def tensor(self, key):
        if type(key) is not str or key not in self.tensors:
            raise ValueError(f"the header refers to a tensor {key!r} that the file lacks")
        if key in self.used:
            raise ValueError(f"the tensor {key!r} is referred to twice")
        self.used.add(key)
        return self.tensors[key]

    def decode(self, node):
        if node is None or type(node) in (bool, int, float, str):
            return node
        if type(node) is list:
            return [self.decode(v) for v in node]
        if type(node) is not dict:
            raise ValueError(f"unexpected JSON value {node!r}")
        kind = node.get("type")
        method = getattr(self, f"_decode_{kind}", None) if type(kind) is str else None
        if method is None:
            raise ValueError(f"unknown value type {kind!r}")
        return method(node)

    def _decode_float(self, node):
        value = node["value"]
        if value not in ("nan", "inf", "-inf"):
            raise ValueError(f"bad float {value!r}")
        return float(value)

    def _decode_tuple(self, node):
        return tuple(self.decode(v) for v in _list(node["items"]))

    def _decode_dict(self, node):
        out = {}
        for item in _list(node["items"]):
            key, value = _list(item)
            if not (key is None or type(key) in (bool, int, str)):
                raise ValueError(f"bad dictionary key {key!r}")
            out[key] = self.decode(value)
        return out

    def _decode_numpy_scalar(self, node):
        dtype = np.dtype(_choice(node["dtype"], _SCALAR_DTYPES))
        value = self.decode(node["value"])
        if type(value) not in (bool, int, float):
            raise ValueError(f"bad numpy scalar {value!r}")
        return dtype.type(value)

    def _decode_ndarray(self, node):
        name = _choice(node["dtype"], _ARRAY_DTYPES)
        array = self.tensor(node["tensor"]).numpy()
        expected = "int64" if name in _WIDENED else name
        if array.dtype.name != expected:
            raise ValueError(f"tensor {node['tensor']!r} holds {array.dtype}, not {expected}")
        if name in _WIDENED:
            info = np.iinfo(name)
            if array.size and (array.min() < info.min or array.max() > info.max):
                raise ValueError(f"tensor {node['tensor']!r} holds values outside {name}")
            array = array.astype(name)
        return array

    def _decode_ndarray_str(self, node):
        values = _list(node["values"])
        if not all(type(v) is str for v in values):
            raise ValueError("a string array holds non-strings")
        shape = _shape(node["shape"], len(values))
        dtype = _string_dtype(node["dtype"], values)
        # Checked before numpy allocates: the dtype's width is paid for every element.
        self.string_bytes += dtype.itemsize * len(values)
        if self.string_bytes > _MAX_STRING_ARRAY_BYTES:
            raise ValueError(f"the string arrays would take more than "
                             f"{_MAX_STRING_ARRAY_BYTES} bytes")
        return np.array(values, dtype=dtype).reshape(shape)

    def _decode_ndarray_object(self, node):
        values = [self.decode(v) for v in _list(node["values"])]
        if not all(v is None or type(v) in (bool, int, float, str) for v in values):
            raise ValueError("an object array holds a non-scalar")
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out.reshape(_shape(node["shape"], len(values)))

    def _decode_tensor(self, node):
        return self.tensor(node["tensor"])

    def _decode_device(self, node):
        value = node["value"]
        if type(value) is not str:
            raise ValueError(f"bad device {value!r}")
        return check_device_type(value, "device")

    def _decode_random_state(self, node):
        state = self.decode(node["state"])
        rng = np.random.RandomState()
        rng.set_state(state)
        return rng

    def _decode_table_schema(self, node):
        config = self.decode(node["config"])
        try:
            schema = TableSchema.from_config(config)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"bad table schema: {exc!r}") from None
        for spec in schema.columns:
            # A DataFrame column never has a fixed-width dtype, whose width a sampled
            # column would pay for every row.
            if getattr(spec.dtype, "kind", None) in ("S", "U", "V"):
                raise ValueError(f"column {spec.name!r} has dtype {spec.dtype}, which a "
                                 "table column cannot have")
        return schema

    def _decode_standardizer(self, node):
        loc, scale = self.decode(node["loc"]), self.decode(node["scale"])
        for name, value in (("loc", loc), ("scale", scale)):
            if not (isinstance(value, np.ndarray) and value.dtype == np.float64
                    and value.ndim == 1 and np.isfinite(value).all()):
                raise ValueError(f"the standardisation's {name} is not a finite float "
                                 "vector")
        if loc.shape != scale.shape or not (scale > 0).all():
            raise ValueError("the standardisation's scale is not a positive vector of the "
                             "shape of its loc")
        return Standardizer(loc, scale)

    def _decode_part(self, node):
        kind = _choice(node["kind"], set(_PARTS))
        registry = _PARTS[kind][1]
        name = node["name"]
        if type(name) is not str or name not in registry:
            raise ValueError(
                f"unknown {kind} {name!r}; this skvae knows {sorted(registry)}"
            )
        config = node.get("config", {})
        if type(config) is not dict or not all(type(k) is str for k in config):
            raise ValueError(f"bad configuration of {kind} {name!r}")
        # A registered class, called with decoded JSON values only.
        return registry[name](**{k: self.decode(v) for k, v in config.items()})

    def _decode_module(self, node):
        raise ValueError("a torch module may only be a top-level attribute")


def _list(value):
    if type(value) is not list:
        raise ValueError(f"expected a JSON list, got {value!r}")
    return value


def _choice(value, allowed):
    if type(value) is not str or value not in allowed:
        raise ValueError(f"{value!r} is not one of {sorted(allowed)}")
    return value


def _string_dtype(name, values):
    """The numpy dtype ``'<U{width}'`` of ``values``, its width checked against them.

    A width below the longest value would cut values short; its size, paid for every
    element, is bounded by the caller.
    """
    width = name[2:] if type(name) is str and name.startswith("<U") else ""
    if not (width.isascii() and width.isdigit() and str(int(width)) == width):
        raise ValueError(f"bad string dtype {name!r}")
    longest = max(map(len, values), default=0)
    if int(width) < longest:
        raise ValueError(f"the string dtype {name!r} is narrower than its longest value "
                         f"({longest} characters)")
    return np.dtype(name)


def _shape(shape, size):
    shape = tuple(_list(shape))
    if not all(type(n) is int and n >= 0 for n in shape) or math.prod(shape) != size:
        raise ValueError(f"bad shape {list(shape)} for {size} values")
    return shape


# --------------------------------------------------------------------------- module
def _check_module_config(cls, config):
    """A ValueError unless ``config`` holds exactly ``cls.CONFIG_KEYS``, as plain values."""
    if type(config) is not dict or set(config) != set(cls.CONFIG_KEYS):
        keys = sorted(config) if type(config) is dict else config
        raise ValueError(f"the config of {cls.__name__} must hold {list(cls.CONFIG_KEYS)}, "
                         f"not {keys!r}")
    for key, value in config.items():
        values = value if type(value) is tuple else (value,)
        if not all(type(v) in (int, bool) and 0 <= v <= _MAX_CONFIG_VALUE for v in values):
            raise ValueError(f"the module config's {key} is {value!r}, not a size")
    return config


def _new_module(cls, config, estimator):
    """``cls`` built from ``config`` and the estimator's fitted parts (weights unset)."""
    with torch.random.fork_rng(devices=[]):
        return cls(**config, likelihood=estimator.likelihood_, prior=estimator.prior_,
                   posterior=estimator.posterior_)


def _module_signature(cls, config, estimator):
    """Names, dtypes and shapes of the module's tensors, built on the "meta" device.

    A meta tensor has a shape and no storage: a tampered config with huge sizes costs
    nothing here, and is refused when its shapes differ from the stored tensors'.
    """
    with torch.device("meta"):
        return _tensor_signature(_new_module(cls, config, estimator).state_dict())


def _tensor_signature(tensors):
    return {k: (_dtype_name(v.dtype), tuple(v.shape)) for k, v in tensors.items()}


# ------------------------------------------------------------------------------ save
def save(estimator, path):
    """Save a skvae estimator, or a Pipeline holding some, to a file that loads safely.

    The file is a zip archive holding a JSON header (class, parameters, fitted
    attributes, versions) and the tensors in the safetensors format (or, when the
    ``safetensors`` package is not installed, a plain ``torch.save`` of a flat dict of
    tensors, which :func:`load` reads with ``torch.load(weights_only=True)``). Tensors
    are stored on the CPU: a model fitted on a GPU loads on a CPU-only machine.

    Parameters
    ----------
    estimator : VAETransformer, VAEGenerator, VAEClassifier or Pipeline
        Fitted or not. Its likelihood, prior and posterior must be registry names or
        instances of registered classes whose attributes are their constructor
        arguments (e.g. ``VampPrior(n_pseudo_inputs=20)``), in the types listed below.
        A :class:`~sklearn.pipeline.Pipeline` is stored step by step: skvae steps in
        this format, other scikit-learn steps through ``skops.io`` (which must be
        installed; see :ref:`persistence`).
    path : str or path-like or binary file object
        Where to write; ``.skvae`` is the customary extension. A path is written
        atomically (a temporary file in the same folder, then renamed).

    Raises
    ------
    ValueError
        When the estimator is not one of the supported classes, uses an unregistered
        likelihood/prior/posterior or one with state its constructor does not take, or
        holds an attribute of a type the format cannot store (the message names it).
        The storable types: None, bool, int, float, str, list, tuple, dict (with None,
        bool, int or str keys), numpy arrays (numeric, bool, str; object arrays of
        those scalars), numpy scalars, tensors, torch devices, ``RandomState``, the
        parts above, and the torch module ``module_``.

    See Also
    --------
    load : Read the file back.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skvae import VAETransformer
    >>> from skvae._persistence import load, save
    >>> X = np.random.RandomState(0).normal(size=(40, 3))
    >>> vae = VAETransformer(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "model.skvae")
    ...     save(vae, path)
    ...     loaded = load(path)
    >>> bool((loaded.transform(X) == vae.transform(X)).all())
    True
    """
    cls = type(estimator)
    if isinstance(estimator, Pipeline):
        from ._pipeline_persistence import pipeline_members

        _write_zip(path, pipeline_members(estimator))
        return
    if _CLASSES.get(cls.__name__) is not cls:
        raise ValueError(
            f"save supports {sorted(_CLASSES)} and Pipelines of them, not "
            f"{cls.__module__}.{cls.__qualname__}; use pickle or joblib for other "
            "estimators."
        )
    params = estimator.get_params(deep=False)
    # The estimator's own pickling state: what it considers worth keeping, with the
    # tensors on the CPU and caches (rebuilt by __setstate__ on load) left out.
    state = estimator.__getstate__()
    state.pop("_skvae_version", None)  # the header records the version
    encoder = _Encoder()
    header_params = {name: encoder.encode(value, name) for name, value in params.items()}
    attributes = {}
    for name, value in state.items():
        if name in params or name == "_module_config":  # stored with the module
            continue
        _check_attribute_name(cls, name)
        if name not in cls._fitted_attributes:
            raise ValueError(
                f"Cannot save {name!r}: it is not a fitted attribute of {cls.__name__} "
                f"(listed in {cls.__name__}._fitted_attributes), and load accepts only "
                "those. Delete the attribute before saving, or use pickle or joblib."
            )
        if isinstance(value, torch.nn.Module):
            attributes[name] = _encode_module(estimator, name, value, encoder)
        else:
            attributes[name] = encoder.encode(value, name)

    weights_format, weights = _serialise_tensors(encoder.tensors)
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "skvae_version": __version__,
        "written_with": {"torch": torch.__version__, "scikit-learn": sklearn.__version__,
                         "numpy": np.__version__},
        "class": cls.__name__,
        "params": header_params,
        "attributes": attributes,
        "tensors": {
            "format": weights_format,
            "manifest": {k: {"dtype": d, "shape": list(s)}
                         for k, (d, s) in _tensor_signature(encoder.tensors).items()},
        },
    }
    text = json.dumps(header, indent=1, allow_nan=False).encode("utf-8")
    _check_json_bounds(text, "Cannot save: the header")  # load would refuse the file
    _write_zip(path, {_HEADER: text, _WEIGHT_FILES[weights_format]: weights})


def _serialise_tensors(tensors):
    """``(format, bytes)``: safetensors, or torch.save when it is not installed."""
    safetensors = _import_safetensors()
    if safetensors is not None:
        return "safetensors", safetensors.save(tensors)
    warnings.warn(
        "The safetensors package is not installed, so the model's tensors were written "
        "with torch.save. skvae.load reads such a file only when asked: "
        "skvae.load(path, allow_torch_format=True). Install safetensors (pip install "
        "safetensors) and save again for a file that loads by default.",
        UserWarning,
        stacklevel=3,
    )
    buffer = io.BytesIO()
    torch.save(tensors, buffer)
    return "torch", buffer.getvalue()


def _check_attribute_name(cls, name):
    if type(name) is not str or not name.isidentifier() or name.startswith("__") \
            or hasattr(cls, name):
        raise ValueError(f"attribute name {name!r} is not allowed (it is not a plain "
                         "instance attribute)")


def _encode_module(estimator, name, module, encoder):
    if name != "module_":
        raise _Encoder._unsupported(name, module)
    cls = type(module)
    if MODULES.get(cls.__name__) is not cls:
        raise _Encoder._unsupported(name, module, f"module of class {cls.__name__}")
    state = module.state_dict()
    config = estimator._module_config
    # The loader rebuilds the module from its config: check now that it gives the
    # same tensors, so a model that could not be loaded is never written.
    try:
        expected = _module_signature(cls, _check_module_config(cls, config), estimator)
    except Exception as exc:
        raise ValueError(f"Cannot save {name!r}: rebuilding it failed ({exc})") from None
    if expected != _tensor_signature(state):
        raise ValueError(
            f"Cannot save {name!r}: the module does not match what its config "
            f"{config} builds (changed after fitting?); the safe format can only store a "
            "module it can rebuild."
        )
    keys = {k: encoder._add_tensor(f"{name}/{k}", v) for k, v in state.items()}
    return {"type": "module", "class": cls.__name__,
            "config": encoder.encode(config, f"{name}/config"),
            "training": bool(module.training), "state": keys}


def _write_zip(path, members):
    def write(file):
        with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED) as archive:
            for member, data in members.items():
                archive.writestr(member, data)

    if hasattr(path, "write"):
        write(path)
        return
    path = os.fspath(path)
    # A new file beside the target ("x": never an existing one), with the usual
    # permissions (tempfile.mkstemp would make it private), renamed over the target.
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)),
                       f".{os.path.basename(path)}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as file:
            write(file)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


# ------------------------------------------------------------------------------ load
def load(path, *, allow_torch_format=False):
    """Load a model written by :func:`save`, without unpickling or running stored code.

    The file is checked before anything is built from it: it must be a regular file of
    at most 8 GiB (``skvae._persistence.MAX_FILE_BYTES``), its zip members uncompressed and no larger than the
    file, its header at most 4 MiB of JSON, every tensor's name, dtype and shape as the
    header's manifest and the architecture it declares say (optimiser state included),
    its strings and arrays no larger than their values, its device one skvae computes
    on and its attributes those the estimator's class keeps. A tampered file therefore
    costs little more memory to refuse than the honest model costs to load.

    Parameters
    ----------
    path : str or path-like or binary file object
        A regular file, or a seekable binary file object.
    allow_torch_format : bool, default=False
        Also read a file whose tensors were written with ``torch.save`` (by
        :func:`save` where the safetensors package was not installed). They are read
        with ``torch.load(weights_only=True)``, which runs no stored code but is a far
        larger parser than safetensors: pass True only for files you trust, or load the
        file once and save it again where safetensors is installed.

    Returns
    -------
    estimator : VAETransformer, VAEGenerator, VAEClassifier or Pipeline
        With the saved parameters, weights, standardisation, random number generator
        and optimiser state: it transforms, scores and samples bitwise like the saved
        one, and ``partial_fit`` continues as it would have. It is put on the device it
        was fitted on when this machine has it, else on the CPU.

    Raises
    ------
    ValueError
        When the file is not an skvae model (for instance a pickle or a ``torch.save``
        file), is not a regular file (a directory, a device such as /dev/zero, a FIFO),
        is larger than 8 GiB, is damaged or tampered with (bad JSON,
        missing or extra entries, tensors of the wrong shape or dtype, sizes larger
        than the file holds, unknown classes, likelihoods or attributes), holds
        ``torch.save`` tensors without ``allow_torch_format=True``, or was written by a
        newer format version.
    FileNotFoundError
        When ``path`` does not exist.

    Warns
    -----
    InconsistentVersionWarning
        When the file was written by another skvae version.

    See Also
    --------
    save : Write the file.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> from skvae import VAEGenerator
    >>> from skvae._persistence import load, save
    >>> X = np.random.RandomState(0).normal(size=(40, 3))
    >>> gen = VAEGenerator(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X)
    >>> file = io.BytesIO()
    >>> save(gen, file)
    >>> _ = file.seek(0)
    >>> loaded = load(file)
    >>> bool((loaded.sample(5, random_state=0) == gen.sample(5, random_state=0)).all())
    True
    """
    _check_source_type(path)
    source = repr(os.fspath(path)) if not hasattr(path, "read") else "the file"
    with _opened(path, source) as file:
        size = _checked_size(file, source)
        try:
            archive = zipfile.ZipFile(file)
        except zipfile.BadZipFile:
            raise ValueError(
                f"{source} is not an skvae model file: it is not a zip archive (skvae never "
                "unpickles files; a pickle or joblib file must be loaded with pickle/joblib, "
                "and only if you trust it)."
            ) from None
        try:
            with archive:
                if _PIPELINE_HEADER in archive.namelist():
                    from ._pipeline_persistence import load_pipeline

                    return load_pipeline(archive, size, allow_torch_format)
                header, tensors = _read_archive(archive, size, allow_torch_format)
                return _rebuild(header, tensors)
        except _NotAModel as exc:
            raise ValueError(f"{source} is not an skvae model file: {exc}") from None
        except (_NewerFormat, _TorchFormat) as exc:
            raise ValueError(f"{source}: {exc}") from None
        except OSError:
            raise
        except Exception as exc:  # malformed content fails in many ways, all of them data
            if isinstance(exc, KeyError):
                detail = f"missing entry {exc}"
            elif isinstance(exc, (ValueError, TypeError)):
                detail = str(exc)
            else:
                detail = f"{type(exc).__name__}: {exc}"
            raise ValueError(f"{source} is not a valid skvae model file: {detail}") from None


class _NotAModel(Exception):
    pass


class _NewerFormat(ValueError):
    pass


class _TorchFormat(ValueError):
    pass


def _check_source_type(path):
    if isinstance(path, io.TextIOBase):
        raise TypeError("load needs a binary file object: open the file with mode 'rb'.")
    if isinstance(path, bytes) and b"\0" in path:
        raise TypeError("load got bytes that look like a file's contents, not a path: "
                        "pass io.BytesIO(data) instead.")
    if not (hasattr(path, "read") or isinstance(path, (str, bytes, os.PathLike))):
        raise TypeError(f"load needs a path (str or path-like) or a binary file object, "
                        f"got {type(path).__name__}: {path!r:.80}.")


@contextlib.contextmanager
def _opened(path, source):
    """The file to read: a file object as given, a path opened when it is a regular file."""
    if hasattr(path, "read"):
        yield path
        return
    # Without O_NONBLOCK, opening a FIFO would wait for a writer before it is refused.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    descriptor = os.open(os.fspath(path), flags)
    try:
        _check_regular(os.fstat(descriptor), source)
    except BaseException:
        os.close(descriptor)
        raise
    with os.fdopen(descriptor, "rb") as file:
        yield file


#: What a path that is not a regular file is, for the message.
_FILE_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFCHR: "a character device",
               stat.S_IFBLK: "a block device", stat.S_IFIFO: "a FIFO (named pipe)",
               stat.S_IFSOCK: "a socket"}


def _check_regular(status, source):
    if not stat.S_ISREG(status.st_mode):
        kind = _FILE_KINDS.get(stat.S_IFMT(status.st_mode), "not a regular file")
        raise ValueError(f"{source} is {kind}; load reads models from regular files only.")


def _checked_size(file, source):
    """The size of the file object ``file``, refused above :data:`MAX_FILE_BYTES`."""
    try:
        descriptor = file.fileno()
    except (AttributeError, OSError, ValueError):  # io.BytesIO and the like have none
        descriptor = None
    if descriptor is not None:
        _check_regular(os.fstat(descriptor), source)
    if not getattr(file, "seekable", lambda: True)():
        raise ValueError(f"{source} is not seekable; load reads a zip archive from its "
                         "end, so it needs a file or an io.BytesIO.")
    position = file.tell()
    size = file.seek(0, os.SEEK_END)
    file.seek(position)
    if size > MAX_FILE_BYTES:
        raise ValueError(f"{source} holds {size} bytes, more than the {MAX_FILE_BYTES} "
                         "a model file may hold (skvae._persistence.MAX_FILE_BYTES).")
    return size


def _read_archive(archive, size, allow_torch_format):
    names = archive.namelist()
    if _HEADER not in names:
        raise _NotAModel(f"it has no {_HEADER} (its entries: {sorted(names)[:5]})")
    _check_members(archive, size)
    header = _parse_json(_read_member(archive, _HEADER, _MAX_HEADER_BYTES), _HEADER)
    if type(header) is not dict or header.get("format") != FORMAT_NAME:
        raise _NotAModel(f"its {_HEADER} does not declare format {FORMAT_NAME!r}")
    _check_version(header)
    spec = header["tensors"]
    weights_format = _choice(spec["format"], set(_WEIGHT_FILES))
    if weights_format == "torch" and not allow_torch_format:
        raise _TorchFormat(
            "its tensors were written with torch.save (by skvae.save where the safetensors "
            "package was not installed), which load reads only when asked: "
            "load(path, allow_torch_format=True) reads them with "
            "torch.load(weights_only=True), for files you trust. Saving the model again "
            "with safetensors installed makes a file that loads by default."
        )
    member = _WEIGHT_FILES[weights_format]
    extra = set(names) - {_HEADER, member}
    if extra or len(names) != len(set(names)):
        raise ValueError(f"unexpected entries {sorted(extra)} (or duplicate entries)")
    if member not in names:
        raise ValueError(f"the tensors ({member}) are missing")
    expected = _manifest_signature(spec["manifest"])
    data = _read_member(archive, member, size)
    _check_declared_tensors(weights_format, data, expected)
    tensors = _read_tensors(weights_format, data)
    found = _tensor_signature(tensors)
    if expected != found:
        raise ValueError(f"the tensors do not match the manifest "
                         f"({_differences(expected, found)})")
    return header, tensors


def _check_version(header):
    version = header.get("format_version")
    if type(version) is not int or version < 1:
        raise ValueError(f"bad format_version {version!r}")
    if version > FORMAT_VERSION:
        raise _NewerFormat(
            f"the file has format version {version}, written by skvae "
            f"{header.get('skvae_version')!r}; this skvae ({__version__}) reads format "
            f"versions up to {FORMAT_VERSION}. Upgrade skvae to load it."
        )
    if header.get("skvae_version") != __version__:
        warnings.warn(
            f"This model was saved with skvae {header.get('skvae_version')!r} and is "
            f"loaded with skvae {__version__}; it may not work as before.",
            InconsistentVersionWarning,
            stacklevel=4,
        )


def _check_members(archive, size):
    """A ValueError unless every member is stored as it is, within ``size`` bytes in all."""
    claimed = 0
    for info in archive.infolist():
        if info.compress_type != zipfile.ZIP_STORED:
            raise ValueError(f"{info.filename} is compressed; skvae writes its members "
                             "uncompressed, and a compressed one can expand far beyond "
                             "the file (a decompression bomb)")
        claimed += max(info.file_size, info.compress_size)
    if claimed > size:
        raise ValueError(f"its members claim {claimed} bytes, more than the file's {size}")


def _read_member(archive, name, limit):
    """The bytes of member ``name``, refused beyond ``limit`` bytes, whatever it claims."""
    if archive.getinfo(name).file_size > limit:
        raise ValueError(f"{name} is larger than {limit} bytes")
    with archive.open(name) as member:
        data = member.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{name} is larger than {limit} bytes")
    return data


def _check_json_bounds(raw, what):
    """A ValueError when the JSON bytes ``raw`` could cost too much memory parsed."""
    if len(raw) > _MAX_HEADER_BYTES:
        raise ValueError(f"{what} is larger than {_MAX_HEADER_BYTES} bytes")
    # Counted in the raw bytes, brackets inside strings too: it errs on the safe side.
    if raw.count(b"[") + raw.count(b"{") > _MAX_JSON_CONTAINERS:
        raise ValueError(f"{what} holds more than {_MAX_JSON_CONTAINERS} JSON lists and "
                         "objects")


def _parse_json(raw, what):
    """JSON within the bounds of :func:`_check_json_bounds`, parsed."""
    _check_json_bounds(raw, what)
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{what} is not valid JSON ({exc})") from None


def _manifest_signature(manifest):
    """``{name: (dtype, shape)}`` of the header's manifest, each entry checked."""
    if type(manifest) is not dict:
        raise ValueError("the tensor manifest is not a mapping")
    signature = {}
    for name, entry in manifest.items():
        if type(entry) is not dict:
            raise ValueError(f"bad manifest entry {name!r}")
        signature[name] = (_choice(entry["dtype"], set(_TENSOR_DTYPES)),
                           _sizes(entry["shape"], f"tensor {name!r}"))
    return signature


def _sizes(shape, what):
    shape = tuple(_list(shape))
    if not all(type(n) is int and n >= 0 for n in shape):
        raise ValueError(f"bad shape {list(shape)} of {what}")
    return shape


def _n_bytes(signature):
    return sum(math.prod(shape) * _TENSOR_DTYPES[dtype].itemsize
               for dtype, shape in signature.values())


def _differences(expected, found):
    wrong = sorted(k for k in set(expected) | set(found) if expected.get(k) != found.get(k))
    return ", ".join(f"{k}: expected {expected.get(k)}, found {found.get(k)}"
                     for k in wrong[:3])


def _check_declared_tensors(weights_format, data, expected):
    """A ValueError unless the tensor file declares the manifest's tensors and holds
    their bytes, checked from its index alone, before any tensor is made."""
    if weights_format == "safetensors":
        declared = _safetensors_signature(data)
        if declared != expected:
            raise ValueError(f"the tensors do not match the manifest "
                             f"({_differences(expected, declared)})")
        return
    # torch.save's zip format reads each storage from a member of its own; the legacy
    # format allocates storages of the size it declares before reading them.
    if not data.startswith(b"PK\x03\x04"):
        raise ValueError("the tensors are not in torch's zip format")
    if _n_bytes(expected) > len(data):
        raise ValueError(f"the manifest's tensors need {_n_bytes(expected)} bytes, the "
                         f"tensor file holds {len(data)}")
    with zipfile.ZipFile(io.BytesIO(data)) as inner:
        _check_members(inner, len(data))


#: safetensors' dtype names, for the dtypes skvae stores.
_SAFETENSORS_DTYPES = {"F16": "float16", "BF16": "bfloat16", "F32": "float32",
                       "F64": "float64", "I8": "int8", "I16": "int16", "I32": "int32",
                       "I64": "int64", "U8": "uint8", "BOOL": "bool"}


def _safetensors_signature(data):
    """``{name: (dtype, shape)}`` a safetensors file declares, each checked to lie
    within the file (its 8-byte length, its JSON index, then the tensors' bytes)."""
    length = int.from_bytes(data[:8], "little")
    if len(data) < 8 or length > min(len(data) - 8, _MAX_HEADER_BYTES):
        raise ValueError("the tensors are not a valid safetensors file (bad index length)")
    index = _parse_json(data[8 : 8 + length], "the safetensors index")
    if type(index) is not dict:
        raise ValueError("the safetensors index is not a mapping")
    index.pop("__metadata__", None)
    signature, room = {}, len(data) - 8 - length
    for name, entry in index.items():
        if type(entry) is not dict or entry.get("dtype") not in _SAFETENSORS_DTYPES:
            raise ValueError(f"bad safetensors entry {name!r}")
        dtype = _SAFETENSORS_DTYPES[entry["dtype"]]
        shape = _sizes(entry["shape"], f"tensor {name!r}")
        offsets = _list(entry["data_offsets"])
        if not (len(offsets) == 2 and all(type(n) is int for n in offsets)
                and 0 <= offsets[0] <= offsets[1] <= room
                and offsets[1] - offsets[0]
                == math.prod(shape) * _TENSOR_DTYPES[dtype].itemsize):
            raise ValueError(f"the safetensors entry {name!r} claims bytes the file does "
                             "not hold")
        signature[name] = (dtype, shape)
    return signature


def _read_tensors(weights_format, data):
    if weights_format == "safetensors":
        safetensors = _import_safetensors()
        if safetensors is None:
            raise ValueError("its tensors are in the safetensors format; install the "
                             "safetensors package (pip install safetensors) to load it")
        try:
            tensors = safetensors.load(data)
        except Exception as exc:
            raise ValueError(f"the tensors are not a valid safetensors file ({exc})") from None
    else:
        try:
            tensors = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValueError(
                f"the tensors are not a plain tensor file; torch.load(weights_only=True) "
                f"refused them ({message})"
            ) from None
    if type(tensors) is not dict or not all(
            type(k) is str and type(v) is torch.Tensor for k, v in tensors.items()):
        raise ValueError("the tensor file does not hold a flat mapping of names to tensors")
    return tensors


def _rebuild(header, tensors):
    name = header["class"]
    if type(name) is not str or name not in _CLASSES:
        raise ValueError(f"class {name!r} is not one of {sorted(_CLASSES)}")
    cls = _CLASSES[name]
    decoder = _Decoder(tensors)
    params = header["params"]
    if type(params) is not dict:
        raise ValueError("params is not a mapping")
    estimator = cls()
    known = estimator.get_params(deep=False)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ValueError(f"unknown parameters {unknown} for {name}")
    estimator.set_params(**{k: decoder.decode(v) for k, v in params.items()})
    try:
        estimator._validate_params()
    except ValueError as exc:
        raise ValueError(f"invalid parameters: {' '.join(str(exc).split())}") from None
    if not (isinstance(estimator.device, str) and estimator.device == "auto"):
        check_device_type(estimator.device, "device")

    attributes = header["attributes"]
    if type(attributes) is not dict:
        raise ValueError("attributes is not a mapping")
    fitted = cls._fitted_attributes | (_VERSION_1_ATTRIBUTES
                                       if header["format_version"] == 1 else set())
    modules = {}
    for attr, node in attributes.items():
        _check_attribute_name(cls, attr)
        if attr not in fitted:
            raise ValueError(f"attribute {attr!r} is not a fitted attribute of {name}")
        if attr in known:
            raise ValueError(f"attribute {attr!r} clashes with a parameter")
        if type(node) is dict and node.get("type") == "module":
            modules[attr] = node
        else:
            setattr(estimator, attr, decoder.decode(node))
    if header["format_version"] == 1:
        _upgrade_version_1(estimator)
    # The modules last: they are built from the fitted parts.
    for attr, node in modules.items():
        setattr(estimator, attr, _decode_module(estimator, attr, node, decoder))
    _check_fitted_state(estimator)
    unused = set(tensors) - decoder.used
    if unused:
        raise ValueError(f"tensors {sorted(unused)[:3]} are not referred to by the header")
    # Finish as unpickling would, with the state built above: the estimator moves its
    # module to a device this machine has and rebuilds what __getstate__ left out.
    # The version was checked against the header already.
    estimator.__setstate__({**vars(estimator), "_skvae_version": __version__})
    return estimator


#: Attributes of format version 1 that :func:`_upgrade_version_1` replaces.
_VERSION_1_ATTRIBUTES = frozenset({"_x_loc", "_x_scale"})


def _upgrade_version_1(estimator):
    """Version 1 stored the standardisation as two arrays; version 2 as one value."""
    state = vars(estimator)
    if "_x_loc" in state or "_x_scale" in state:
        loc, scale = state.pop("_x_loc", None), state.pop("_x_scale", None)
        node = {"type": "standardizer", "loc": loc, "scale": scale}
        decoder = _Decoder({})
        decoder.decode = lambda value: value  # the arrays are decoded already
        estimator._standardizer = decoder._decode_standardizer(node)


def _version_1_config(estimator):
    """The module config a version 1 file implies (it stored none: VAEModule only)."""
    classes = getattr(estimator, "classes_", None)
    return {"n_features": int(estimator._n_columns),
            "n_components": int(estimator.n_components),
            "hidden_layer_sizes": estimator._hidden_layer_sizes(),
            "n_conditions": 0 if classes is None else len(classes),
            "impute_missing": bool(getattr(estimator.likelihood_, "handles_missing", False))}


def _decode_module(estimator, attr, node, decoder):
    if attr != "module_":
        raise ValueError(f"a torch module may only be stored as module_, not {attr!r}")
    if "class" in node:  # format 2
        name = _choice(node["class"], set(MODULES))
        config = decoder.decode(node["config"])
        if type(config) is not dict:
            raise ValueError("the module config is not a mapping")
        if type(config.get("hidden_layer_sizes")) is list:
            config["hidden_layer_sizes"] = tuple(config["hidden_layer_sizes"])
        cls = estimator._module_type(config)
        if name != cls.__name__:
            raise ValueError(f"{type(estimator).__name__} with this config needs a "
                             f"{cls.__name__}, not a {name}")
    else:
        config = _version_1_config(estimator)
        cls = type(estimator)._module_class
    _check_module_config(cls, config)
    keys = node["state"]
    if type(keys) is not dict:
        raise ValueError("the module state is not a mapping")
    state = {k: decoder.tensor(v) for k, v in keys.items()}
    expected = _module_signature(cls, config, estimator)
    found = _tensor_signature(state)
    if expected != found:
        wrong = sorted(k for k in set(expected) | set(found) if expected.get(k) != found.get(k))
        details = ", ".join(f"{k}: the model needs {expected.get(k)}, the file has "
                            f"{found.get(k)}" for k in wrong[:3])
        raise ValueError(f"the weights do not fit the model ({details})")
    for key, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ValueError(f"the weight {key!r} holds NaN or infinite values (a model "
                             "skvae fits never does: the file is damaged or was altered)")
    module = _new_module(cls, config, estimator)
    module.load_state_dict(state, strict=True)
    module.train(bool(node["training"]))
    estimator._module_config = config
    return module


def _check_fitted_state(estimator):
    """Fitted values that must agree with the module: device, standardisation, sizes,
    classes, optimiser state."""
    if "module_" not in vars(estimator):
        return
    if type(vars(estimator).get("_device")) is not torch.device:
        raise ValueError("the fitted device (_device) is not a torch device")
    _check_sizes_agree(estimator)
    n_columns = estimator._module_config["n_features"]
    standardizer = getattr(estimator, "_standardizer", None)
    if type(standardizer) is not Standardizer or standardizer.loc.shape != (n_columns,):
        raise ValueError(f"the standardisation does not fit the model's {n_columns} columns")
    if getattr(estimator, "_n_columns", n_columns) != n_columns:
        raise ValueError(f"_n_columns is {estimator._n_columns}, the model has {n_columns}")
    state = getattr(estimator, "_optimizer_state", None)
    if state is not None and not fits_groups(state, estimator.module_):
        # Sound (else this raises) but made for an earlier grouping of the parameters,
        # in their module order: its moments cannot serve today's optimiser.
        _check_optimizer_state(state, list(estimator.module_.parameters()))
        warnings.warn(STALE_OPTIMIZER_STATE, InconsistentVersionWarning, stacklevel=3)
        estimator._optimizer_state = None
        return
    # in the optimiser's order: its state numbers the parameters group by group
    _check_optimizer_state(state, [p for _, group in parameter_groups(estimator.module_)
                                   for p in group])


def _check_sizes_agree(estimator):
    """The input width, column names, table schema and classes fit the module."""
    config = estimator._module_config
    schema = vars(estimator).get("_schema")
    n_inputs = config["n_features"]
    if schema is not None:
        if type(schema) is not TableSchema or sum(w for _, w in schema.blocks) != n_inputs:
            raise ValueError(f"the table schema does not encode the model's {n_inputs} "
                             "columns")
        if estimator.likelihood_ != MixedLikelihood(schema.blocks):
            raise ValueError("the likelihood does not match the table schema")
        n_inputs = len(schema.columns)
    if type(vars(estimator).get("n_features_in_")) is not int \
            or estimator.n_features_in_ != n_inputs:
        raise ValueError(f"n_features_in_ is {vars(estimator).get('n_features_in_')!r}, "
                         f"the model reads {n_inputs} columns")
    names = vars(estimator).get("feature_names_in_")
    if names is not None and not (type(names) is np.ndarray and names.shape == (n_inputs,)):
        raise ValueError(f"feature_names_in_ does not name the model's {n_inputs} columns")
    n_classes = config.get("n_classes", config.get("n_conditions", 0))
    classes = vars(estimator).get("classes_")
    if (classes is None and n_classes) or (classes is not None and not (
            type(classes) is np.ndarray and classes.shape == (n_classes,))):
        raise ValueError(f"classes_ does not hold the model's {n_classes} classes")
    prior = vars(estimator).get("class_prior_")
    if prior is not None and not (type(prior) is np.ndarray and prior.shape == (n_classes,)
                                  and np.all(prior >= 0) and np.isclose(prior.sum(), 1)):
        raise ValueError(f"class_prior_ is not a distribution over {n_classes} classes")


#: Adam's per-parameter tensors, shaped like the parameter.
_MOMENTS = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")


def _check_optimizer_state(state, parameters):
    """A ValueError unless ``state`` is an Adam state dict for exactly ``parameters``.

    The optimiser's fused kernel writes into these tensors without checking their
    shapes, so a tampered state would corrupt memory at the next ``partial_fit``.
    """
    if state is None:
        return
    if type(state) is not dict or set(state) != {"state", "param_groups"}:
        raise ValueError("the optimiser state is not an Adam state dict")
    groups = _list(state["param_groups"])
    indices = [i for group in groups for i in _list(group.get("params") if type(group) is dict
                                                    else None)]
    if indices != list(range(len(parameters))):
        raise ValueError(f"the optimiser state covers parameters {indices[:5]}..., the "
                         f"model has {len(parameters)}")
    per_parameter = state["state"]
    if type(per_parameter) is not dict:
        raise ValueError("the optimiser state is not a mapping")
    for index, entry in per_parameter.items():
        if type(index) is not int or not 0 <= index < len(parameters) or type(entry) is not dict:
            raise ValueError(f"the optimiser state has a bad entry {index!r}")
        parameter = parameters[index]
        for key, value in entry.items():
            if key in _MOMENTS:
                ok = (type(value) is torch.Tensor and value.shape == parameter.shape
                      and value.dtype == parameter.dtype)
            elif key == "step":
                ok = type(value) is torch.Tensor and value.numel() == 1 \
                    and value.is_floating_point()
            else:
                ok = False
            if not ok:
                raise ValueError(f"the optimiser state of parameter {index} has a bad "
                                 f"{key!r}: it does not fit the parameter's shape "
                                 f"{tuple(parameter.shape)}")
