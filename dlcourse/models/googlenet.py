"""GoogLeNet (Szegedy et al., 2015): networks with parallel branches (chapter 11).

An :class:`Inception` block runs four branches on the same input and concatenates their outputs
along the channels: a 1x1 convolution (``c1`` channels); a 1x1 "reduce" convolution then a 3x3
(``c2 = (reduce, out)``); a 1x1 reduce then a 5x5 (``c3``); a 3x3 max pool (stride 1) then a 1x1
"pool projection" (``c4``).  Every convolution is followed by a ReLU; the padding keeps the size,
so ``(N, C, H, W) -> (N, c1 + c2[1] + c3[1] + c4, H, W)``.

:class:`GoogLeNet` is the paper's network as d2l builds it: a stem (7x7/2 convolution, 3x3/2 max
pool, 1x1 then 3x3 convolution, max pool), inception blocks 3a-3b, pool, 4a-4e, pool, 5a-5b
(their widths are :data:`INCEPTION_CONFIGS`, the paper's table 1), global average pool, 40 %
dropout and one dense layer.  Left out, as in d2l: the two local response normalizations and the
two auxiliary classifiers used only in training.

Counted against the lecture's table (3x224x224 input; MACs = the table's "ops"):

* ops agree within 1 % for every inception row but 5a (3a 128.0 M, 3b 304.3 M, ..., 5b 70.7 M)
  and for the two stem convolutions after the first (12.8 M + 346.8 M = 359.7 M against 360M);
* the params column counts weights without biases in units of 1,024, not 1,000, and loosely:
  3a has 163,328 weights = 159.5 "K" (the table's 159K; its own ops, 128 M = 28 x 28 x 163,328,
  are computed from 163,328), 3b 388,096 = 379 "K" (380K), 4a 375,552 = 367 "K" (364K), within
  2 % for all rows but two.  4c: 509,440 weights = 497.5 "K" against 463K, while its ops (100M)
  match the real 509,440 x 196 -- a slip in the params column.  5a: 1,042,432 weights and
  51.1 M MACs against 1072K and 54M; the two published figures agree with each other
  (1,072 x 1,024 x 49 = 53.8 M) but not with the row's own widths, so the row was computed from
  different widths than it lists.  :data:`INCEPTION_TABLE` holds the published figures, the
  tests pin these bounds;
* the first convolution is quoted as 2.7K / 34M, which is consistent with itself
  (2.7K x 112 x 112 = 34 M) but not with a 7x7 convolution from 3 channels to 64: that has
  9,408 weights and 118 M MACs.

The lecture's comparison "Inception 0.16 M / 128 M vs 3x3 conv 0.44 M / 346 M vs 5x5 conv
1.22 M / 963 M" is block 3a against a single 3x3 or 5x5 convolution with the same input
(192 channels, 28x28) and output (256 channels): 192 x 256 x 9 = 442,368 and 192 x 256 x 25 =
1,228,800 weights, times 784 positions.

:meth:`GoogLeNet.small` is the CPU-sized network for 28x28 digits: every width times 1/4, a 3x3
first convolution of stride 1, the same nine inception blocks, with batch normalization.
"""
from __future__ import annotations

import torch
from torch import nn

from dlcourse.models._common import check_images, init_weights

__all__ = ["Inception", "GoogLeNet", "INCEPTION_CONFIGS", "INCEPTION_TABLE"]

INCEPTION_CONFIGS = {
    "3a": (64, (96, 128), (16, 32), 32),
    "3b": (128, (128, 192), (32, 96), 64),
    "4a": (192, (96, 208), (16, 48), 64),
    "4b": (160, (112, 224), (24, 64), 64),
    "4c": (128, (128, 256), (24, 64), 64),
    "4d": (112, (144, 288), (32, 64), 64),
    "4e": (256, (160, 320), (32, 128), 128),
    "5a": (256, (160, 320), (32, 128), 128),
    "5b": (384, (192, 384), (48, 128), 128),
}
"""The paper's table 1: block -> ``(#1x1, (#3x3 reduce, #3x3), (#5x5 reduce, #5x5), pool proj)``."""

INCEPTION_TABLE = {
    "3a": (159_000, 128_000_000), "3b": (380_000, 304_000_000),
    "4a": (364_000, 73_000_000), "4b": (437_000, 88_000_000), "4c": (463_000, 100_000_000),
    "4d": (580_000, 119_000_000), "4e": (840_000, 170_000_000),
    "5a": (1_072_000, 54_000_000), "5b": (1_388_000, 71_000_000),
}
"""The published ``(params, ops)`` of each inception block (the lecture's table, from the paper),
as printed -- see the module docstring for how they compare with the counted figures."""


def _conv_relu(in_channels, out_channels, kernel_size, padding=0, stride=1, batch_norm=False):
    """conv + ReLU, or conv (no bias) + batch norm + ReLU (Inception-BN)."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=not batch_norm)
    if batch_norm:
        return nn.Sequential(conv, nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))
    return nn.Sequential(conv, nn.ReLU(inplace=True))


class Inception(nn.Module):
    """One inception block: ``(N, in_channels, H, W) -> (N, c1 + c2[1] + c3[1] + c4, H, W)``.

    ``c1``: channels of the 1x1 branch (``b1``); ``c2 = (reduce, out)``: the 1x1 -> 3x3 branch
    (``b2``); ``c3 = (reduce, out)``: the 1x1 -> 5x5 branch (``b3``); ``c4``: the 1x1 after the
    3x3/1 max pool (``b4``).  Each convolution has a bias and a ReLU; with ``batch_norm``, a batch
    norm instead of the bias, before the ReLU (Inception-BN, "v2").
    """

    def __init__(self, in_channels, c1, c2, c3, c4, batch_norm=False):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = c1 + c2[1] + c3[1] + c4
        bn = batch_norm
        self.b1 = _conv_relu(in_channels, c1, 1, batch_norm=bn)
        self.b2 = nn.Sequential(_conv_relu(in_channels, c2[0], 1, batch_norm=bn),
                                _conv_relu(c2[0], c2[1], 3, padding=1, batch_norm=bn))
        self.b3 = nn.Sequential(_conv_relu(in_channels, c3[0], 1, batch_norm=bn),
                                _conv_relu(c3[0], c3[1], 5, padding=2, batch_norm=bn))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), _conv_relu(in_channels, c4, 1, batch_norm=bn))

    def forward(self, x):
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Inception expects (N, {self.in_channels}, H, W), got {tuple(x.shape)}")
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], dim=1)


class GoogLeNet(nn.Module):
    """GoogLeNet for ``(N, in_channels, H, W)`` images -> logits ``(N, num_classes)``.

    ``width``: every channel count of the stem and of :data:`INCEPTION_CONFIGS` times this factor
    (rounded, at least 1); ``stem``: ``(kernel, stride, padding)`` of the first convolution
    (``(7, 2, 3)``); ``dropout``: before the dense layer (0.4); ``batch_norm``: every convolution
    followed by a batch norm (Inception-BN, the lecture's "v2"; default False, the paper's network).

    Modules, in order: ``conv1``, ``pool1``, ``conv2_reduce``, ``conv2``, ``pool2``,
    ``inception3a``, ``inception3b``, ``pool3``, ``inception4a`` ... ``inception4e``, ``pool4``,
    ``inception5a``, ``inception5b``, ``gap``, ``flatten``, ``dropout``, ``fc``
    (:meth:`dlcourse.models.ComplexityTable.group` gives one row each).
    """

    def __init__(self, num_classes=1000, in_channels=3, width=1.0, stem=(7, 2, 3), dropout=0.4, batch_norm=False):
        super().__init__()
        if width <= 0:
            raise ValueError(f"width must be positive, got {width!r}")
        self.in_channels, self.width = in_channels, width

        def w(c):
            return max(1, int(round(c * width)))

        k, s, p = stem
        bn = batch_norm
        self.conv1 = _conv_relu(in_channels, w(64), k, padding=p, stride=s, batch_norm=bn)
        self.pool1 = nn.MaxPool2d(3, 2, padding=1)
        self.conv2_reduce = _conv_relu(w(64), w(64), 1, batch_norm=bn)
        self.conv2 = _conv_relu(w(64), w(192), 3, padding=1, batch_norm=bn)
        self.pool2 = nn.MaxPool2d(3, 2, padding=1)
        c = w(192)
        for stage, names in (("3", "ab"), ("4", "abcde"), ("5", "ab")):
            for letter in names:
                c1, (r2, c2), (r3, c3), c4 = INCEPTION_CONFIGS[stage + letter]
                block = Inception(c, w(c1), (w(r2), w(c2)), (w(r3), w(c3)), w(c4), batch_norm=bn)
                self.add_module(f"inception{stage}{letter}", block)
                c = block.out_channels
            if stage != "5":
                self.add_module(f"pool{stage}", nn.MaxPool2d(3, 2, padding=1))
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(c, num_classes)
        init_weights(self)

    def forward(self, x):
        check_images(self, x, self.in_channels)
        for module in self.children():
            x = module(x)
        return x

    @classmethod
    def small(cls, num_classes=10, in_channels=1, **kwargs):
        """The CPU-sized GoogLeNet for 28x28 digits: ``width=1/4``, a 3x3 stride-1 first
        convolution (28 -> pools 14, 7, 4, 2; inception 3a at 7x7), ``batch_norm=True``
        (Inception-BN) and dropout 0.2 before the classifier.  Keyword arguments override these.

        Why a quarter of the widths: at an eighth (96 K parameters) the network underfit the
        MNIST benchmark (98.3 % validation accuracy, training accuracy no higher); a quarter
        (379 K parameters) reached 99.4 % for about 25 % more CPU time, since the many small
        convolutions cost per call more than per multiply (benchmarks/modern_cnns.py,
        ``settings_trials``).

        Why batch norm here: the plain network, 22 convolutions deep with branches of 2 to 48
        channels, learns too slowly for the benchmark's two-minute budget (measured on the MNIST
        split, 3 epochs of SGD: 68 % validation accuracy at the best learning rate tried, against
        95 % with batch norm)."""
        args = dict(width=0.25, stem=(3, 1, 1), dropout=0.2, batch_norm=True)
        args.update(kwargs)
        return cls(num_classes=num_classes, in_channels=in_channels, **args)
