"""Network in Network (Lin, Chen and Yan, 2013): no dense layers at all (chapter 10).

A NiN block is one ordinary convolution followed by two 1x1 convolutions with the same number of
channels, each with a ReLU: the 1x1 convolutions are a small dense network applied at every pixel
(the paper's "mlpconv").  The network is d2l's: AlexNet's first three convolution sizes as NiN
blocks (96 11x11/4, 256 5x5, 384 3x3) with AlexNet's 3x3/2 max pools between them, dropout, and a
last NiN block with ``num_classes`` channels whose global average pool gives the logits -- so the
"curse of the last layer" (AlexNet's 26 M + 16 M dense weights) is gone: 7.4 M parameters in all
at 3x224x224 / 1000 classes (5.5 M of them in the classifying block's 1,000-channel convolutions),
against AlexNet's 50.8 M.

:meth:`NiN.small` is the CPU-sized network for 28x28 digits: blocks of 16, 32 and 64 channels
with 5x5, 3x3 and 3x3 convolutions of stride 1, with batch normalization (see there why).
"""
from __future__ import annotations

from torch import nn

from dlcourse.models._common import check_images, init_weights

__all__ = ["NiN", "nin_block"]


def nin_block(in_channels, out_channels, kernel_size, stride=1, padding=0, batch_norm=False):
    """``conv(kernel_size, stride, padding)``, ReLU, then twice (1x1 conv, ReLU), all with
    ``out_channels``: ``(N, in_channels, H, W) -> (N, out_channels, H', W')``.  ``batch_norm``: a
    batch norm between each convolution and its ReLU (the convolutions then have no bias)."""
    layers = []
    for i, (k, s, p) in enumerate([(kernel_size, stride, padding), (1, 1, 0), (1, 1, 0)]):
        layers.append(nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, k, stride=s, padding=p,
                                bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class NiN(nn.Module):
    """NiN for ``(N, in_channels, H, W)`` images (any size the pools leave at least 1x1) ->
    logits ``(N, num_classes)``.

    ``channels``: the three feature blocks' widths (``(96, 256, 384)``); ``kernels``: their
    ``(kernel, stride, padding)`` (``((11, 4, 0), (5, 1, 2), (3, 1, 1))``); ``dropout``: before the
    classifying block (0.5); ``batch_norm``: batch norm after every convolution (not in the
    paper; chapter 12's remedy, which the CPU-sized variant uses).  The classifying block is ``nin_block(channels[-1], num_classes, 3,
    padding=1)``, followed by a global average pool and a flatten.

    Modules: ``block1``, ``pool1``, ``block2``, ``pool2``, ``block3``, ``pool3``, ``dropout``,
    ``block4`` (the classifier), ``gap``, ``flatten``.
    """

    def __init__(self, num_classes=1000, in_channels=3, channels=(96, 256, 384),
                 kernels=((11, 4, 0), (5, 1, 2), (3, 1, 1)), dropout=0.5, batch_norm=False):
        super().__init__()
        if len(channels) != 3 or len(kernels) != 3:
            raise ValueError(f"channels and kernels must each describe 3 blocks, got {channels!r} and {kernels!r}")
        self.in_channels = in_channels
        c = in_channels
        for i, (out, (k, s, p)) in enumerate(zip(channels, kernels), start=1):
            self.add_module(f"block{i}", nin_block(c, out, k, s, p, batch_norm))
            self.add_module(f"pool{i}", nn.MaxPool2d(3, 2))
            c = out
        self.dropout = nn.Dropout(dropout)
        self.block4 = nin_block(c, num_classes, 3, 1, 1, batch_norm)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        init_weights(self)

    def forward(self, x):
        check_images(self, x, self.in_channels)
        for module in self.children():
            x = module(x)
        return x

    @classmethod
    def small(cls, num_classes=10, in_channels=1, **kwargs):
        """The CPU-sized NiN for 28x28 digits (about 41 K parameters, 2.9 M MACs): channels
        ``(16, 32, 64)``, kernels 5x5 pad 2, 3x3 pad 1, 3x3 pad 1, stride 1 (28 -> pools 13, 6, 2),
        and ``batch_norm=True``.  Keyword arguments override these.

        Why batch norm here: without it this narrow NiN learns too slowly for the benchmark's
        two-minute budget (measured on the MNIST split, 3 epochs of SGD: 54 % validation accuracy
        at the best learning rate tried, against 97 % with batch norm), because its classifying
        block squeezes everything through 10 ReLU channels, many of which start dead."""
        args = dict(channels=(16, 32, 64), kernels=((5, 1, 2), (3, 1, 1), (3, 1, 1)), dropout=0.5, batch_norm=True)
        args.update(kwargs)
        return cls(num_classes=num_classes, in_channels=in_channels, **args)
