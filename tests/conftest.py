"""Test settings: one torch thread keeps the suite fast on small CI machines."""

import numpy as np
import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed_global_generators():
    """Seed torch's and numpy's global generators before every test.

    Objects built outside an estimator (layers, heads) draw from the global generators;
    seeded here, a test sees the same numbers whichever tests ran before it in the same
    pytest-xdist worker.
    """
    torch.manual_seed(0)
    np.random.seed(0)
