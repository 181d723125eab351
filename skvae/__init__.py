"""skvae: variational autoencoders as scikit-learn estimators, on PyTorch."""

# License: BSD 3 clause

from ._classifier import VAEClassifier
from ._generator import VAEGenerator
from ._imputer import VAEImputer
from ._persistence import load, save
from ._transformer import VAETransformer
from ._version import __version__
from .exceptions import InconsistentVersionWarning, NonFiniteLossError

__all__ = [
    "InconsistentVersionWarning",
    "NonFiniteLossError",
    "VAEClassifier",
    "VAEGenerator",
    "VAEImputer",
    "VAETransformer",
    "__version__",
    "load",
    "save",
]
