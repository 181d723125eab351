"""pythae's VAE trainer on the same network as :mod:`benchmarks.baselines`.

pythae is optional (``pip install pythae``); :func:`unavailable` says why it cannot
run, and the throughput area then records the comparison as not run.
"""

# License: BSD 3 clause

import contextlib
import copy
import io
import logging

import torch

from skvae._module import run_layers
from skvae.posteriors import MIN_POSTERIOR_SCALE

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
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder

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

    return _train(X, Encoder(), Decoder(), n_components=n_components, batch_size=batch_size,
                  epochs=epochs, lr=lr, device=device, output_dir=output_dir)


def _train(X, encoder, decoder, *, n_components, batch_size, epochs, lr, device, output_dir):
    """pythae's ``VAE`` with Bernoulli loss on ``encoder`` and ``decoder``, trained by
    ``BaseTrainer`` with Adam."""
    from pythae.data.datasets import BaseDataset
    from pythae.models import VAE, VAEConfig
    from pythae.trainers import BaseTrainer, BaseTrainerConfig

    config = VAEConfig(input_dim=(X.shape[1],), latent_dim=n_components,
                       reconstruction_loss="bce")
    model = VAE(config, encoder=encoder, decoder=decoder)
    training = BaseTrainerConfig(
        output_dir=output_dir, num_epochs=epochs, per_device_train_batch_size=batch_size,
        learning_rate=lr, optimizer_cls="Adam", no_cuda=device.type != "cuda",
    )
    with _quiet():
        trainer = BaseTrainer(model=model, train_dataset=BaseDataset(X, torch.zeros(len(X))),
                              training_config=training)
        trainer.train()
    return model


def fit_pythae_on(X, module, *, batch_size, epochs, lr, device, output_dir):
    """Train pythae's ``VAE`` on the very layers of a fitted skvae model.

    ``module`` is a skvae ``VAEModule`` (``vae.module_``, MLP or convolutional) with a
    diagonal posterior and a Bernoulli likelihood; pythae's encoder runs its encoder
    layers and posterior map and returns the mean and log-variance, pythae's decoder
    runs its decoder layers and logit map and returns probabilities (pythae's "bce"
    loss takes probabilities). The two libraries then train the same network, so
    their times differ only by what each does around it.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features), float32
    module : skvae._module.VAEModule
        Copied; the copy is trained.
    batch_size, epochs : int
    lr : float
    device : torch.device
    output_dir : str

    Returns
    -------
    model : pythae.models.VAE
    """
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder

    layers = copy.deepcopy(module).float()

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.layers = layers

        def forward(self, x):
            loc, raw_scale = self.layers.posterior.linear(self.layers._features(x, None)).chunk(
                2, dim=-1)
            # skvae's scale, softplus(raw) + floor, as the log-variance pythae expects
            scale = torch.nn.functional.softplus(raw_scale) + MIN_POSTERIOR_SCALE
            return ModelOutput(embedding=loc, log_covariance=2 * scale.log())

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.layers = layers

        def forward(self, z):
            # the decoder's layers called directly, as skvae's decode does, without
            # building the Bernoulli distribution object pythae does not use
            h = run_layers(self.layers.decoder, z)
            if hasattr(self.layers, "conv_decoder"):
                h = self.layers.conv_decoder(h)
            logits = self.layers.likelihood.logits(h)
            return ModelOutput(reconstruction=torch.sigmoid(logits))

    return _train(X, Encoder(), Decoder(), n_components=module.n_components,
                  batch_size=batch_size, epochs=epochs, lr=lr, device=device,
                  output_dir=output_dir)
