"""Running out of device memory: streamed training data, smaller inference blocks, advice.

No GPU is needed: the out-of-memory errors are raised by patched functions, in the
places where a CUDA device would raise them.
"""

import numpy as np
import pytest
import torch

from skvae import VAEGenerator, VAETransformer
from skvae import _training
from skvae._module import VAEModule

# No validation rows: the chunk counts below are of the 150 training rows.
FAST = dict(hidden_layer_sizes=(16,), max_iter=4, batch_size=16, early_stopping=False,
            random_state=0, device="cpu")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    latent = rng.normal(size=(150, 2))
    return latent @ rng.normal(size=(2, 6)) + 0.1 * rng.normal(size=(150, 6))


def _no_room(tensor, device):
    raise torch.OutOfMemoryError("CUDA out of memory (simulated)")


@pytest.fixture
def device_without_room(monkeypatch):
    """Moving the training data to the device raises CUDA's out-of-memory error."""
    monkeypatch.setattr(_training, "_transfer", _no_room)
    # Chunks of two minibatches of 16 rows of 6 columns: an epoch streams several.
    monkeypatch.setattr(_training, "STREAM_CHUNK_ELEMENTS", 2 * 16 * 6)


def _weights(est):
    return {k: v.clone() for k, v in est.module_.state_dict().items()}


def test_data_too_large_for_the_device_is_streamed_with_the_same_result(data, monkeypatch):
    expected = VAETransformer(n_components=2, **FAST).fit(data)
    chunks = []
    original = _training.HostData.chunks

    def counted(self, order, rows):
        for chunk in original(self, order, rows):
            chunks.append(chunk[0].shape[0])
            yield chunk

    monkeypatch.setattr(_training.HostData, "chunks", counted)
    monkeypatch.setattr(_training, "_transfer", _no_room)
    monkeypatch.setattr(_training, "STREAM_CHUNK_ELEMENTS", 2 * 16 * 6)
    with pytest.warns(UserWarning, match="does not fit in the memory of cpu"):
        streamed = VAETransformer(n_components=2, **FAST).fit(data)
    # 150 rows in chunks of 2 minibatches of 16: 5 chunks per epoch, 4 epochs.
    assert chunks == [32, 32, 32, 32, 22] * 4
    assert streamed.loss_curve_ == expected.loss_curve_
    for name, value in _weights(expected).items():
        assert torch.equal(_weights(streamed)[name], value), name


def test_streamed_fit_with_early_stopping_matches(data, device_without_room, monkeypatch):
    params = {**FAST, "early_stopping": True, "validation_fraction": 0.4, "max_iter": 6}
    with pytest.warns(UserWarning, match="streamed to the device in chunks"):
        streamed = VAETransformer(n_components=2, **params).fit(data)
    monkeypatch.setattr(_training, "_transfer", lambda tensor, device: tensor.to(device))
    expected = VAETransformer(n_components=2, **params).fit(data)
    np.testing.assert_allclose(streamed.validation_scores_, expected.validation_scores_,
                               rtol=1e-6)
    np.testing.assert_allclose(streamed.transform(data), expected.transform(data), rtol=1e-6)


@pytest.fixture
def memory_for_rows(monkeypatch):
    """Make the module's forward passes raise out-of-memory above a number of rows."""
    def limit(n_rows, *names):
        for name in names:
            method = getattr(VAEModule, name)

            def patched(self, x, *args, _method=method, **kwargs):
                if x.shape[-2] > n_rows:  # rows (decode also gets a draws axis)
                    raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
                return _method(self, x, *args, **kwargs)

            monkeypatch.setattr(VAEModule, name, patched)

    return limit


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_inference_retries_with_smaller_blocks(data, memory_for_rows, dtype):
    est = VAETransformer(n_components=2, **FAST).fit(data)
    X = data.astype(dtype)
    Z = est.transform(X)
    expected = (Z, est.score_samples(X), est.inverse_transform(Z), est.log_likelihood(X, 20))
    memory_for_rows(7, "encode_mean", "elbo", "decode", "log_weights")
    got = (est.transform(X), est.score_samples(X), est.inverse_transform(Z),
           est.log_likelihood(X, 20))
    for value, reference in zip(got, expected):
        assert value.dtype == reference.dtype
        np.testing.assert_allclose(value, reference, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_no_room_for_a_single_row_says_what_to_do(data, memory_for_rows):
    est = VAETransformer(n_components=2, **FAST).fit(data)
    memory_for_rows(0, "encode_mean")
    with pytest.raises(torch.OutOfMemoryError, match="even for a single row.*device='cpu'"):
        est.transform(data)


@pytest.mark.parametrize("Estimator", [VAETransformer, VAEGenerator])
def test_out_of_memory_in_training_leaves_the_model_and_gives_advice(Estimator, data,
                                                                     memory_for_rows):
    est = Estimator(n_components=2, **FAST).fit(data)
    before = (_weights(est), est.transform(data), list(est.loss_curve_), est.n_iter_)
    memory_for_rows(8, "elbo_terms")
    with pytest.raises(torch.OutOfMemoryError, match="smaller batch_size"):
        est.fit(data)
    with pytest.raises(torch.OutOfMemoryError, match="unchanged"):
        est.partial_fit(data)
    assert est.n_iter_ == before[3] and est.loss_curve_ == before[2]
    assert all(torch.equal(est.module_.state_dict()[k], v) for k, v in before[0].items())
    np.testing.assert_array_equal(est.transform(data), before[1])


def test_out_of_memory_error_is_the_torch_type(data, memory_for_rows):
    # Code that already catches torch's error (or RuntimeError) keeps working.
    memory_for_rows(8, "elbo_terms")
    with pytest.raises(RuntimeError) as info:
        VAETransformer(n_components=2, **FAST).fit(data)
    assert isinstance(info.value, torch.OutOfMemoryError)
    assert "batch_size=16" in str(info.value)
