"""skvae: variational autoencoders as scikit-learn estimators, on PyTorch."""

# License: BSD 3 clause

from ._base import InconsistentVersionWarning
from ._generator import VAEGenerator
from ._transformer import VAETransformer
from ._version import __version__

__all__ = ["InconsistentVersionWarning", "VAEGenerator", "VAETransformer", "__version__"]
