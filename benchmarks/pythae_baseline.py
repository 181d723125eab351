"""pythae's VAE trainer on the same network as :mod:`benchmarks.baselines`.

pythae is optional (``pip install pythae``); :func:`unavailable` says why it cannot
run, and the throughput area then records the comparison as not run.
"""

# License: BSD 3 clause

import contextlib
import io
import logging

import torch

from .baselines import mlp


def unavailable():
    """None when pythae imports, else the reason it does not.

    Returns
    -------
    reason : str or None
    """
    try:
        import pythae  # noqa: F401
    except Exception as exc:  # any import failure means "cannot compare"
        return "not installed" if isinstance(exc, ModuleNotFoundError) else f"import failed: {exc}"
    return None


@contextlib.contextmanager
def _quiet():
    # pythae logs each epoch at INFO through handlers made at import time and draws
    # tqdm bars on sys.stderr; neither belongs in the benchmark's output.
    logging.disable(logging.INFO)
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logging.disable(logging.NOTSET)


def fit_pythae(X, *, hidden_layer_sizes, n_components, batch_size, epochs, lr, device,
               output_dir):
    """Train pythae's ``VAE`` with ``BaseTrainer``, as its documentation shows.

    The encoder and decoder are the same MLPs as :class:`benchmarks.baselines.PlainVAE`;
    pythae's Bernoulli loss (``reconstruction_loss="bce"``) takes probabilities, so the
    decoder ends in a sigmoid. Timing includes what pythae's ``train`` always does:
    the sanity-check forward pass, a copy of the best model per improving epoch and
    saving the final model to ``output_dir``.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features), float32
        In host memory; pythae's DataLoader copies batches to the device.
    hidden_layer_sizes : tuple of int
    n_components, batch_size, epochs : int
    lr : float
    device : torch.device
    output_dir : str
        Where pythae writes its model.

    Returns
    -------
    model : pythae.models.VAE
    """
    from pythae.data.datasets import BaseDataset
    from pythae.models import VAE, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from pythae.trainers import BaseTrainer, BaseTrainerConfig

    hidden = list(hidden_layer_sizes)

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.net = mlp([X.shape[1], *hidden, 2 * n_components])

        def forward(self, x):
            mu, log_var = self.net(x).chunk(2, dim=-1)
            return ModelOutput(embedding=mu, log_covariance=log_var)

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.net = mlp([n_components, *reversed(hidden), X.shape[1]])

        def forward(self, z):
            return ModelOutput(reconstruction=torch.sigmoid(self.net(z)))

    config = VAEConfig(input_dim=(X.shape[1],), latent_dim=n_components,
                       reconstruction_loss="bce")
    model = VAE(config, encoder=Encoder(), decoder=Decoder())
    training = BaseTrainerConfig(
        output_dir=output_dir, num_epochs=epochs, per_device_train_batch_size=batch_size,
        learning_rate=lr, optimizer_cls="Adam", no_cuda=device.type != "cuda",
    )
    with _quiet():
        trainer = BaseTrainer(model=model, train_dataset=BaseDataset(X, torch.zeros(len(X))),
                              training_config=training)
        trainer.train()
    return model
