"""``python -m skvae``: the command line of :mod:`skvae.cli`."""

# License: BSD 3 clause

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
