"""The VAE-GAN's modules: a VAE plus a discriminator whose hidden features measure
how alike two images are (Larsen et al., 2016), and the conditional VAE-GAN's, which add
an auxiliary classifier (Bao et al., 2017).

The discriminator mirrors the encoder: the same strided convolutions for a conv network
(:class:`~skvae._conv.ConvEncoder`), then the hidden layers, then one logit. Its last
hidden layer gives the features of the learned similarity. The classifier is the same
network without the condition, with one logit per class.
"""

# License: BSD 3 clause

from torch import nn

from ._conv import ConvEncoder, ConvVAEModule
from ._module import VAEModule, _with_condition, mlp, register_module, run_layers


class Discriminator(nn.Module):
    """Real-or-generated logit of a (standardised) row, and its hidden features.

    Parameters
    ----------
    n_features : int
    hidden_layer_sizes : tuple of int
    n_conditions : int, default=0
        Width of the condition appended to the features (a conditional VAE-GAN).
    image_shape, channels : tuple of int, default=()
        For a conv network: the image's shape and the convolutions' channels.
    """

    def __init__(self, n_features, hidden_layer_sizes, n_conditions=0, image_shape=(),
                 channels=()):
        super().__init__()
        self.conv = ConvEncoder(image_shape, channels) if image_shape else nn.Identity()
        width = self.conv.n_outputs if image_shape else n_features
        sizes = [width + n_conditions, *hidden_layer_sizes]
        self.hidden = mlp(sizes)
        self.logit = nn.Linear(sizes[-1], 1)

    def forward(self, x, c=None):
        """``(features, logit)``: the last hidden layer's activations and the logit."""
        features = run_layers(self.hidden, _with_condition(self.conv(x), c))
        return features, self.logit(features)[..., 0]


class VAEGANModule(VAEModule):
    """A :class:`~skvae._module.VAEModule` with a :class:`Discriminator`."""

    def __init__(self, n_features, n_components, hidden_layer_sizes, likelihood, prior,
                 posterior, n_conditions=0, impute_missing=False):
        super().__init__(n_features, n_components, hidden_layer_sizes, likelihood, prior,
                         posterior, n_conditions, impute_missing)
        self.discriminator = Discriminator(n_features, hidden_layer_sizes, n_conditions)


class ConvVAEGANModule(ConvVAEModule):
    """A :class:`~skvae._conv.ConvVAEModule` with a convolutional :class:`Discriminator`."""

    def __init__(self, n_features, n_components, hidden_layer_sizes, likelihood, prior,
                 posterior, n_conditions=0, impute_missing=False, image_shape=(),
                 channels=()):
        super().__init__(n_features, n_components, hidden_layer_sizes, likelihood, prior,
                         posterior, n_conditions, impute_missing, image_shape, channels)
        self.discriminator = Discriminator(n_features, hidden_layer_sizes, n_conditions,
                                           self.image_shape, self.channels)


class AuxiliaryClassifier(Discriminator):
    """Class logits of a (standardised) row: a :class:`Discriminator` that is not told
    the label, with one logit per class (Bao et al.'s classifier network).

    It must not see the condition: a head reading the conditioned discriminator's
    features could copy the label from its input and say nothing about the image.

    Parameters
    ----------
    n_features : int
    hidden_layer_sizes : tuple of int
    n_classes : int
    image_shape, channels : tuple of int, default=()
        As for :class:`Discriminator`.
    """

    def __init__(self, n_features, hidden_layer_sizes, n_classes, image_shape=(),
                 channels=()):
        super().__init__(n_features, hidden_layer_sizes, 0, image_shape, channels)
        self.logit = nn.Linear(self.logit.in_features, n_classes)

    def forward(self, x):
        """``(features, logits)``: the last hidden layer's activations and class logits."""
        features = run_layers(self.hidden, self.conv(x))
        return features, self.logit(features)


class CVAEGANModule(VAEGANModule):
    """A :class:`VAEGANModule` with an :class:`AuxiliaryClassifier` over its
    ``n_conditions`` classes (the condition is the one-hot label)."""

    def __init__(self, n_features, n_components, hidden_layer_sizes, likelihood, prior,
                 posterior, n_conditions=0, impute_missing=False):
        super().__init__(n_features, n_components, hidden_layer_sizes, likelihood, prior,
                         posterior, n_conditions, impute_missing)
        self.classifier = AuxiliaryClassifier(n_features, hidden_layer_sizes, n_conditions)


class ConvCVAEGANModule(ConvVAEGANModule):
    """A :class:`ConvVAEGANModule` with a convolutional :class:`AuxiliaryClassifier`."""

    def __init__(self, n_features, n_components, hidden_layer_sizes, likelihood, prior,
                 posterior, n_conditions=0, impute_missing=False, image_shape=(),
                 channels=()):
        super().__init__(n_features, n_components, hidden_layer_sizes, likelihood, prior,
                         posterior, n_conditions, impute_missing, image_shape, channels)
        self.classifier = AuxiliaryClassifier(n_features, hidden_layer_sizes, n_conditions,
                                              self.image_shape, self.channels)


class frozen:
    """Context manager: the modules' parameters take no gradient inside it.

    Gradients still flow through the modules to their inputs; the graph built inside
    records no gradient for the parameters, even when backward runs after the block.
    """

    def __init__(self, *modules):
        self.parameters = [p for module in modules for p in module.parameters()
                           if p.requires_grad]

    def __enter__(self):
        for p in self.parameters:
            p.requires_grad_(False)

    def __exit__(self, *exc):
        for p in self.parameters:
            p.requires_grad_(True)


register_module(VAEGANModule)
register_module(ConvVAEGANModule)
register_module(CVAEGANModule)
register_module(ConvCVAEGANModule)
