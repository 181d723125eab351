"""skvae: variational autoencoders as scikit-learn estimators, on PyTorch."""

# License: BSD 3 clause

from ._classifier import VAEClassifier
from ._cvaegan import CVAEGAN
from ._generator import VAEGenerator
from ._hierarchical import HierarchicalVAETransformer
from ._imputer import VAEImputer
from ._persistence import load, save
from ._transformer import VAETransformer
from ._vaegan import VAEGAN
from ._version import __version__
from ._vq_transformer import VQVAETransformer
from .exceptions import InconsistentVersionWarning, NonFiniteLossError

__all__ = [
    "CVAEGAN",
    "HierarchicalVAETransformer",
    "InconsistentVersionWarning",
    "NonFiniteLossError",
    "VAEClassifier",
    "VAEGAN",
    "VAEGenerator",
    "VAEImputer",
    "VAETransformer",
    "VQVAETransformer",
    "__version__",
    "load",
    "save",
]
