"""Helpers shared by the model modules: input checks, feature-map sizes, weight initialization."""
from __future__ import annotations

from torch import nn

from dlcourse.shapes import conv_output_shape


def check_images(model, x, in_channels, input_size=None):
    """``ValueError`` naming the shapes unless ``x`` is ``(N, in_channels, H, W)`` (``H = W =
    input_size`` when the network's dense layers fix the size)."""
    name = type(model).__name__
    if x.dim() != 4 or x.shape[1] != in_channels:
        raise ValueError(f"{name} expects images of shape (N, {in_channels}, H, W), got {tuple(x.shape)}")
    if input_size is not None and tuple(x.shape[2:]) != (input_size, input_size):
        raise ValueError(f"{name} was built for {input_size}x{input_size} images (its dense layers fix the size): "
                         f"expected (N, {in_channels}, {input_size}, {input_size}), got {tuple(x.shape)}")


def spatial_size(layers, size):
    """The height (= width) after ``layers`` (convolutions and pools) of a ``size x size`` input."""
    first = size
    for m in layers:
        if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            k, s, p = (m.kernel_size, m.stride, m.padding)
            k, s, p = (v if isinstance(v, int) else v[0] for v in (k, s, p))
            d = m.dilation if isinstance(m, nn.Conv2d) else 1
            d = d if isinstance(d, int) else d[0]
            try:
                size = conv_output_shape(size, k, padding=p, stride=s, dilation=d)  # (no ceil_mode used here)
            except ValueError as err:
                raise ValueError(f"a {first}x{first} input is too small for this network: the feature map "
                                 f"vanishes at {m} ({err})") from None
    return size


def init_weights(model):
    """He (Kaiming) normal initialization for convolutions (variance ``2 / fan_in``, He et al. 2015),
    zero biases, batch norms at scale 1 / shift 0, dense layers Xavier-uniform (d2l's choice for
    these chapters).  With it the plain (batch-norm-free) deep networks start with activations of
    the same scale in every layer and train with SGD.  Not torchvision's ``fan_out`` mode: that
    preserves the scale of the gradients instead, and in GoogLeNet, whose 1x1 "reduce"
    convolutions have far fewer outputs than inputs, it multiplies the activations' scale by
    about 1.5 per inception block (x200 at the logits), so the plain network never starts
    learning; PyTorch's default (``kaiming_uniform_(a=sqrt(5))``, a third of the variance) shrinks
    them instead."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)


def dense_head(in_features, hidden, num_classes, dropout, first=1):
    """AlexNet's and VGG's classifier: flatten, two hidden dense layers (ReLU, dropout), the output.

    The dense layers are named ``fc{first}``, ``fc{first + 1}``, ``fc{first + 2}`` (AlexNet's paper
    counts from 6, VGG's from 1), as are their ReLU and dropout: the names are state_dict keys.
    """
    head = nn.Sequential()
    head.add_module("flatten", nn.Flatten())
    sizes = [(in_features, hidden), (hidden, hidden), (hidden, num_classes)]
    for i, (n_in, n_out) in enumerate(sizes, start=first):
        head.add_module(f"fc{i}", nn.Linear(n_in, n_out))
        if i < first + 2:
            head.add_module(f"relu{i}", nn.ReLU(inplace=True))
            head.add_module(f"drop{i}", nn.Dropout(dropout))
    return head
