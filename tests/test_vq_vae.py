"""VQVAETransformer: the codebook, the code prior, the score and the estimator contract."""

import itertools
import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.utils import estimator_checks as ec
from sklearn.utils.estimator_checks import parametrize_with_checks

from skvae import VQVAETransformer, load, save
from skvae._code_prior import AutoregressiveCodePrior
from skvae._codebook import Codebook, perplexity

torch.set_num_threads(1)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CHEAP = dict(n_positions=2, n_codes=4, embedding_dim=2, hidden_layer_sizes=(8,),
             prior_layer_sizes=(8,), max_iter=5, device="cpu")


def expected_failed_checks(estimator):
    return {
        "check_sample_weight_equivalence_on_dense_data": (
            "integer weights and repeated rows give the same objective but other "
            "minibatches, so the fits agree in distribution, not to 1e-7"
        ),
    }


@parametrize_with_checks([VQVAETransformer(**CHEAP),
                          VQVAETransformer(**{**CHEAP, "n_top_positions": 1})],
                         expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("check", [
    ec.check_set_output_transform,
    ec.check_set_output_transform_pandas,
    ec.check_transformer_get_feature_names_out,
    ec.check_get_feature_names_out_error,
    ec.check_param_validation,
    ec.check_dataframe_column_names_consistency,
], ids=lambda c: c.__name__)
def test_extra_sklearn_checks(check):
    check("VQVAETransformer", VQVAETransformer(**CHEAP))


@pytest.fixture(scope="module")
def digits():
    X, _ = load_digits(return_X_y=True)
    return X[:300] / 16.0


@pytest.fixture(scope="module", params=[0, 1], ids=["one_level", "two_levels"])
def tiny(digits, request):
    """A tiny model over 3 codes at 2 positions in all (one or two levels): its 9 code
    rows can be enumerated."""
    return VQVAETransformer(n_positions=2 - request.param, n_top_positions=request.param,
                            n_codes=3, embedding_dim=2, hidden_layer_sizes=(16,),
                            max_iter=15, device="cpu", random_state=0).fit(digits)


# ------------------------------------------------------------------------- codebook
def test_nearest_code_agrees_with_brute_force():
    book = Codebook(7, 3)
    book.init_from(torch.Generator().manual_seed(0))
    z = torch.randn(50, 3, generator=torch.Generator().manual_seed(1)) * 0.2
    expected = torch.cdist(z, book.embeddings).argmin(-1)
    assert torch.equal(book.nearest(z), expected)


def test_ema_update_without_memory_moves_used_codes_to_their_means():
    book = Codebook(4, 2)
    book.init_from(torch.Generator().manual_seed(0))
    z = torch.tensor([[1.0, 0.0], [3.0, 2.0], [-1.0, -1.0]])
    codes = torch.tensor([0, 0, 2])
    book.ema_update(z, codes, decay=0.0)
    torch.testing.assert_close(book.embeddings[0], torch.tensor([2.0, 1.0]), rtol=1e-4, atol=0)
    torch.testing.assert_close(book.embeddings[2], torch.tensor([-1.0, -1.0]), rtol=1e-4, atol=0)


def test_restart_puts_dead_codes_on_candidates():
    book = Codebook(5, 2)
    book.init_from(torch.Generator().manual_seed(0))
    candidates = torch.randn(6, 2, generator=torch.Generator().manual_seed(1)) + 10
    book.restart(torch.tensor([1, 3]), candidates, torch.Generator().manual_seed(2))
    for k in (1, 3):
        assert (book.embeddings[k] == candidates).all(dim=1).any()
    assert (book.embeddings[[0, 2, 4]].abs() <= 1 / 5).all()  # the others untouched


def test_perplexity_counts_codes_in_equal_use():
    assert perplexity(torch.tensor([3.0, 3.0, 3.0, 0.0])) == pytest.approx(3.0)
    assert perplexity(torch.tensor([0.0, 9.0])) == pytest.approx(1.0)


# ------------------------------------------------------------------------ code prior
def _all_rows(n_positions, n_codes):
    return torch.tensor(list(itertools.product(range(n_codes), repeat=n_positions)))


@pytest.mark.parametrize("layer_sizes", [(), (5,), (6, 4)])
def test_code_prior_is_a_normalised_distribution(layer_sizes):
    prior = AutoregressiveCodePrior(3, 3, layer_sizes)
    torch.nn.init.normal_(prior.layers[-1].bias)
    total = torch.logsumexp(prior.log_prob(_all_rows(3, 3)), 0)
    torch.testing.assert_close(total, torch.tensor(0.0), atol=1e-5, rtol=0)


def test_code_prior_is_autoregressive():
    prior = AutoregressiveCodePrior(4, 3, (16, 16))
    for layer in prior.layers:
        torch.nn.init.normal_(layer.weight)
    onehot = torch.zeros(1, 12, requires_grad=True)
    h = onehot
    for layer in prior.layers[:-1]:
        h = torch.relu(layer(h) + 1.0)  # shifted so every unit passes a gradient
    logits = prior.layers[-1](h).reshape(4, 3)
    for i in range(4):
        (grad,) = torch.autograd.grad(logits[i].sum(), onehot, retain_graph=True)
        grad = grad.reshape(4, 3).abs().sum(-1)
        assert (grad[i:] == 0).all()  # nothing from this position or later
        assert i == 0 or (grad[:i] > 0).all()  # everything from earlier ones


def test_code_prior_samples_follow_its_probabilities():
    prior = AutoregressiveCodePrior(2, 3, (8,))
    prior.layers[-1].bias.data = torch.linspace(-1, 1, 6)
    for layer in prior.layers:
        torch.nn.init.normal_(layer.weight, generator=torch.Generator().manual_seed(0))
    rows = _all_rows(2, 3)
    expected = prior.log_prob(rows).exp().detach()
    drawn = prior.sample(20000, torch.Generator().manual_seed(0))
    freq = torch.stack([(drawn == r).all(1).float().mean() for r in rows])
    assert (freq - expected).abs().max() < 0.015  # 4 standard errors at most


# ----------------------------------------------------------------------------- score
def test_score_is_the_log_joint_of_the_chosen_codes(tiny, digits):
    X = digits[:20]
    codes = torch.as_tensor(tiny.transform_codes(X))
    module = tiny._module64
    x = tiny._standardizer.to_tensor(X, torch.float64, "cpu")
    z = torch.as_tensor(tiny.embed_codes(codes.numpy()))
    with torch.no_grad():
        expected = (module.decode(z).log_prob(x) + module.code_prior.log_prob(codes)
                    + tiny._standardizer.log_jacobian_rows(x))
    np.testing.assert_allclose(tiny.score_samples(X), expected.numpy(), rtol=1e-9)


def test_score_is_a_lower_bound_on_the_model_log_likelihood(tiny, digits):
    X = digits[:20]
    rows = _all_rows(2, 3)
    module = tiny._module64
    x = tiny._standardizer.to_tensor(X, torch.float64, "cpu")
    with torch.no_grad():
        z = module.embed(rows)
        log_joint = (module.decode(z[:, None]).log_prob(x)  # (9 code rows, n)
                     + module.code_prior.log_prob(rows)[:, None])
    log_px = torch.logsumexp(log_joint, 0) + tiny._standardizer.log_jacobian_rows(x)
    score = tiny.score_samples(X)
    assert np.all(score <= log_px.numpy() + 1e-9)


def test_learned_prior_beats_a_uniform_one_on_the_training_codes(tiny, digits):
    codes = torch.as_tensor(tiny.transform_codes(digits))
    with torch.no_grad():
        log_prior = tiny._module64.code_prior.log_prob(codes).mean()
    assert float(log_prior) > -2 * np.log(3)


def test_score_does_not_depend_on_batch_or_order(tiny, digits):
    full = tiny.score_samples(digits[:30])
    np.testing.assert_array_equal(tiny.score_samples(digits[:30][::-1])[::-1], full)
    np.testing.assert_array_equal(tiny.score_samples(digits[5:6]), full[5:6])


# ------------------------------------------------------------------------- transform
def test_transform_is_the_embedding_of_the_codes(tiny, digits):
    Z = tiny.transform(digits[:25])
    assert Z.shape == (25, 4)
    np.testing.assert_allclose(Z, tiny.embed_codes(tiny.transform_codes(digits[:25])))
    assert set(np.unique(tiny.transform_codes(digits))) <= {0, 1, 2}


def test_float32_stays_float32(tiny, digits):
    X = digits[:10].astype(np.float32)
    assert tiny.transform(X).dtype == np.float32
    assert tiny.inverse_transform(tiny.transform(X)).dtype == np.float32


def test_codebook_use_is_recorded_per_epoch(tiny):
    assert len(tiny.perplexity_curve_) == len(tiny.dead_codes_curve_) == tiny.n_iter_
    assert all(1.0 <= p <= 3.0 + 1e-9 for p in tiny.perplexity_curve_)
    levels = 1 + (tiny.n_top_positions > 0)
    assert 0 <= tiny.n_dead_codes_ <= 3 * levels and 1.0 <= tiny.perplexity_ <= 3.0 + 1e-9
    assert (tiny.top_perplexity_ is None) == (levels == 1)


def test_dead_codes_are_restarted(digits):
    # Far more codes than 40 rows of 1 position can use: restarts must happen.
    est = VQVAETransformer(n_positions=1, n_codes=64, embedding_dim=2, hidden_layer_sizes=(8,),
                           max_iter=3, early_stopping=False, device="cpu", random_state=0)
    before = est.fit(digits[:40]).codebook_
    est.set_params(max_iter=2, warm_start=True)  # restarts come between epochs
    dead = np.flatnonzero(np.bincount(est.transform_codes(digits[:40])[:, 0], minlength=64) == 0)
    after = est.fit(digits[:40]).codebook_
    assert est.dead_codes_curve_[-1] >= 64 - 40
    assert len(est.dead_codes_curve_) == 5  # the warm start continued the curve
    assert not np.allclose(before[dead], after[dead])


def test_top_level_codes_condition_the_bottom_level(digits):
    est = VQVAETransformer(**{**CHEAP, "n_top_positions": 1, "random_state": 0}).fit(digits[:60])
    module = est._module64
    x = est._standardizer.to_tensor(digits[:5], torch.float64, "cpu")
    top, bottom = module.levels(x)
    assert top[0] is module.top_codebook and bottom[0] is module.codebook
    # The bottom encoder reads the top code vectors: other top codes, other outputs.
    h = module.encoder(x)
    shifted = torch.cat([h, top[3].flatten(1) + 1.0], -1)
    assert not torch.allclose(module.to_vectors(shifted),
                              module.to_vectors(torch.cat([h, top[3].flatten(1)], -1)))
    # The codes and vectors list the top level first.
    codes = est.transform_codes(digits[:5])
    np.testing.assert_array_equal(codes[:, :1], top[2].numpy())
    np.testing.assert_allclose(est.transform(digits[:5])[:, :2], top[3].flatten(1).numpy())


def test_partial_fit_continues_the_curves(digits):
    est = VQVAETransformer(**{**CHEAP, "random_state": 0})
    est.partial_fit(digits[:50]).partial_fit(digits[50:100])
    assert est.n_iter_ == 2 and len(est.perplexity_curve_) == 2


def test_sample_is_reproducible_and_in_the_data_width(tiny):
    a, b = tiny.sample(5, random_state=3), tiny.sample(5, random_state=3)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (5, 64) and np.isfinite(a).all()
    codes = tiny.sample_codes(50, random_state=0)
    assert codes.shape == (50, 2) and codes.min() >= 0 and codes.max() <= 2


# ----------------------------------------------------------------------- persistence
def test_save_load_and_pickle_round_trip(tiny, digits, tmp_path):
    save(tiny, tmp_path / "vq.skvae")
    for loaded in (load(tmp_path / "vq.skvae"), pickle.loads(pickle.dumps(tiny))):
        assert type(loaded) is VQVAETransformer
        np.testing.assert_array_equal(loaded.transform(digits[:10]), tiny.transform(digits[:10]))
        np.testing.assert_array_equal(loaded.score_samples(digits[:10]),
                                      tiny.score_samples(digits[:10]))
        np.testing.assert_array_equal(loaded.sample(4, random_state=0),
                                      tiny.sample(4, random_state=0))
        assert loaded.perplexity_curve_ == tiny.perplexity_curve_
        assert loaded.n_dead_codes_ == tiny.n_dead_codes_


# ------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("codes, match", [
    ([[0, 3]], r"\[0, 2\]"),
    ([[0, -1]], r"\[0, 2\]"),
    ([[0, 1, 2]], "shape"),
    ([[0.5, 1]], "integers"),
])
def test_embed_codes_refuses_bad_codes(tiny, codes, match):
    with pytest.raises(ValueError, match=match):
        tiny.embed_codes(codes)


@pytest.mark.parametrize("params, match", [
    (dict(n_codes=0), "n_codes"),
    (dict(decay=1.0), "decay"),
    (dict(prior_layer_sizes=(4, True)), "prior_layer_sizes"),
    (dict(n_top_positions=-1), "n_top_positions"),
])
def test_bad_parameters_raise_before_fitting(digits, params, match):
    with pytest.raises(ValueError, match=match):
        VQVAETransformer(**{**CHEAP, **params}).fit(digits[:20])
