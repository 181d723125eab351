"""The registry shared by the swappable parts: likelihoods, priors, posteriors."""

# License: BSD 3 clause


class Part:
    """Base of the swappable parts: configuration only, compared by type and settings."""

    name = None

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self):
        return hash(type(self))


class Registry(dict):
    """Classes of one kind of part by name, with the checks every registry needs.

    Parameters
    ----------
    kind : str
        What the registry holds, for messages ("likelihood").
    base : type
        The base class its entries subclass.
    """

    def __init__(self, kind, base):
        super().__init__()
        self.kind = kind
        self.base = base

    def register(self, cls):
        """Add ``cls`` under its ``name``; returns it unchanged (a class decorator)."""
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise TypeError(f"{cls!r} is not a subclass of {self.base.__name__}.")
        if cls.name in self:
            raise ValueError(f"A {self.kind} named {cls.name!r} is already registered.")
        self[cls.name] = cls
        return cls

    def instance(self, spec):
        """An instance for a registered name, or ``spec`` itself when it is one."""
        if isinstance(spec, self.base):
            return spec
        if isinstance(spec, str) and spec in self:
            return self[spec]()
        raise ValueError(
            f"Unknown {self.kind} {spec!r}; choose one of {sorted(self)} or pass a "
            f"{self.base.__name__} instance."
        )
