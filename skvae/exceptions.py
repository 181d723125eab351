"""Public exceptions and warnings of skvae."""

# License: BSD 3 clause

__all__ = ["InconsistentVersionWarning", "NonFiniteLossError"]


class NonFiniteLossError(ValueError):
    """The training loss, or a trained weight, became NaN or infinite.

    A subclass of ValueError: the data or the parameters cannot be fitted as given
    (the message names the likely causes). A previously fitted model is unchanged.

    Examples
    --------
    >>> issubclass(NonFiniteLossError, ValueError)
    True
    """


class InconsistentVersionWarning(UserWarning):
    """A pickled or saved model was made by another skvae version than the one loading it."""
