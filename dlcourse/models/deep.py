"""Deep, narrow networks for studying how signals and gradients travel (chapters 17-18).

:class:`DeepMLP` and :class:`DeepCNN` stack ``depth`` identical layers, each a linear map (a
fully connected layer or a 3x3 convolution), optionally a batch norm (chapter 12), then an
activation, optionally wrapped in a residual connection ``h + layer(h)`` (chapter 13).  Nothing in
them is tuned to train well: they exist to be initialized with :func:`initialize` under one
scheme or another and measured with :func:`gradient_norms` and :func:`activation_stds`.

Both take MNIST-shaped input ``(N, 1, 28, 28)`` and return logits ``(N, num_classes)``.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dlcourse import torch_ops

__all__ = ["ACTIVATIONS", "SCHEMES", "DeepMLP", "DeepCNN", "initialize", "weight_layers", "gradient_norms",
           "activation_stds"]

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU}
SCHEMES = ("naive", "xavier", "he")


def _activation(name):
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]()


class Layer(nn.Module):
    """``act(bn(linear(h)))``, and ``h + that`` when ``residual`` (same width in and out)."""

    def __init__(self, linear, bn, act, residual):
        super().__init__()
        self.linear, self.bn, self.act, self.residual = linear, bn, act, residual

    def forward(self, h):
        z = self.act(self.bn(self.linear(h)))
        return h + z if self.residual else z


class DeepMLP(nn.Module):
    """``depth`` fully connected layers of ``width`` units, then a linear classifier.

    Layer 1 maps the 784 pixels to ``width``; layers 2..depth map ``width`` to ``width`` (these get
    the residual connection when ``residual=True``).  ``activation``: a key of :data:`ACTIVATIONS`.
    ``batch_norm``: a ``BatchNorm1d`` between every hidden linear map and its activation.
    """

    def __init__(self, depth=10, width=128, activation="relu", batch_norm=False, residual=False, in_features=784,
                 num_classes=10):
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self.activation = activation
        layers = []
        for i in range(depth):
            d_in = in_features if i == 0 else width
            layers.append(Layer(nn.Linear(d_in, width), nn.BatchNorm1d(width) if batch_norm else nn.Identity(),
                                _activation(activation), residual and i > 0))
        self.layers = nn.Sequential(*layers)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.head(self.layers(x.flatten(1)))


class DeepCNN(nn.Module):
    """``depth`` 3x3 convolutions of ``channels`` channels (padding 1), then global average pooling
    and a linear classifier.  A 2x2 max pool after the first layer halves the 28x28 image to 14x14
    (a quarter of the work); layers 2..depth keep the shape, so they can be residual."""

    def __init__(self, depth=10, channels=16, activation="relu", batch_norm=False, residual=False, in_channels=1,
                 num_classes=10):
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self.activation = activation
        layers = []
        for i in range(depth):
            c_in = in_channels if i == 0 else channels
            layers.append(Layer(nn.Conv2d(c_in, channels, 3, padding=1),
                                nn.BatchNorm2d(channels) if batch_norm else nn.Identity(),
                                _activation(activation), residual and i > 0))
            if i == 0:
                layers.append(nn.MaxPool2d(2))
        self.layers = nn.Sequential(*layers)
        self.head = nn.Linear(channels, num_classes)

    def forward(self, x):
        return self.head(self.layers(x).mean(dim=(2, 3)))


def weight_layers(model):
    """The model's ``nn.Linear`` and ``nn.Conv2d`` modules, input to output."""
    return [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def initialize(model, scheme, std=0.01, rng=0):
    """Re-initialize every linear and convolution weight of ``model`` in place; biases to 0.

    ``scheme``: ``"naive"`` (``N(0, std^2)`` whatever the layer's size), ``"xavier"`` (Glorot
    normal, gain 1) or ``"he"`` (Kaiming normal, fan in, ReLU's gain sqrt(2)); the weights come
    from :mod:`dlcourse.torch_ops`'s initializers.  ``rng``: int seed.  Returns ``model``.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    gen = torch.Generator().manual_seed(int(rng))
    with torch.no_grad():
        for m in weight_layers(model):
            shape = tuple(m.weight.shape)
            if scheme == "naive":
                w = torch_ops.normal_init(shape, std, rng=gen)
            elif scheme == "xavier":
                w = torch_ops.xavier_normal(shape, rng=gen)
            else:
                w = torch_ops.kaiming_normal(shape, nonlinearity="relu", rng=gen)
            m.weight.copy_(w)
            if m.bias is not None:
                m.bias.zero_()
    return model


def gradient_norms(model, X, y):
    """Norm of the cross-entropy loss's gradient for each weight of :func:`weight_layers`.

    One forward and backward pass of the batch ``(X, y)`` in training mode (the model's gradients
    are zeroed before and left filled after).  Returns a float64 array, input layer first.
    """
    model.train()
    model.zero_grad()
    nn.functional.cross_entropy(model(torch.as_tensor(X)), torch.as_tensor(y).long()).backward()
    return np.array([m.weight.grad.norm().item() for m in weight_layers(model)])


def activation_stds(model, X):
    """Standard deviation of every hidden layer's output (after its activation and residual
    addition) on the batch ``X``, in training mode, input side first.  Returns a float64 array."""
    stds, hooks = [], []
    for m in model.modules():
        if isinstance(m, Layer):
            hooks.append(m.register_forward_hook(lambda mod, inp, out: stds.append(out.std().item())))
    try:
        model.train()
        with torch.no_grad():
            model(torch.as_tensor(X))
    finally:
        for h in hooks:
            h.remove()
    return np.array(stds)
