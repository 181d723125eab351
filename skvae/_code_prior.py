"""The learned prior over a VQ-VAE's codes: an autoregressive categorical model.

``p(c) = prod_i p(c_i | c_1, ..., c_{i-1})`` over the code positions, computed in one
pass by a masked MLP (MADE, Germain et al. 2015): each output block sees only the codes
of earlier positions, so ``log_prob`` is exact and ``sample`` draws one position after
the other.
"""

# License: BSD 3 clause

import torch
from torch import nn
from torch.nn import functional as F


def made_masks(n_positions, n_codes, layer_sizes):
    """Connectivity masks of a MADE over ``n_positions`` one-hot blocks of ``n_codes``.

    Inputs and outputs of position ``i`` get degree ``i + 1``; hidden units cycle
    through degrees ``1 .. n_positions - 1``. A hidden unit sees inputs of degree at
    most its own, an output sees hidden units of degree below its own: output ``i``
    depends on positions ``< i`` only.

    Parameters
    ----------
    n_positions, n_codes : int
    layer_sizes : tuple of int
        Hidden widths.

    Returns
    -------
    masks : list of torch.Tensor
        One ``(n_out, n_in)`` float mask per layer, the output layer last.

    Examples
    --------
    >>> [m.shape for m in made_masks(3, 2, (4,))]
    [torch.Size([4, 6]), torch.Size([6, 4])]
    >>> made_masks(2, 1, ())[0]
    tensor([[0., 0.],
            [1., 0.]])
    """
    io_degrees = torch.arange(n_positions).repeat_interleave(n_codes) + 1
    degrees, masks = io_degrees, []
    for size in layer_sizes:
        hidden = torch.arange(size) % max(1, n_positions - 1) + 1
        masks.append((hidden[:, None] >= degrees[None, :]).float())
        degrees = hidden
    masks.append((io_degrees[:, None] > degrees[None, :]).float())
    return masks


class MaskedLinear(nn.Linear):
    """A Linear layer whose weight is multiplied by a fixed 0/1 ``mask``.

    The mask is rebuilt from the configuration, so it is not part of the state dict.
    """

    def __init__(self, mask):
        super().__init__(mask.shape[1], mask.shape[0])
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


class AutoregressiveCodePrior(nn.Module):
    """Categorical distribution over code sequences, autoregressive over positions.

    Parameters
    ----------
    n_positions : int
    n_codes : int
    layer_sizes : tuple of int
        Hidden widths of the masked MLP; ``()`` makes each position's logits linear in
        the one-hot codes before it.
    """

    def __init__(self, n_positions, n_codes, layer_sizes):
        super().__init__()
        self.n_positions, self.n_codes = n_positions, n_codes
        self.layers = nn.ModuleList(MaskedLinear(m) for m in
                                    made_masks(n_positions, n_codes, layer_sizes))

    def logits(self, codes):
        """Logits of every position given the earlier ones, ``(n, n_positions, n_codes)``."""
        h = F.one_hot(codes, self.n_codes).flatten(1).to(self.layers[0].weight.dtype)
        for layer in self.layers[:-1]:
            h = torch.relu(layer(h))
        return self.layers[-1](h).reshape(-1, self.n_positions, self.n_codes)

    def log_prob(self, codes):
        """``log p(c)`` of code rows ``codes`` (int, ``(n, n_positions)``), shape ``(n,)``."""
        log_p = F.log_softmax(self.logits(codes), dim=-1)
        return log_p.gather(-1, codes[..., None])[..., 0].sum(-1)

    @torch.no_grad()
    def sample(self, n_samples, generator):
        """``n_samples`` code rows, position after position, from ``generator``'s draws.

        Parameters
        ----------
        n_samples : int
        generator : torch.Generator
            On the module's device.

        Returns
        -------
        codes : torch.Tensor of shape (n_samples, n_positions), int64
        """
        device = self.layers[0].weight.device
        codes = torch.zeros(n_samples, self.n_positions, dtype=torch.long, device=device)
        for i in range(self.n_positions):
            probs = F.softmax(self.logits(codes)[:, i], dim=-1)
            codes[:, i] = torch.multinomial(probs, 1, generator=generator)[:, 0]
        return codes
