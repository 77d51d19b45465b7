"""VGG (Simonyan and Zisserman, 2014): networks built from repeated blocks (chapter 9).

A VGG block is a few 3x3 convolutions (padding 1, so the size stays) each followed by a ReLU,
then a 2x2 max pool of stride 2 (the size halves).  The configurations A-E of the paper's table
differ only in how many convolutions each of the five blocks has; :data:`VGG_CONFIGS` writes them
as lists in which an int is a 3x3 convolution with that many output channels, ``(c, 1)`` a 1x1
convolution (configuration C), ``"M"`` the max pool and ``"LRN"`` the local response
normalization of A-LRN.  Three dense layers (4096, 4096, ``num_classes``, dropout after the
hidden ones) follow.

Parameters at ImageNet size (3x224x224, 1000 classes), counted: A (VGG-11) 132,863,336; A-LRN
the same (LRN has no parameters); B (VGG-13) 133,047,848; C 133,638,952; D (VGG-16) 138,357,544;
E (VGG-19) 143,667,240 -- the paper's table 2 rounds these to 133, 133, 134, 138 and 144 million.
The lecture's "curse of the last layer": the first dense layer alone has 512 x 7 x 7 x 4096 =
102.8 M weights.

:meth:`VGG.small` is the CPU-sized network for 28x28 digits: three blocks (one, one and two
convolutions) of 16, 32 and 64 channels, dense layers of 256.
"""
from __future__ import annotations

from torch import nn

from dlcourse.models._common import check_images, dense_head, init_weights, spatial_size

__all__ = ["VGG", "VGG_CONFIGS", "vgg_block", "vgg11", "vgg13", "vgg16", "vgg19"]

VGG_CONFIGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "A-LRN": [64, "LRN", "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "C": [64, 64, "M", 128, 128, "M", 256, 256, (256, 1), "M", 512, 512, (512, 1), "M", 512, 512, (512, 1), "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
"""The paper's table 1: configuration letter -> layer list (int: 3x3 conv, ``(c, 1)``: 1x1 conv,
``"M"``: 2x2 max pool, ``"LRN"``: local response normalization).  Weight layers: A 11, B 13,
C 16, D 16, E 19 (convolutions plus the three dense layers)."""


def vgg_block(num_convs, in_channels, out_channels):
    """d2l's VGG block: ``num_convs`` x (3x3 conv, padding 1, ReLU), then a 2x2 max pool of stride 2.
    ``(N, in_channels, H, W) -> (N, out_channels, H // 2, W // 2)``."""
    layers = []
    for _ in range(num_convs):
        layers += [nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.ReLU(inplace=True)]
        in_channels = out_channels
    return nn.Sequential(*layers, nn.MaxPool2d(2, 2))


def _layers(arch, in_channels, batch_norm):
    layers, c = [], in_channels
    for item in arch:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        elif item == "LRN":
            layers.append(nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0))  # AlexNet's settings
        else:
            out, k = (item, 3) if isinstance(item, int) else item
            if not (isinstance(out, int) and k in (1, 3)):
                raise ValueError(f"VGG layer must be an int, (channels, 1), 'M' or 'LRN'; got {item!r}")
            layers.append(nn.Conv2d(c, out, k, padding=k // 2))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            c = out
    return nn.Sequential(*layers), c


class VGG(nn.Module):
    """VGG for ``(N, in_channels, input_size, input_size)`` images -> logits ``(N, num_classes)``.

    ``arch``: a configuration letter of :data:`VGG_CONFIGS` (``"A"`` ... ``"E"``, ``"A-LRN"``) or
    a layer list in the same notation.  ``hidden``: width of the two hidden dense layers (4096);
    ``dropout``: 0.5; ``input_size``: image side the dense layers are sized for (224: 7x7x512 =
    25,088 features); ``batch_norm``: a batch norm after every convolution (the later "VGG-BN",
    not in the paper; default False).

    Modules: ``features`` (the convolutions and pools, numbered as in ``nn.Sequential``) and
    ``classifier`` (``flatten``, ``fc1``, ``relu1``, ``drop1``, ``fc2``, ``relu2``, ``drop2``, ``fc3``).
    """

    def __init__(self, arch="A", num_classes=1000, in_channels=3, hidden=4096, dropout=0.5, input_size=224,
                 batch_norm=False):
        super().__init__()
        if isinstance(arch, str):
            if arch not in VGG_CONFIGS:
                raise ValueError(f"unknown VGG configuration {arch!r}; choose one of {sorted(VGG_CONFIGS)} or give a layer list")
            arch = VGG_CONFIGS[arch]
        self.arch, self.in_channels, self.input_size = list(arch), in_channels, input_size
        self.features, c = _layers(self.arch, in_channels, batch_norm)
        side = spatial_size(self.features, input_size)
        self.classifier = dense_head(c * side * side, hidden, num_classes, dropout, first=1)
        init_weights(self)

    def forward(self, x):
        check_images(self, x, self.in_channels, self.input_size)
        return self.classifier(self.features(x))

    @classmethod
    def small(cls, num_classes=10, in_channels=1, **kwargs):
        """The CPU-sized VGG for 28x28 digits (about 0.28 M parameters, 3.9 M MACs): blocks of
        1, 1 and 2 convolutions with 16, 32 and 64 channels (28 -> 14 -> 7 -> 3), dense layers
        of 256.  Keyword arguments override these."""
        args = dict(arch=[16, "M", 32, "M", 64, 64, "M"], hidden=256, dropout=0.5, input_size=28)
        args.update(kwargs)
        return cls(num_classes=num_classes, in_channels=in_channels, **args)


def vgg11(num_classes=1000, in_channels=3, **kwargs):
    """VGG-11, configuration A: 132,863,336 parameters at 3x224x224 / 1000 classes."""
    return VGG("A", num_classes=num_classes, in_channels=in_channels, **kwargs)


def vgg13(num_classes=1000, in_channels=3, **kwargs):
    """VGG-13, configuration B: 133,047,848 parameters at 3x224x224 / 1000 classes."""
    return VGG("B", num_classes=num_classes, in_channels=in_channels, **kwargs)


def vgg16(num_classes=1000, in_channels=3, **kwargs):
    """VGG-16, configuration D: 138,357,544 parameters at 3x224x224 / 1000 classes."""
    return VGG("D", num_classes=num_classes, in_channels=in_channels, **kwargs)


def vgg19(num_classes=1000, in_channels=3, **kwargs):
    """VGG-19, configuration E: 143,667,240 parameters at 3x224x224 / 1000 classes."""
    return VGG("E", num_classes=num_classes, in_channels=in_channels, **kwargs)
