"""Convolutional encoder and decoder for images given as rows of pixels.

The estimators see scikit-learn rows: an image of shape ``(channels, height, width)``
arrives as ``channels * height * width`` columns, channel-major then row-major (as
``images.reshape(n, -1)`` lays them out). :class:`ConvVAEModule` reshapes the rows
into images inside the module, so ``fit`` on an ``(n, 784)`` array works in a Pipeline
next to PCA. Its decoder ends in a feature map at half the image's resolution; every
linear map of the likelihood's head becomes a transposed convolution from that map to
values per pixel (:class:`PixelTransposedConv`), so any likelihood built of
``nn.Linear`` maps gives per-pixel parameters.
"""

# License: BSD 3 clause

import math

import torch
from torch import nn

from ._module import VAEModule, _with_condition, mlp, register_module, run_layers

#: Kernel, stride and padding of every strided convolution: each layer halves the
#: height and width (rounding down); its transpose doubles them back.
KERNEL, STRIDE, PADDING = 4, 2, 1


def feature_map_sizes(size, n_layers):
    """Heights (or widths) of the feature maps after each of ``n_layers`` strided layers.

    Parameters
    ----------
    size : int
    n_layers : int

    Returns
    -------
    sizes : list of int
        ``n_layers + 1`` entries, the input size first.

    Examples
    --------
    >>> feature_map_sizes(28, 2)
    [28, 14, 7]
    >>> feature_map_sizes(7, 2)
    [7, 3, 1]
    """
    sizes = [size]
    for _ in range(n_layers):
        sizes.append((sizes[-1] + 2 * PADDING - KERNEL) // STRIDE + 1)
    return sizes


def _uniform_(tensor, bound, generator):
    with torch.no_grad():
        tensor.uniform_(-bound, bound, generator=generator)


def init_conv(layer, generator, bias=None):
    """PyTorch's default initialisation of a (transposed) convolution, from ``generator``.

    ``bias`` stands in for the layer's own bias when given (a bias per pixel).
    """
    # As torch computes it: weight.shape[1] is the input channels of a Conv2d and the
    # output channels of a ConvTranspose2d.
    fan_in = layer.weight.shape[1] * layer.weight[0, 0].numel()
    bound = 1.0 / math.sqrt(fan_in)
    _uniform_(layer.weight, bound, generator)
    _uniform_(layer.bias if bias is None else bias, bound, generator)


class ConvEncoder(nn.Module):
    """Strided ``Conv2d`` layers with ReLUs, then flattening: images -> feature rows.

    Parameters
    ----------
    image_shape : tuple of int
        ``(channels, height, width)``.
    channels : tuple of int
        Output channels of each layer.
    """

    def __init__(self, image_shape, channels):
        super().__init__()
        self.image_shape = tuple(image_shape)
        layers, n_in = [], image_shape[0]
        for n_out in channels:
            layers += [nn.Conv2d(n_in, n_out, KERNEL, STRIDE, PADDING), nn.ReLU()]
            n_in = n_out
        self.layers = nn.Sequential(*layers)
        heights = feature_map_sizes(image_shape[1], len(channels))
        widths = feature_map_sizes(image_shape[2], len(channels))
        self.n_outputs = n_in * heights[-1] * widths[-1]
        self.widest = max(n * h * w for n, h, w in zip(channels, heights[1:], widths[1:]))

    def init_from(self, generator):
        """Redraw every weight from ``generator`` (see :func:`skvae._module.init_weights`)."""
        for layer in self.layers:
            if isinstance(layer, nn.Conv2d):
                init_conv(layer, generator)

    def forward(self, x):
        lead = x.shape[:-1]
        images = x.reshape(-1, *self.image_shape)
        return self.layers(images).reshape(*lead, self.n_outputs)


class ConvDecoder(nn.Module):
    """``Linear`` to the smallest feature map, then ``ConvTranspose2d`` layers up to half
    the image's height and width: rows -> flattened feature maps of ``channels[0]``
    channels, the shape of the encoder's first feature map.

    The layers mirror a :class:`ConvEncoder` with the same ``channels`` except its first
    layer, whose mirror, the transposed convolution from this map to the pixels, is
    the likelihood's head (:class:`PixelTransposedConv`): that way no wide feature map
    at full resolution is computed, which at 28x28 pixels made a training step about
    twice as slow. Each transposed layer pads its output by a row or column where the
    encoder rounded an odd size down, so the sizes match the encoder's exactly.

    Parameters
    ----------
    n_inputs : int
    image_shape : tuple of int
    channels : tuple of int
        The encoder's channels; the output has ``channels[0]`` channels.
    """

    def __init__(self, n_inputs, image_shape, channels):
        super().__init__()
        heights = feature_map_sizes(image_shape[1], len(channels))
        widths = feature_map_sizes(image_shape[2], len(channels))
        self.start = (channels[-1], heights[-1], widths[-1])
        self.linear = nn.Linear(n_inputs, math.prod(self.start))
        layers = []
        for i in reversed(range(1, len(channels))):
            layers += [transposed_conv(channels[i], channels[i - 1], heights[i:i + 2],
                                       widths[i:i + 2]), nn.ReLU()]
        self.layers = nn.Sequential(*layers)
        self.n_channels = channels[0]
        self.n_outputs = channels[0] * heights[1] * widths[1]

    def init_from(self, generator):
        """Redraw every convolution's weights from ``generator`` (the Linear is redrawn
        by :func:`skvae._module.init_weights` itself)."""
        for layer in self.layers:
            if isinstance(layer, nn.ConvTranspose2d):
                init_conv(layer, generator)

    def forward(self, h):
        lead = h.shape[:-1]
        maps = torch.relu(self.linear(h)).reshape(-1, *self.start)
        return self.layers(maps).reshape(*lead, self.n_outputs)


def transposed_conv(n_in, n_out, heights, widths, bias=True):
    """The ``ConvTranspose2d`` undoing one strided layer of :class:`ConvEncoder`.

    Parameters
    ----------
    n_in, n_out : int
        Channels.
    heights, widths : sequence of int
        ``(size before, size after)`` the encoder's layer; the output has the size
        before, padded by a row or column where the encoder rounded an odd size down.
    bias : bool, default=True

    Returns
    -------
    layer : torch.nn.ConvTranspose2d
    """
    padding = (heights[0] - STRIDE * heights[1], widths[0] - STRIDE * widths[1])
    return nn.ConvTranspose2d(n_in, n_out, KERNEL, STRIDE, PADDING, output_padding=padding,
                              bias=bias)


class PixelTransposedConv(nn.Module):
    """The decoder's last transposed convolution, to ``m`` values per pixel, plus a bias
    per pixel and output.

    Stands in for a likelihood head's ``nn.Linear(n_channels, n_pixels * m)``: it takes
    the :class:`ConvDecoder`'s feature map (``n_channels`` channels at half the image's
    height and width) and maps it to the image's size, as the encoder's first layer
    mirrored. Its output, ``(..., n_pixels * m)``, holds ``m`` values per pixel, the
    pixel index varying slowest, as the head's own reshapes expect. The bias per pixel
    lets a pixel that is constant in the data (a digit's corner) be modelled as such.

    Parameters
    ----------
    n_channels : int
        Channels of the decoder's last feature map.
    image_shape : tuple of int
        ``(channels, height, width)`` of the image.
    m : int
        Outputs per pixel.
    """

    def __init__(self, n_channels, image_shape, m):
        super().__init__()
        self.image_shape, self.m = tuple(image_shape), m
        heights = feature_map_sizes(image_shape[1], 1)
        widths = feature_map_sizes(image_shape[2], 1)
        self.in_shape = (n_channels, heights[1], widths[1])
        self.in_features = math.prod(self.in_shape)
        self.out_features = math.prod(image_shape) * m
        self.conv = transposed_conv(n_channels, image_shape[0] * m, heights, widths,
                                    bias=False)
        self.bias = nn.Parameter(torch.empty(*image_shape, m))

    def init_from(self, generator):
        """Draw the weights from ``generator`` as torch draws a transposed convolution's."""
        init_conv(self.conv, generator, self.bias)

    def forward(self, h):
        lead = h.shape[:-1]
        out = self.conv(h.reshape(-1, *self.in_shape))
        channels, height, width = self.image_shape
        if self.m > 1:  # (n, c * m, h, w) -> (n, c, h, w, m): m varies fastest
            out = out.reshape(-1, channels, self.m, height, width).permute(0, 1, 3, 4, 2)
        out = out.reshape(-1, channels, height, width, self.m) + self.bias
        return out.reshape(*lead, self.out_features)


def per_pixel_head(likelihood, n_channels, image_shape):
    """``likelihood``'s head on a decoder feature map of ``n_channels`` channels (at half
    the image's height and width).

    The head is built for ``n_channels`` inputs, then each of its ``nn.Linear`` maps
    from those inputs to ``m`` values per pixel is replaced by a
    :class:`PixelTransposedConv` from the decoder's half-resolution feature map.

    Parameters
    ----------
    likelihood : skvae.likelihoods.Likelihood
    n_channels : int
    image_shape : tuple of int

    Returns
    -------
    head : torch.nn.Module

    Raises
    ------
    ValueError
        When the head holds no such map, or one whose width is not a multiple of the
        number of pixels (e.g. a table's mixed likelihood, whose blocks are not images).
    """
    n_features = math.prod(image_shape)
    head = likelihood.head(n_channels, n_features)
    replaced = 0
    for parent in list(head.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is not nn.Linear or child.in_features != n_channels:
                continue
            if child.out_features % n_features:
                raise ValueError(
                    f"network='conv' needs a likelihood with parameters per pixel; "
                    f"{likelihood!r} maps the decoder to {child.out_features} values, not "
                    f"a multiple of the {n_features} pixels. Use network='mlp'."
                )
            setattr(parent, name, PixelTransposedConv(n_channels, image_shape,
                                                      child.out_features // n_features))
            replaced += 1
    if not replaced:
        raise ValueError(f"network='conv' found no linear map in the head of {likelihood!r} "
                         "to apply per pixel. Use network='mlp'.")
    return head


class ConvVAEModule(VAEModule):
    """A :class:`~skvae._module.VAEModule` whose encoder and decoder are convolutional.

    The encoder is a :class:`ConvEncoder`, then the hidden layers (with the condition
    appended, for a CVAE); the decoder the hidden layers in reverse, then a
    :class:`ConvDecoder` and the likelihood's head, whose maps are the last transposed
    convolution (:func:`per_pixel_head`). Everything else (ELBO, importance weights, prior) is the
    VAEModule's.

    Parameters
    ----------
    n_features, n_components, hidden_layer_sizes, likelihood, prior, posterior,
    n_conditions, impute_missing
        As for :class:`~skvae._module.VAEModule`.
    image_shape : tuple of int
        ``(channels, height, width)``, whose product is ``n_features``.
    channels : tuple of int
        Channels of the strided convolutions, first layer first.
    """

    #: The VAEModule's config plus the image's shape and the convolutions' channels.
    CONFIG_KEYS = (*VAEModule.CONFIG_KEYS, "image_shape", "channels")

    def __init__(self, n_features, n_components, hidden_layer_sizes, likelihood, prior,
                 posterior, n_conditions=0, impute_missing=False, image_shape=(),
                 channels=()):
        nn.Module.__init__(self)
        check_image_config(n_features, image_shape, channels)
        self.impute_missing = impute_missing
        self.n_components, self.n_conditions = n_components, n_conditions
        self.image_shape, self.channels = tuple(image_shape), tuple(channels)
        self.conv_encoder = ConvEncoder(image_shape, channels)
        encoder_sizes = [self.conv_encoder.n_outputs + n_conditions, *hidden_layer_sizes]
        self.encoder = mlp(encoder_sizes)
        self.posterior = posterior.head(encoder_sizes[-1], n_components)
        decoder_sizes = [n_components + n_conditions, *reversed(hidden_layer_sizes)]
        self.decoder = mlp(decoder_sizes)
        self.conv_decoder = ConvDecoder(decoder_sizes[-1], image_shape, channels)
        self.likelihood = per_pixel_head(likelihood, self.conv_decoder.n_channels,
                                         image_shape)
        self.prior = prior.module(n_components, n_features)

    @property
    def widest_activation(self):
        """Elements per row of the largest feature map: the first convolution's output
        and the decoder's last (for memory bounds of inference blocks)."""
        return max(self.conv_encoder.widest, self.conv_decoder.n_outputs)

    def _features(self, x, c):
        if self.impute_missing:
            x = torch.nan_to_num(x, nan=0.0)
        return run_layers(self.encoder, _with_condition(self.conv_encoder(x), c))

    def decode(self, z, c=None):
        h = run_layers(self.decoder, _with_condition(z, c))
        return self.likelihood(self.conv_decoder(h))


def check_image_config(n_features, image_shape, channels):
    """A ValueError unless ``image_shape`` holds ``n_features`` pixels that ``channels``
    strided layers can halve.

    Parameters
    ----------
    n_features : int
    image_shape : tuple of int
    channels : tuple of int
    """
    if len(image_shape) != 3 or not all(type(n) is int and n >= 1 for n in image_shape):
        raise ValueError(f"image_shape must be (channels, height, width), positive ints; "
                         f"got {image_shape!r}.")
    if math.prod(image_shape) != n_features:
        raise ValueError(
            f"image_shape={tuple(image_shape)} holds {math.prod(image_shape)} values per "
            f"image, but X has {n_features} features; rows must be images flattened "
            "channel-major (images.reshape(n, -1))."
        )
    if not channels or not all(type(n) is int and n >= 1 for n in channels):
        raise ValueError(f"channels must be a non-empty tuple of positive ints; got "
                         f"{channels!r}.")
    smallest = 2 ** len(channels)
    if min(image_shape[1:]) < smallest:
        raise ValueError(
            f"{len(channels)} strided convolutions need images of at least "
            f"{smallest}x{smallest} pixels; image_shape={tuple(image_shape)} is smaller. "
            "Pass fewer channels."
        )


register_module(ConvVAEModule)
