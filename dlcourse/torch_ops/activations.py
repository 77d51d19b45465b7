"""Leaky ReLU and GELU in PyTorch (chapter 17): the twins of :mod:`dlcourse.numpy_ops.activations`.

Written with tensor operations (never ``torch.nn.functional``'s versions), so autograd gives the
backward passes the NumPy twin writes by hand.  Integer inputs become float64, as in NumPy.
"""
from __future__ import annotations

import math

import torch

from dlcourse.numpy_ops.activations import _GELU_CUBIC, _SQRT_2_OVER_PI, check_approximate, check_negative_slope
from dlcourse.torch_ops.conv import as_tensor

__all__ = ["leaky_relu", "gelu"]


def _float(X, name):
    X = as_tensor(X, name)
    return X if X.is_floating_point() else X.to(torch.float64)


def leaky_relu(X, negative_slope=0.01):
    """``X`` where ``X > 0``, else ``negative_slope * X``; autograd's slope at 0 is ``negative_slope``."""
    check_negative_slope(negative_slope)
    X = _float(X, "X")
    return torch.where(X > 0, X, negative_slope * X)


def gelu(X, approximate="none"):
    """``X * Phi(X)``: ``Phi`` the normal CDF (``"none"``) or its tanh approximation (``"tanh"``)."""
    check_approximate(approximate)
    X = _float(X, "X")
    if approximate == "tanh":
        return 0.5 * X * (1 + torch.tanh(_SQRT_2_OVER_PI * (X + _GELU_CUBIC * X**3)))
    return 0.5 * X * (1 + torch.erf(X / math.sqrt(2.0)))
