"""Test settings: one torch thread keeps the suite fast on small CI machines."""

import torch

torch.set_num_threads(1)
