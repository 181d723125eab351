"""Every private scikit-learn import lives here, so a new release breaks one file."""

# License: BSD 3 clause

from numbers import Integral

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import (
    _check_feature_names_in,
    _check_sample_weight,
    validate_data,
)

__all__ = ["Count", "HasMethods", "Interval", "RegistryOptions", "StrOptions",
           "_check_feature_names_in", "_check_sample_weight", "_fit_context",
           "validate_data"]


class Count(Interval):
    """Integers from ``left`` up (a size, a number of epochs), bools excluded.

    ``Interval(Integral, ...)`` takes True for 1, since bool is an Integral; a flag
    passed where a size is expected is a slip, not a size.
    """

    def __init__(self, left):
        super().__init__(Integral, left, None, closed="left")

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)

    def __str__(self):
        return f"an int (not a bool) in the range [{self.left}, inf)"


class RegistryOptions(StrOptions):
    """The names in a registry, read when validating rather than when defined.

    A part registered after skvae was imported (a user's own likelihood) is then
    accepted by name, like the built-in ones.
    """

    def __init__(self, registry, extra=()):
        self.registry, self.extra = registry, frozenset(extra)
        super().__init__(set(registry) | self.extra)

    @property
    def options(self):
        return set(self.registry) | self.extra

    @options.setter
    def options(self, value):
        # Set once by StrOptions.__init__; the live registry answers afterwards.
        pass
