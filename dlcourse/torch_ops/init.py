"""Weight initialization in PyTorch (chapter 18): the twins of :mod:`dlcourse.numpy_ops.init`.

Same names, signatures and variances; each returns a new tensor.  The fan computation and the
gains are plain arithmetic on shapes, shared with the NumPy twin.  ``rng``: ``None`` (PyTorch's
global generator), an int seed or a ``torch.Generator``; ``dtype``: torch's default dtype
(float32) unless given.
"""
from __future__ import annotations

import math

import torch

from dlcourse.numpy_ops.init import _shape, calculate_gain, fan_in_and_fan_out, kaiming_std, xavier_std

__all__ = ["fan_in_and_fan_out", "calculate_gain", "normal_init", "xavier_uniform", "xavier_normal",
           "kaiming_uniform", "kaiming_normal"]


def _generator(rng):
    if rng is None or isinstance(rng, torch.Generator):
        return rng
    return torch.Generator().manual_seed(int(rng))


def normal_init(shape, std=1.0, rng=None, dtype=None):
    """The naive initialization: independent ``N(0, std^2)`` entries, whatever the layer's size."""
    if not std >= 0:
        raise ValueError(f"std must be non-negative, got {std!r}")
    return torch.randn(_shape(shape), generator=_generator(rng), dtype=dtype) * std


def _uniform(shape, bound, rng, dtype):
    return (torch.rand(_shape(shape), generator=_generator(rng), dtype=dtype) * 2 - 1) * bound


def xavier_uniform(shape, gain=1.0, rng=None, dtype=None):
    """Xavier/Glorot uniform: ``U(-b, b)`` with ``b = gain * sqrt(6 / (fan_in + fan_out))``."""
    return _uniform(shape, math.sqrt(3.0) * xavier_std(shape, gain), rng, dtype)


def xavier_normal(shape, gain=1.0, rng=None, dtype=None):
    """Xavier/Glorot normal: ``N(0, gain^2 * 2 / (fan_in + fan_out))``."""
    return normal_init(shape, xavier_std(shape, gain), rng, dtype)


def kaiming_uniform(shape, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None, dtype=None):
    """He/Kaiming uniform: ``U(-b, b)`` with ``b = sqrt(3) * gain / sqrt(fan)``."""
    return _uniform(shape, math.sqrt(3.0) * kaiming_std(shape, a, mode, nonlinearity), rng, dtype)


def kaiming_normal(shape, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None, dtype=None):
    """He/Kaiming normal: ``N(0, gain^2 / fan)``."""
    return normal_init(shape, kaiming_std(shape, a, mode, nonlinearity), rng, dtype)
