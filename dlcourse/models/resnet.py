"""ResNet (He, Zhang, Ren and Sun, 2016): residual blocks (chapter 13).

A :class:`Residual` block computes ``relu(F(x) + shortcut(x))`` with ``F`` = 3x3 conv, batch
norm, ReLU, 3x3 conv, batch norm.  The convolutions have no bias: the batch norm after each
subtracts the channel mean, which would cancel any bias, and adds its own shift.  The shortcut is
the identity, or -- when the block changes the number of channels or halves the size with
``stride=2`` -- a 1x1 convolution of that stride followed by a batch norm (the paper's option B).

:class:`ResNet` stacks them in stages after a stem (7x7/2 convolution, batch norm, ReLU, 3x3/2 max
pool); the first block of every stage after the first halves the size and doubles the channels;
a global average pool and one dense layer classify.  ``resnet18()`` (stages of 2, 2, 2, 2 blocks)
has 11,689,512 parameters and 1.814 G multiply-adds in its convolutions and dense layer at
3x224x224 / 1000 classes (the paper's table 1: "1.8 x 10^9 FLOPs"); ``resnet34()`` (3, 4, 6, 3)
has 21,797,672 and 3.664 G ("3.6 x 10^9").  The batch norms add 2.5 M (ResNet-18) and 3.7 M
(ResNet-34) MACs under :mod:`dlcourse.models.complexity`'s convention, about 0.1 %.

:meth:`ResNet.small` is the CPU-sized network for 28x28 digits: a 3x3 stride-1 stem without the
max pool and three stages of one block with 16, 32 and 64 channels.
"""
from __future__ import annotations

from torch import nn

from dlcourse.models._common import check_images, init_weights

__all__ = ["Residual", "ResNet", "resnet18", "resnet34"]


class Residual(nn.Module):
    """The basic residual block: ``(N, in_channels, H, W) -> (N, out_channels, H/stride, W/stride)``.

    ``out_channels``: default ``in_channels``; ``stride``: of the first convolution (and of the
    shortcut); ``use_1x1conv``: force the 1x1-convolution shortcut (default: only when the shape
    changes).  Modules: ``conv1``, ``bn1``, ``relu1``, ``conv2``, ``bn2``, ``shortcut`` (``None``
    for the identity), ``relu2``.
    """

    def __init__(self, in_channels, out_channels=None, stride=1, use_1x1conv=None):
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if use_1x1conv is None:
            use_1x1conv = stride != 1 or in_channels != out_channels
        if not use_1x1conv and (stride != 1 or in_channels != out_channels):
            raise ValueError(f"an identity shortcut needs the same shape in and out: in_channels={in_channels}, "
                             f"out_channels={out_channels}, stride={stride}")
        self.shortcut = (nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                       nn.BatchNorm2d(out_channels)) if use_1x1conv else None)
        self.relu2 = nn.ReLU(inplace=True)

    def forward(self, x):
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Residual expects (N, {self.in_channels}, H, W), got {tuple(x.shape)}")
        y = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(y + (x if self.shortcut is None else self.shortcut(x)))


class ResNet(nn.Module):
    """ResNet of basic blocks for ``(N, in_channels, H, W)`` images -> logits ``(N, num_classes)``.

    ``blocks``: residual blocks per stage (``(2, 2, 2, 2)``: ResNet-18); ``channels``: each
    stage's width (``(64, 128, 256, 512)``; the stem has ``channels[0]``); ``stem``: ``(kernel,
    stride, padding)`` of the first convolution (``(7, 2, 3)``); ``stem_pool``: the 3x3/2 max pool
    after it (True).

    Modules (torchvision's names): ``conv1``, ``bn1``, ``relu``, ``maxpool`` (an ``Identity``
    without ``stem_pool``), ``layer1`` ... ``layerK`` (``nn.Sequential`` of :class:`Residual`),
    ``avgpool``, ``flatten``, ``fc``.
    """

    def __init__(self, blocks=(2, 2, 2, 2), num_classes=1000, in_channels=3, channels=(64, 128, 256, 512),
                 stem=(7, 2, 3), stem_pool=True):
        super().__init__()
        if len(blocks) != len(channels) or not blocks:
            raise ValueError(f"blocks and channels must describe the same stages, got {blocks!r} and {channels!r}")
        self.in_channels = in_channels
        k, s, p = stem
        self.conv1 = nn.Conv2d(in_channels, channels[0], k, stride=s, padding=p, bias=False)
        self.bn1 = nn.BatchNorm2d(channels[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, padding=1) if stem_pool else nn.Identity()
        c = channels[0]
        for i, (n, out) in enumerate(zip(blocks, channels), start=1):
            stage = [Residual(c, out, stride=1 if i == 1 else 2)]
            stage += [Residual(out, out) for _ in range(n - 1)]
            self.add_module(f"layer{i}", nn.Sequential(*stage))
            c = out
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(c, num_classes)
        init_weights(self)

    def forward(self, x):
        check_images(self, x, self.in_channels)
        for module in self.children():
            x = module(x)
        return x

    @classmethod
    def small(cls, num_classes=10, in_channels=1, **kwargs):
        """The CPU-sized ResNet for 28x28 digits: stages of ``(1, 1, 1)`` blocks with ``(16, 32,
        64)`` channels (28 -> 28, 14, 7), a 3x3 stride-1 stem, no stem max pool.  Keyword
        arguments override these."""
        args = dict(blocks=(1, 1, 1), channels=(16, 32, 64), stem=(3, 1, 1), stem_pool=False)
        args.update(kwargs)
        return cls(num_classes=num_classes, in_channels=in_channels, **args)


def resnet18(num_classes=1000, in_channels=3, **kwargs):
    """ResNet-18: stages of 2, 2, 2, 2 basic blocks; 11,689,512 parameters at 3x224x224 / 1000 classes."""
    return ResNet((2, 2, 2, 2), num_classes=num_classes, in_channels=in_channels, **kwargs)


def resnet34(num_classes=1000, in_channels=3, **kwargs):
    """ResNet-34: stages of 3, 4, 6, 3 basic blocks; 21,797,672 parameters at 3x224x224 / 1000 classes."""
    return ResNet((3, 4, 6, 3), num_classes=num_classes, in_channels=in_channels, **kwargs)
