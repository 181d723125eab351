"""The training loop's optimiser: the fused Adam agrees with torch's default one."""

import copy

import numpy as np
import pytest
import torch

from skvae import VAETransformer
from skvae._training import adam


def _steps(model, optimizer, n_steps, seed=0):
    """``n_steps`` of a least-squares fit on fixed random data; returns the losses."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(64, model.in_features, generator=generator, dtype=model.weight.dtype)
    y = torch.randn(64, model.out_features, generator=generator, dtype=model.weight.dtype)
    losses = []
    for _ in range(n_steps):
        loss = (model(x) - y).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fused_adam_follows_the_default_adam(dtype):
    torch.manual_seed(0)
    model = torch.nn.Linear(7, 3).to(dtype)
    twin = copy.deepcopy(model)
    fused = adam(model.parameters(), 1e-2)
    default = torch.optim.Adam(twin.parameters(), lr=1e-2)
    assert fused.defaults["fused"] and not default.defaults["fused"]
    losses = _steps(model, fused, 50)
    reference = _steps(twin, default, 50)
    # 50 steps of lr 1e-2 move the weights by O(0.1): agreement to rounding, not chance.
    apart = (model.weight - twin.weight.detach()).abs().max()
    start = torch.nn.Linear(7, 3)  # unrelated weights are far off: the check can fail
    assert (start.weight.to(dtype) - twin.weight.detach()).abs().max() > 1e-2
    tolerance = 1e-5 if dtype == torch.float32 else 1e-12
    assert apart < tolerance
    np.testing.assert_allclose(losses, reference, rtol=tolerance)
    assert losses[-1] < 0.9 * losses[0]


def test_adam_of_no_parameters_is_torch_s_error():
    with pytest.raises(ValueError, match="empty parameter list"):
        adam([], 1e-3)


def test_estimators_train_with_the_fused_adam_and_resume_it():
    X = np.random.default_rng(0).normal(size=(80, 4))
    vae = VAETransformer(2, hidden_layer_sizes=(8,), max_iter=2, random_state=0)
    vae.partial_fit(X)
    state = vae._optimizer_state
    assert state["param_groups"][0]["fused"] is True
    steps_after_one = float(next(iter(state["state"].values()))["step"])
    vae.partial_fit(X)
    # The second epoch continues the first one's optimiser (its step count grows).
    steps_after_two = float(next(iter(vae._optimizer_state["state"].values()))["step"])
    assert steps_after_two == 2 * steps_after_one
