"""The full-covariance posterior head: its start, its parameterisation, what it can fit.

The comparison of held-out ELBOs with the diagonal posterior on data with correlated
true posteriors takes minutes; it is ``python -m benchmarks.full_posterior``.
"""

import numpy as np
import torch

from skvae._module import init_weights
from skvae.posteriors import get_posterior


def _correlation(q):
    cov = q.covariance_matrix
    sd = cov.diagonal(dim1=-2, dim2=-1).sqrt()
    return cov / sd[..., :, None] / sd[..., None, :]


def test_full_posterior_starts_as_the_diagonal_one():
    head = get_posterior("full").head(6, 4)
    init_weights(head, torch.Generator().manual_seed(0))
    q = head(torch.randn(10, 6, generator=torch.Generator().manual_seed(1)))
    covariance = q.covariance_matrix.detach()
    assert torch.count_nonzero(covariance - torch.diag_embed(covariance.diagonal(0, 1, 2))) == 0


def test_correlations_do_not_depend_on_the_posterior_scale():
    head = get_posterior("full").head(3, 3).double()
    h = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        head.off_diagonal.bias.copy_(torch.tensor([0.7, -1.5, 0.3]))
        wide = head(h)
        head.linear.bias[3:] -= 6.0  # every scale about 400 times smaller
        narrow = head(h)
    assert bool((narrow.stddev < wide.stddev / 100).all())
    np.testing.assert_allclose(_correlation(narrow), _correlation(wide), atol=1e-12)
