"""Two more activation functions, in NumPy, each forward beside its backward (chapter 17).

* :func:`leaky_relu`: ReLU with a small slope for negative inputs, so a unit that is "off" still
  passes a little gradient (Maas et al., 2013);
* :func:`gelu`: the Gaussian error linear unit ``x * Phi(x)``, ``Phi`` the standard normal CDF
  (Hendrycks and Gimpel, 2016), exact or in its tanh approximation.

Both as ``torch.nn.functional.leaky_relu`` / ``gelu``; sigmoid, tanh and ReLU live in
:mod:`dlcourse.numpy_ops.layers` (chapter 7).  Every ``*_backward(dY, X, ...)`` takes
``dY = dL/dY`` and the forward's input and returns ``dL/dX``.  Floating inputs keep their dtype;
integer inputs become float64.
"""
from __future__ import annotations

import math
from numbers import Real

import numpy as np

from dlcourse.numpy_ops._arrays import as_numeric_array

__all__ = ["leaky_relu", "leaky_relu_backward", "gelu", "gelu_backward"]

GELU_APPROXIMATIONS = ("none", "tanh")
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715
# math.erf, elementwise: NumPy has no erf, and the exact GELU needs it to full float64 precision
# (an elementwise Python call: about a microsecond per value, fine for the sizes of the book).
_erf = np.vectorize(math.erf, otypes=[np.float64])


def check_negative_slope(negative_slope):
    """``negative_slope`` must be a real number (not an array, not a bool); else ``TypeError``."""
    if isinstance(negative_slope, bool) or not isinstance(negative_slope, Real):
        raise TypeError(f"negative_slope must be a real number, got {negative_slope!r}")


def check_approximate(approximate):
    """``approximate`` must be ``"none"`` or ``"tanh"`` (as ``F.gelu``); else ``ValueError``."""
    if approximate not in GELU_APPROXIMATIONS:
        raise ValueError(f"approximate must be one of {GELU_APPROXIMATIONS}, got {approximate!r}")


def _float(X, name):
    X = as_numeric_array(X, name)
    return X if np.issubdtype(X.dtype, np.inexact) else X.astype(np.float64)


def _check_same_shape(dY, X):
    if dY.shape != X.shape:
        raise ValueError(f"dY shape {dY.shape} must equal the forward input's shape {X.shape}")


# --- leaky ReLU ----------------------------------------------------------------------------------

def leaky_relu(X, negative_slope=0.01):
    """``X`` where ``X > 0``, else ``negative_slope * X``, elementwise; any shape."""
    check_negative_slope(negative_slope)
    X = _float(X, "X")
    return np.where(X > 0, X, negative_slope * X).astype(X.dtype, copy=False)


def leaky_relu_backward(dY, X, negative_slope=0.01):
    """Gradient of :func:`leaky_relu`: ``dY`` where ``X > 0``, else ``negative_slope * dY``.

    At the kink ``X == 0`` we use ``negative_slope``, as PyTorch does (``negative_slope = 0``
    gives :func:`~dlcourse.numpy_ops.relu_backward`, whose value there is 0).
    """
    check_negative_slope(negative_slope)
    dY, X = as_numeric_array(dY, "dY"), _float(X, "X")
    _check_same_shape(dY, X)
    return np.where(X > 0, dY, negative_slope * dY)


# --- GELU ----------------------------------------------------------------------------------------

def _gelu_parts(X, approximate):
    """``(Phi, dPhi)``: the gate (CDF or its tanh approximation) and its derivative, in float64."""
    x = X.astype(np.float64, copy=False)
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (x + _GELU_CUBIC * x**3)
        t = np.tanh(inner)
        return 0.5 * (1 + t), 0.5 * (1 - t * t) * _SQRT_2_OVER_PI * (1 + 3 * _GELU_CUBIC * x * x)
    return 0.5 * (1 + _erf(x / math.sqrt(2.0))), np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def gelu(X, approximate="none"):
    """Gaussian error linear unit ``X * Phi(X)``, elementwise; any shape, as ``F.gelu``.

    ``approximate="none"``: ``Phi`` is the standard normal CDF ``(1 + erf(x / sqrt 2)) / 2``;
    ``"tanh"``: ``(1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2``, the paper's approximation.
    Computed in float64 and returned in ``X``'s floating dtype.
    """
    check_approximate(approximate)
    X = _float(X, "X")
    phi, _ = _gelu_parts(X, approximate)
    return (X.astype(np.float64, copy=False) * phi).astype(X.dtype, copy=False)


def gelu_backward(dY, X, approximate="none"):
    """Gradient of :func:`gelu`: ``dY * (Phi(X) + X * Phi'(X))`` (product rule).

    Exact: ``Phi'`` is the standard normal density ``exp(-x^2/2) / sqrt(2 pi)``; tanh:
    the derivative of the approximation.  GELU is smooth everywhere: no kink, unlike ReLU.
    """
    check_approximate(approximate)
    dY, X = as_numeric_array(dY, "dY"), _float(X, "X")
    _check_same_shape(dY, X)
    phi, dphi = _gelu_parts(X, approximate)
    x = X.astype(np.float64, copy=False)
    return (dY * (phi + x * dphi)).astype(np.result_type(dY.dtype, X.dtype), copy=False)
