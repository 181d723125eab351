"""The training loop's optimiser: the fused Adam agrees with torch's default one, and
parameters with a learning-rate multiplier take steps of that size."""

import copy

import numpy as np
import pytest
import torch

from skvae import VAETransformer
import skvae
from skvae._training import adam, parameter_groups


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
    fused = adam(model, 1e-2)
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
        adam(torch.nn.Module(), 1e-3)


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


class _ScaledBias(torch.nn.Linear):
    lr_multipliers = {"bias": 10.0}


def test_a_learning_rate_multiplier_scales_its_parameters_steps():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(7, 5), _ScaledBias(5, 3))
    twin = copy.deepcopy(model)
    groups = parameter_groups(model)
    # Order kept: the weights and the first bias, then the scaled bias.
    assert [(factor, [tuple(p.shape) for p in params]) for factor, params in groups] == [
        (1.0, [(5, 7), (5,), (3, 5)]), (10.0, [(3,)])]
    optimizer = adam(model, 1e-3)
    assert [g["lr"] for g in optimizer.param_groups] == [1e-3, 1e-2]
    # Independent computation: torch's own Adam with the two learning rates by hand.
    reference = torch.optim.Adam([
        {"params": [twin[0].weight, twin[0].bias, twin[1].weight], "lr": 1e-3},
        {"params": [twin[1].bias], "lr": 1e-2}])
    x, y = torch.randn(32, 7), torch.randn(32, 3)
    for net, opt in ((model, optimizer), (twin, reference)):
        for _ in range(5):
            opt.zero_grad()
            (net(x) - y).square().mean().backward()
            opt.step()
    for a, b in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    # Adam's first steps move each entry by about its learning rate: 10x for the bias.
    torch.manual_seed(0)
    fresh = torch.nn.Sequential(torch.nn.Linear(7, 5), _ScaledBias(5, 3))
    moved_bias = (model[1].bias - fresh[1].bias).abs().mean()
    moved_weight = (model[1].weight - fresh[1].weight).abs().mean()
    assert moved_bias > 5 * moved_weight


def _student_t_fit(max_iter):
    """Heavy-tailed rows and a small Student-t model trained for ``max_iter`` epochs."""
    X = np.random.default_rng(0).standard_t(3.0, size=(120, 4))
    return X, VAETransformer(2, likelihood="student_t", hidden_layer_sizes=(8,),
                             max_iter=max_iter, random_state=0, early_stopping=False).fit(X)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_student_t_noise_parameters_learn_faster_and_keep_the_ratio():
    X, vae = _student_t_fit(max_iter=3)
    groups = vae._optimizer_state["param_groups"]
    assert len(groups) == 2
    assert groups[1]["lr"] == pytest.approx(10 * groups[0]["lr"])
    head = vae.module_.likelihood
    fast = [head.raw_scale, head.raw_df]
    ordered = [p for _, group in parameter_groups(vae.module_) for p in group]
    assert [next(i for i, q in enumerate(ordered) if q is p) for p in fast] == \
        groups[1]["params"]
    # A Gaussian model keeps a single group (its saved optimiser states are unchanged).
    gauss = VAETransformer(2, hidden_layer_sizes=(8,), max_iter=1, random_state=0).fit(X)
    assert len(gauss._optimizer_state["param_groups"]) == 1


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_student_t_optimiser_state_survives_save_load_and_resumes(tmp_path):
    pytest.importorskip("safetensors")
    X, vae = _student_t_fit(max_iter=2)
    skvae.save(vae, tmp_path / "t.skvae")
    loaded = skvae.load(tmp_path / "t.skvae")  # the state check numbers groups as Adam does
    twin = copy.deepcopy(vae)
    loaded.partial_fit(X)
    twin.partial_fit(X)
    np.testing.assert_allclose(loaded.transform(X), twin.transform(X), rtol=1e-5, atol=1e-6)
    assert [g["lr"] for g in loaded._optimizer_state["param_groups"]] == \
        [g["lr"] for g in twin._optimizer_state["param_groups"]]


def _one_group_state(vae):
    """The Adam state an earlier skvae stored: every parameter in one group."""
    module = copy.deepcopy(vae.module_)
    optimizer = torch.optim.Adam(module.parameters(), lr=vae.learning_rate_init)
    module.likelihood.scale().sum().backward()
    optimizer.step()
    return optimizer.state_dict()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_partial_fit_restarts_adam_on_an_earlier_grouping_and_says_so():
    X, vae = _student_t_fit(max_iter=2)
    vae._optimizer_state = _one_group_state(vae)
    fresh = copy.deepcopy(vae)
    fresh._optimizer_state = None
    with pytest.warns(skvae.InconsistentVersionWarning, match="moments restart"):
        vae.partial_fit(X)
    fresh.partial_fit(X)
    np.testing.assert_array_equal(vae.transform(X), fresh.transform(X))
    assert len(vae._optimizer_state["param_groups"]) == 2


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_load_drops_an_earlier_grouping_s_optimiser_state_and_keeps_the_weights(tmp_path):
    pytest.importorskip("safetensors")
    X, vae = _student_t_fit(max_iter=2)
    vae._optimizer_state = _one_group_state(vae)
    skvae.save(vae, tmp_path / "old.skvae")
    with pytest.warns(skvae.InconsistentVersionWarning, match="moments restart"):
        loaded = skvae.load(tmp_path / "old.skvae")
    assert loaded._optimizer_state is None
    np.testing.assert_array_equal(loaded.transform(X), vae.transform(X))
    loaded.partial_fit(X)  # starts Adam afresh, no second warning needed
