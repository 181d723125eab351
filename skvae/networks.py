"""Networks: the architecture of the encoder and decoder (fully connected or convolutional).

A network is a small configuration object, like a likelihood or a prior. It says which
torch module a VAE estimator builds (:meth:`Network.module_class`) and with which extra
config values (:meth:`Network.module_config`), which a saved model stores and checks.
The estimators take it as ``network="mlp"`` (the default), ``network="conv"`` or an
instance such as ``ConvNetwork(image_shape=(3, 32, 32))``; rows stay flat pixels, so
the estimator still works in a Pipeline.

Adding a network means one subclass here, decorated with :func:`register_network`.
"""

# License: BSD 3 clause

import math

from ._conv import ConvVAEModule, check_image_config
from ._module import VAEModule
from ._registry import Part, Registry


def register_network(cls):
    """Class decorator that adds a :class:`Network` subclass to :data:`NETWORKS`.

    Parameters
    ----------
    cls : type

    Returns
    -------
    cls : type

    Examples
    --------
    >>> sorted(NETWORKS)
    ['conv', 'mlp']
    """
    return NETWORKS.register(cls)


def get_network(spec):
    """Return a :class:`Network` instance for a registry name or an instance.

    Parameters
    ----------
    spec : str or Network

    Returns
    -------
    network : Network

    Examples
    --------
    >>> get_network("conv")
    ConvNetwork(image_shape=None, channels=(32, 64))
    """
    return NETWORKS.instance(spec)


class Network(Part):
    """Base class of the networks; subclasses set ``name`` and the two methods below."""

    name = None

    def resolved(self, n_features):
        """The network with every choice left to the data made (e.g. the image shape).

        Parameters
        ----------
        n_features : int

        Returns
        -------
        network : Network
        """
        return self

    def module_config(self, n_features):
        """Config values the module needs besides the VAE's own, checked against X.

        Parameters
        ----------
        n_features : int

        Returns
        -------
        config : dict
        """
        return {}

    def module_class(self):
        """The VAE module class this network builds."""
        raise NotImplementedError


#: Registry of network classes by name, filled by :func:`register_network`.
NETWORKS = Registry("network", Network)


@register_network
class MLPNetwork(Network):
    """Fully connected layers of ``hidden_layer_sizes`` over the flattened row.

    Examples
    --------
    >>> MLPNetwork().module_config(64)
    {}
    """

    name = "mlp"

    def module_class(self):
        return VAEModule


@register_network
class ConvNetwork(Network):
    """Strided convolutions over rows that are images, then ``hidden_layer_sizes``.

    The encoder applies ``Conv2d`` layers of kernel 4 and stride 2 (each halves the
    height and width) with ReLUs, then the fully connected hidden layers; the decoder
    mirrors it with ``ConvTranspose2d`` layers, the last of which gives the likelihood's
    parameters pixel by pixel (plus a bias per pixel). Rows are images flattened channel-major (``images.reshape(n, -1)``).

    Parameters
    ----------
    image_shape : tuple of int or None, default=None
        ``(channels, height, width)`` of the images; None for square one-channel
        images, ``(1, s, s)`` with ``s * s`` the number of features.
    channels : tuple of int, default=(32, 64)
        Output channels of the convolutions, first layer first; the images need at
        least ``2 ** len(channels)`` pixels per side.

    Examples
    --------
    >>> ConvNetwork().module_config(784)
    {'image_shape': (1, 28, 28), 'channels': (32, 64)}
    """

    name = "conv"

    def __init__(self, image_shape=None, channels=(32, 64)):
        self.image_shape = image_shape
        self.channels = channels

    def _image_shape(self, n_features):
        if self.image_shape is not None:
            return tuple(self.image_shape)
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise ValueError(
                f"network='conv' takes square one-channel images by default, but X has "
                f"{n_features} features, not a square number; pass "
                "network=ConvNetwork(image_shape=(channels, height, width))."
            )
        return (1, side, side)

    def resolved(self, n_features):
        config = self.module_config(n_features)
        return ConvNetwork(config["image_shape"], config["channels"])

    def module_config(self, n_features):
        image_shape = self._image_shape(n_features)
        channels = tuple(self.channels)
        check_image_config(n_features, image_shape, channels)
        return {"image_shape": image_shape, "channels": channels}

    def module_class(self):
        return ConvVAEModule
