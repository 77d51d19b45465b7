"""Weight initialization in NumPy (chapter 18): the naive normal, Xavier/Glorot and He/Kaiming.

Each initializer returns a NEW array of the given ``shape`` (PyTorch's ``torch.nn.init``
functions fill a tensor in place instead; the variances are the same).  Shapes follow PyTorch's
layouts: a linear weight is ``(D_out, D_in)``, a convolution weight ``(O, C, kh, kw)``.  What sets
the scale is :func:`fan_in_and_fan_out`:

* ``fan_in``  = inputs feeding one output unit  = ``D_in``  or ``C * kh * kw``;
* ``fan_out`` = outputs one input unit feeds    = ``D_out`` or ``O * kh * kw``.

Xavier/Glorot (Glorot and Bengio, 2010) keeps the variance of activations and of gradients about
constant through a linear (or tanh) layer: ``Var(w) = gain^2 * 2 / (fan_in + fan_out)``.  He/Kaiming
(He et al., 2015) compensates the half of the signal a ReLU removes: ``Var(w) = gain^2 / fan`` with
``gain = sqrt(2)`` for ReLU.  ``rng``: ``None`` (fresh entropy), an int seed or a
``np.random.Generator``; ``dtype``: the array's dtype, float32 by default as the course's layers.
"""
from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

__all__ = ["fan_in_and_fan_out", "calculate_gain", "normal_init", "xavier_uniform", "xavier_normal",
           "kaiming_uniform", "kaiming_normal"]

FAN_MODES = ("fan_in", "fan_out")
_LINEAR_GAINS = ("linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                 "conv_transpose3d", "sigmoid")


def _shape(shape):
    if isinstance(shape, Integral):
        shape = (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(f"shape must be a tuple of ints, got {shape!r}") from None
    if not all(isinstance(s, Integral) and not isinstance(s, bool) and s >= 0 for s in shape):
        raise ValueError(f"shape must hold non-negative ints, got {shape!r}")
    return tuple(int(s) for s in shape)


def fan_in_and_fan_out(shape):
    """``(fan_in, fan_out)`` of a weight of ``shape``, as ``torch.nn.init._calculate_fan_in_and_fan_out``.

    ``shape``: ``(D_out, D_in)`` for a linear layer, ``(O, C, k...)`` for a convolution (any number
    of kernel dimensions).  ``fan_in = C * prod(k)``, ``fan_out = O * prod(k)``.  A shape with fewer
    than 2 dimensions (a bias) has no fans: ``ValueError``.
    """
    shape = _shape(shape)
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out need a weight with at least 2 dimensions, got shape {shape}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity, param=None):
    """The gain the initializers multiply by, as ``torch.nn.init.calculate_gain``.

    1 for linear layers, convolutions and sigmoid; 5/3 for tanh; sqrt(2) for ReLU;
    ``sqrt(2 / (1 + a^2))`` for leaky ReLU with slope ``a = param`` (0.01 if None); 3/4 for SELU.
    """
    if nonlinearity in _LINEAR_GAINS:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, Real):
            raise ValueError(f"negative slope {slope!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")


def _generator(rng):
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _fan(shape, mode):
    if mode not in FAN_MODES:
        raise ValueError(f"mode must be one of {FAN_MODES}, got {mode!r}")
    fan_in, fan_out = fan_in_and_fan_out(shape)
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:
        raise ValueError(f"cannot initialize a weight of shape {tuple(shape)}: its {mode} is 0")
    return fan


def xavier_std(shape, gain=1.0):
    """``gain * sqrt(2 / (fan_in + fan_out))``: the standard deviation both Xavier variants give."""
    fan_in, fan_out = fan_in_and_fan_out(shape)
    if fan_in + fan_out == 0:
        raise ValueError(f"cannot initialize a weight of shape {tuple(shape)}: fan_in + fan_out is 0")
    return gain * math.sqrt(2.0 / (fan_in + fan_out))


def kaiming_std(shape, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """``gain / sqrt(fan)``: the standard deviation both He/Kaiming variants give."""
    return calculate_gain(nonlinearity, a) / math.sqrt(_fan(shape, mode))


def normal_init(shape, std=1.0, rng=None, dtype=None):
    """The naive initialization: independent ``N(0, std^2)`` entries, whatever the layer's size."""
    if not std >= 0:
        raise ValueError(f"std must be non-negative, got {std!r}")
    return (_generator(rng).standard_normal(_shape(shape)) * std).astype(dtype or np.float32)


def xavier_uniform(shape, gain=1.0, rng=None, dtype=None):
    """Xavier/Glorot uniform: ``U(-b, b)`` with ``b = gain * sqrt(6 / (fan_in + fan_out))``."""
    bound = math.sqrt(3.0) * xavier_std(shape, gain)  # U(-b, b) has variance b^2 / 3
    return _generator(rng).uniform(-bound, bound, size=_shape(shape)).astype(dtype or np.float32)


def xavier_normal(shape, gain=1.0, rng=None, dtype=None):
    """Xavier/Glorot normal: ``N(0, gain^2 * 2 / (fan_in + fan_out))``."""
    return normal_init(shape, xavier_std(shape, gain), rng, dtype)


def kaiming_uniform(shape, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None, dtype=None):
    """He/Kaiming uniform: ``U(-b, b)`` with ``b = sqrt(3) * gain / sqrt(fan)``, as
    ``torch.nn.init.kaiming_uniform_`` (``a``: leaky ReLU's slope; ``a=0`` gives ReLU's gain sqrt(2))."""
    bound = math.sqrt(3.0) * kaiming_std(shape, a, mode, nonlinearity)
    return _generator(rng).uniform(-bound, bound, size=_shape(shape)).astype(dtype or np.float32)


def kaiming_normal(shape, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None, dtype=None):
    """He/Kaiming normal: ``N(0, gain^2 / fan)``; ``mode="fan_in"`` keeps the forward signal's
    variance, ``"fan_out"`` the backward gradient's."""
    return normal_init(shape, kaiming_std(shape, a, mode, nonlinearity), rng, dtype)
