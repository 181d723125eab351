"""Randomness: fixed quasi-Monte-Carlo draws for scores, seeds from the estimator's RNG.

Scores use the same fixed draws for every row (:func:`score_noise`), so a row's value
does not depend on the batch it comes in; training draws its noise from the
estimator's own ``torch.Generator``, seeded from its ``RandomState``.
"""

# License: BSD 3 clause

import numpy as np
import torch

#: Draws of the reparameterisation noise behind each ``score_samples`` value: 8
#: scrambled-Sobol points and their negatives (antithetic pairs).
SCORE_DRAWS = 16

#: Draws behind the per-epoch validation score of early stopping (one antithetic pair).
VALIDATION_DRAWS = 2

_INT64_MAX = np.iinfo(np.int64).max


def draw_seed(rng):
    """A seed for a torch generator, drawn from the numpy ``RandomState`` ``rng``.

    Examples
    --------
    >>> draw_seed(np.random.RandomState(0)) == draw_seed(np.random.RandomState(0))
    True
    """
    return int(rng.randint(_INT64_MAX, dtype=np.int64))


def score_draws(n_components):
    """Number of fixed draws behind each ``score_samples`` value.

    :data:`SCORE_DRAWS` at least, and at least twice the next power of two above
    ``n_components``, so the draws can match the first two moments of N(0, I) exactly.

    Examples
    --------
    >>> score_draws(2), score_draws(8)
    (16, 32)
    """
    half = 1 << int(np.ceil(np.log2(n_components + 1)))
    return max(SCORE_DRAWS, 2 * half)


def score_noise(n_draws, n_components, dtype=torch.float64, device="cpu"):
    """Fixed standard-normal draws for deterministic ELBO estimates.

    Half are scrambled-Sobol points mapped through the normal quantile function, half
    their negatives (so the draws' mean is exactly 0); when there are more points than
    dimensions they are also whitened so their second moment is exactly the identity.
    The same draws serve every row, so a row's score does not depend on the batch or
    order it comes in. Matching the moments matters because the draws are shared: an
    error in them would shift every row's estimate the same way instead of averaging
    out; with matched moments the estimate is exact whenever log p(x|z) is quadratic
    in z (a linear-Gaussian decoder) and close for smooth decoders.

    Parameters
    ----------
    n_draws : int
        An even number.
    n_components : int
    dtype : torch.dtype, default=torch.float64
    device : str or torch.device, default="cpu"

    Returns
    -------
    noise : torch.Tensor of shape (n_draws, 1, n_components)

    Examples
    --------
    >>> noise = score_noise(16, 3)[:, 0]
    >>> bool((noise[:8] == -noise[8:]).all())
    True
    >>> bool(torch.allclose(noise.T @ noise / 16, torch.eye(3, dtype=noise.dtype)))
    True
    """
    engine = torch.quasirandom.SobolEngine(n_components, scramble=True, seed=0)
    u = engine.draw(n_draws // 2, dtype=torch.float64).clamp(1e-12, 1 - 1e-12)
    half = torch.special.ndtri(u)
    if half.shape[0] > n_components:
        second_moment = half.T @ half / half.shape[0]
        half = half @ torch.linalg.inv(torch.linalg.cholesky(second_moment)).T
    return torch.cat([half, -half]).unsqueeze(1).to(device=device, dtype=dtype)
