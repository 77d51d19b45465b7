"""PyTorch models of the book (chapter 7 on), and a layer-by-layer summary table.

:class:`LeNet` is the lecture's ``Net`` (conv 1->6 5x5, 2x2 max pool, conv 6->16 5x5, 2x2 max
pool, fc 400->120->84->10, ReLU) made to accept MNIST's 28x28 images: ``conv1`` pads by 2 pixels,
as d2l does, so the feature maps are the same sizes a 32x32 input gives without padding (the
lecture's ``16 * 5 * 5 = 400`` inputs to ``fc1``).  ``variant="1998"`` swaps in sigmoid
activations and average pooling.  Its parameter names match :class:`dlcourse.numpy_lenet.NumpyLeNet`.

``batch_norm=True`` (chapter 12, :func:`BNLeNet`) puts a batch normalization between each
convolution or hidden dense layer and its activation (``bn1`` ... ``bn4``), as Ioffe and Szegedy
place it and as d2l's ``BNLeNet`` does; everything else stays the same, so the two train side by
side in the benchmark.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["LeNet", "BNLeNet"]


class LeNet(nn.Module):
    """LeNet for ``(N, in_channels, 28, 28)`` images; returns logits ``(N, num_classes)``.

    ``variant``: ``"modern"`` (the lecture's ``Net``: ReLU, max pooling) or ``"1998"`` (sigmoid,
    average pooling).  ``padding``: of ``conv1``; 2 for 28x28 input (the default), 0 for 32x32.
    ``batch_norm``: batch normalization before each of the four hidden activations (``bn1``:
    ``BatchNorm2d(6)``, ``bn2``: ``BatchNorm2d(16)``, ``bn3``: ``BatchNorm1d(120)``, ``bn4``:
    ``BatchNorm1d(84)``; 61,706 + 2*(6+16+120+84) = 62,158 parameters).  Activations and pooling
    are modules (``act1``, ``pool1``, ...) so :func:`layer_table` lists them.
    """

    def __init__(self, variant="modern", num_classes=10, padding=2, batch_norm=False, in_channels=1):
        super().__init__()
        if variant not in ("modern", "1998"):
            raise ValueError(f"variant must be 'modern' or '1998', got {variant!r}")
        self.variant, self.batch_norm, self.in_channels = variant, bool(batch_norm), in_channels
        Act = nn.ReLU if variant == "modern" else nn.Sigmoid
        Pool = nn.MaxPool2d if variant == "modern" else nn.AvgPool2d
        BN2, BN1 = (nn.BatchNorm2d, nn.BatchNorm1d) if batch_norm else (lambda c: None, lambda c: None)
        self.input_size = 32 - 2 * padding
        self.conv1 = nn.Conv2d(in_channels, 6, kernel_size=5, padding=padding)  # (N, 6, 28, 28)
        self.bn1 = BN2(6)
        self.act1 = Act()
        self.pool1 = Pool(2, 2)                                          # (N, 6, 14, 14)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)                     # (N, 16, 10, 10)
        self.bn2 = BN2(16)
        self.act2 = Act()
        self.pool2 = Pool(2, 2)                                          # (N, 16, 5, 5)
        self.flatten = nn.Flatten()                                      # (N, 400)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.bn3 = BN1(120)
        self.act3 = Act()
        self.fc2 = nn.Linear(120, 84)
        self.bn4 = BN1(84)
        self.act4 = Act()
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        if x.dim() != 4 or tuple(x.shape[1:]) != (self.in_channels, self.input_size, self.input_size):
            raise ValueError(
                f"LeNet(padding={self.conv1.padding[0]}) expects images of shape "
                f"(N, {self.in_channels}, {self.input_size}, {self.input_size}), got {tuple(x.shape)}"
            )
        def bn(layer, t):  # the plain LeNet has no bn modules (its layer table stays the lecture's)
            return t if layer is None else layer(t)

        x = self.pool1(self.act1(bn(self.bn1, self.conv1(x))))
        x = self.pool2(self.act2(bn(self.bn2, self.conv2(x))))
        x = self.flatten(x)
        x = self.act3(bn(self.bn3, self.fc1(x)))
        x = self.act4(bn(self.bn4, self.fc2(x)))
        return self.fc3(x)

    @classmethod
    def small(cls, num_classes=10, in_channels=1, **kwargs):
        """The CPU-sized network for ``(N, in_channels, 28, 28)``: LeNet is that size already."""
        return cls(num_classes=num_classes, in_channels=in_channels, **kwargs)


def BNLeNet(variant="modern", num_classes=10, padding=2, in_channels=1):
    """``LeNet(..., batch_norm=True)``: LeNet with batch normalization before each hidden activation."""
    return LeNet(variant, num_classes=num_classes, padding=padding, batch_norm=True, in_channels=in_channels)
