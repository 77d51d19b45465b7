"""AlexNet (Krizhevsky, Sutskever and Hinton, 2012), as the lecture and d2l draw it (chapter 8).

Five convolutions and three dense layers: ``conv1`` 11x11 stride 4 (96 channels), 3x3/2 max
pool, ``conv2`` 5x5 (256), pool, ``conv3``-``conv5`` 3x3 (384, 384, 256), pool, then dense
layers of 4096, 4096 and ``num_classes``, with dropout after each hidden ReLU.  One stream instead of the paper's two GPU halves, and no local response
normalization, as in the lecture and d2l; ``conv1`` pads by 1 so a 224x224 image gives a 54x54
map (the paper's 227 crop gives 55x55).

At ImageNet size (``AlexNet()``: 3x224x224 in, 1000 classes) the counts are the lecture's
complexity table (parameters / multiply-adds, per image):

=========  ============  ==========
layer       parameters     MACs
=========  ============  ==========
conv1         34,944      101.6 M   (96 x 3 x 11 x 11 weights, 54 x 54 outputs)
conv2        614,656      415.5 M   (256 x 96 x 5 x 5, 26 x 26)
conv3-5    3,097,600      445.9 M   (12 x 12 outputs)
fc6       26,218,496       26.2 M   (256 x 5 x 5 = 6,400 inputs)
fc7       16,781,312       16.8 M
fc8        4,097,000        4.1 M   (not in the lecture's table, whose totals 46 M / 1 G leave it out)
=========  ============  ==========

The lecture's LeNet column is ten times too large in three places (150 weights and 117,600
MACs for conv1, not 1.2 M; 2,400 weights and 240 K MACs for conv2; 48,000 = 0.048 M weights for
the first dense layer, not 0.48 M); :func:`dlcourse.models.complexity` counts LeNet's real
figures.

:meth:`AlexNet.small` is the CPU-sized network for 28x28 MNIST digits: the same layers, 5x5
``conv1`` with stride 1, a sixth of the channels and 256-unit dense layers.
"""
from __future__ import annotations

from torch import nn

from dlcourse.models._common import check_images, dense_head, init_weights, spatial_size

__all__ = ["AlexNet"]


class AlexNet(nn.Module):
    """AlexNet for ``(N, in_channels, input_size, input_size)`` images -> logits ``(N, num_classes)``.

    ``channels``: the five convolutions' output channels (default the paper's ``(96, 256, 384,
    384, 256)``); ``conv1``: ``(kernel, stride, padding)`` of the first convolution (default
    ``(11, 4, 1)``); ``hidden``: width of the two hidden dense layers (4096); ``dropout``: the
    probability of dropping a hidden unit (0.5); ``input_size``: the image height = width the
    dense layers are sized for (224).

    Modules: ``features`` (``conv1``, ``relu1``, ``pool1``, ... ``conv5``, ``relu5``, ``pool5``),
    ``classifier`` (``flatten``, ``fc6``, ``relu6``, ``drop6``, ``fc7``, ``relu7``, ``drop7``,
    ``fc8``).
    """

    def __init__(self, num_classes=1000, in_channels=3, channels=(96, 256, 384, 384, 256), conv1=(11, 4, 1),
                 hidden=4096, dropout=0.5, input_size=224):
        super().__init__()
        if len(channels) != 5:
            raise ValueError(f"channels must give the 5 convolutions' widths, got {channels!r}")
        c1, c2, c3, c4, c5 = channels
        k, s, p = conv1
        self.in_channels, self.input_size = in_channels, input_size
        self.features = nn.Sequential()
        for name, layer in [
            ("conv1", nn.Conv2d(in_channels, c1, k, stride=s, padding=p)), ("relu1", nn.ReLU(inplace=True)),
            ("pool1", nn.MaxPool2d(3, 2)),
            ("conv2", nn.Conv2d(c1, c2, 5, padding=2)), ("relu2", nn.ReLU(inplace=True)),
            ("pool2", nn.MaxPool2d(3, 2)),
            ("conv3", nn.Conv2d(c2, c3, 3, padding=1)), ("relu3", nn.ReLU(inplace=True)),
            ("conv4", nn.Conv2d(c3, c4, 3, padding=1)), ("relu4", nn.ReLU(inplace=True)),
            ("conv5", nn.Conv2d(c4, c5, 3, padding=1)), ("relu5", nn.ReLU(inplace=True)),
            ("pool5", nn.MaxPool2d(3, 2)),
        ]:
            self.features.add_module(name, layer)
        side = spatial_size(self.features, input_size)  # 5 for 224x224
        self.classifier = dense_head(c5 * side * side, hidden, num_classes, dropout, first=6)
        init_weights(self)

    def forward(self, x):
        check_images(self, x, self.in_channels, self.input_size)
        return self.classifier(self.features(x))

    @classmethod
    def small(cls, num_classes=10, in_channels=1, **kwargs):
        """The CPU-sized AlexNet for 28x28 digits (about 0.16 M parameters, 4.3 M MACs): channels
        ``(16, 32, 48, 48, 32)``, ``conv1`` 5x5 stride 1 pad 2 (28 -> 28 -> pools 13, 6, 2), dense
        layers of 256.  Keyword arguments override these."""
        args = dict(channels=(16, 32, 48, 48, 32), conv1=(5, 1, 2), hidden=256, dropout=0.5, input_size=28)
        args.update(kwargs)
        return cls(num_classes=num_classes, in_channels=in_channels, **args)
