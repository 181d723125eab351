"""Every private scikit-learn import lives here, so a new release breaks one file."""

# License: BSD 3 clause

from sklearn.base import _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, validate_data

__all__ = ["HasMethods", "Interval", "RegistryOptions", "StrOptions", "_check_sample_weight",
           "_fit_context", "validate_data"]


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
