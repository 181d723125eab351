"""The hand-written PyTorch VAE that skvae has to beat.

This is the loop a competent PyTorch user writes in a few minutes: an MLP encoder to
the mean and log-variance of q(z|x), an MLP decoder to Bernoulli logits, the
reparameterisation trick, ``binary_cross_entropy_with_logits`` summed over features
plus the closed-form KL to N(0, I), averaged over the batch, and Adam. Nothing in it
is slowed down on purpose: it is the bar, so it keeps the loss on the device (no host
sync per batch) and draws its minibatches on the device.

Two ways to feed it are timed: the data already on the device, sliced by a random
permutation (:func:`fit_on_device`), and the ``DataLoader(TensorDataset, shuffle=True)``
of the PyTorch tutorials (:func:`fit_with_dataloader`).
"""

# License: BSD 3 clause

import math

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset


def mlp(sizes):
    """Linear layers between consecutive ``sizes`` with a ReLU between them.

    Unlike skvae's hidden stacks, the last layer has no ReLU: it is an output layer.

    Parameters
    ----------
    sizes : sequence of int

    Returns
    -------
    net : torch.nn.Sequential
    """
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


class PlainVAE(nn.Module):
    """A Bernoulli VAE with MLP encoder and decoder.

    Parameters
    ----------
    n_features : int
    hidden_layer_sizes : tuple of int
        Encoder widths; the decoder uses them reversed.
    n_components : int
    """

    def __init__(self, n_features, hidden_layer_sizes, n_components):
        super().__init__()
        hidden = list(hidden_layer_sizes)
        self.encoder = mlp([n_features, *hidden, 2 * n_components])
        self.decoder = mlp([n_components, *reversed(hidden), n_features])

    def loss(self, x, generator=None):
        """Negative ELBO averaged over the rows of ``x``."""
        mu, log_var = self.encoder(x).chunk(2, dim=-1)
        std = torch.exp(0.5 * log_var)
        noise = torch.randn(std.shape, generator=generator, device=std.device, dtype=std.dtype)
        logits = self.decoder(mu + std * noise)
        reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
        kl = 0.5 * (mu.square() + log_var.exp() - 1.0 - log_var).sum(-1)
        return (reconstruction + kl).mean()


class PlainGaussianVAE(PlainVAE):
    """The same VAE with Gaussian noise: a learned scale per feature, on standardised data.

    As skvae's Gaussian likelihood (softplus scale with a floor of 1e-3), written the
    way a tutorial writes the Gaussian log-density.
    """

    def __init__(self, n_features, hidden_layer_sizes, n_components):
        super().__init__(n_features, hidden_layer_sizes, n_components)
        self.raw_scale = nn.Parameter(torch.zeros(n_features))

    def loss(self, x, generator=None):
        """Negative ELBO averaged over the rows of ``x``."""
        mu, log_var = self.encoder(x).chunk(2, dim=-1)
        std = torch.exp(0.5 * log_var)
        noise = torch.randn(std.shape, generator=generator, device=std.device, dtype=std.dtype)
        loc = self.decoder(mu + std * noise)
        scale = F.softplus(self.raw_scale) + 1e-3
        log_lik = (-0.5 * ((x - loc) / scale) ** 2 - scale.log()
                   - 0.5 * math.log(2 * math.pi)).sum(-1)
        kl = 0.5 * (mu.square() + log_var.exp() - 1.0 - log_var).sum(-1)
        return (kl - log_lik).mean()


def _train(model, epochs, batches, lr, generator=None):
    """Adam over ``batches(epoch)`` for ``epochs`` epochs; returns each epoch's mean loss."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for epoch in range(epochs):
        # Summed on the device and read once per epoch: .item() per batch would
        # stall a GPU on every step.
        total, count = 0.0, 0
        for batch in batches(epoch):
            loss = model.loss(batch, generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total = total + loss.detach() * batch.shape[0]
            count += batch.shape[0]
        losses.append(float(total) / count)
    return losses


def fit_on_device(X, *, hidden_layer_sizes, n_components, batch_size, epochs, lr, seed=0,
                  model_class=PlainVAE):
    """Train a :class:`PlainVAE` on a tensor that already lives on the device.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features), float32
        On the training device.
    hidden_layer_sizes : tuple of int
    n_components, batch_size, epochs : int
    lr : float
    seed : int, default=0
        Seeds the minibatch order and the reparameterisation noise.
    model_class : type, default=PlainVAE
        :class:`PlainVAE` (Bernoulli) or :class:`PlainGaussianVAE`.

    Returns
    -------
    model : PlainVAE
    losses : list of float
    """
    model = model_class(X.shape[1], hidden_layer_sizes, n_components).to(X.device)
    generator = torch.Generator(device=X.device).manual_seed(seed)

    def batches(epoch):
        order = torch.randperm(X.shape[0], generator=generator, device=X.device)
        return (X[order[start : start + batch_size]] for start in range(0, X.shape[0], batch_size))

    return model, _train(model, epochs, batches, lr, generator)


def fit_with_dataloader(X, *, hidden_layer_sizes, n_components, batch_size, epochs, lr,
                        device, seed=0):
    """Train a :class:`PlainVAE` fed by ``DataLoader(TensorDataset(X), shuffle=True)``.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, n_features), float32
        In host memory, as a DataLoader expects.
    hidden_layer_sizes : tuple of int
    n_components, batch_size, epochs : int
    lr : float
    device : torch.device
        Where the model trains; each batch is copied there.
    seed : int, default=0

    Returns
    -------
    model : PlainVAE
    losses : list of float
    """
    model = PlainVAE(X.shape[1], hidden_layer_sizes, n_components).to(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    loader = DataLoader(TensorDataset(X), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed),
                        pin_memory=device.type == "cuda")

    def batches(epoch):
        return (batch.to(device, non_blocking=True) for (batch,) in loader)

    return model, _train(model, epochs, batches, lr, generator)
