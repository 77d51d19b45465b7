"""Joining paths in NumPy: residual addition (ResNet) and channel concatenation (GoogLeNet).

A residual block computes ``Y = X + F(X)``: the shortcut carries ``X`` around the block's layers
``F`` and the two are added, so the gradient reaches ``X`` twice, once through ``F`` and once
unchanged -- the reason deep residual networks keep training.  An inception block runs several
branches side by side and stacks their outputs along the channel axis.  Both are forward
functions beside their backward.
"""
from __future__ import annotations

from numbers import Integral

import numpy as np

from dlcourse.numpy_ops._arrays import as_numeric_array

__all__ = ["residual_add", "residual_add_backward", "concat_channels", "concat_channels_backward"]


# --- checks shared with the torch twin (shape tuples only) ----------------------------------------

def check_residual_shapes(x_shape, fx_shape):
    if tuple(x_shape) != tuple(fx_shape):
        raise ValueError(
            f"residual_add needs equal shapes: shortcut X shape {tuple(x_shape)}, branch F(X) shape "
            f"{tuple(fx_shape)} (project the shortcut, e.g. a 1x1 convolution, when channels or size change)"
        )


def check_concat_shapes(shapes):
    """Shapes ``(N, C_i, ...)`` that agree on every axis but 1; returns the list of ``C_i``."""
    shapes = [tuple(s) for s in shapes]
    if not shapes:
        raise ValueError("concat_channels needs at least one array")
    for i, s in enumerate(shapes):
        if len(s) < 2:
            raise ValueError(f"input {i} must be (N, C, ...) with channels on axis 1, got shape {s}")
    first = shapes[0]
    for i, s in enumerate(shapes[1:], start=1):
        if len(s) != len(first) or s[:1] != first[:1] or s[2:] != first[2:]:
            raise ValueError(
                f"concat_channels: input {i} has shape {s} but input 0 has shape {first}; all must agree "
                f"on every axis except the channels (axis 1)"
            )
    return [s[1] for s in shapes]


def check_channel_splits(dy_shape, channels):
    """``channels``: non-negative ints summing to ``dY``'s axis 1; returns them as a list."""
    if isinstance(channels, Integral) or not all(isinstance(c, Integral) and not isinstance(c, bool) for c in channels):
        raise TypeError(f"channels must be a sequence of ints (each input's channel count), got {channels!r}")
    channels = [int(c) for c in channels]
    if len(dy_shape) < 2 or any(c < 0 for c in channels) or sum(channels) != dy_shape[1]:
        raise ValueError(
            f"channels {channels} must be non-negative and sum to dY's {dy_shape[1] if len(dy_shape) > 1 else '?'} "
            f"channels (dY shape {tuple(dy_shape)})"
        )
    return channels


# --- residual addition --------------------------------------------------------------------------

def residual_add(X, FX):
    """The shortcut connection of a residual block: ``Y = X + F(X)``.

    ``X``: the block's input (after the projection shortcut, if any); ``FX``: the output of the
    block's layers, the same shape (``(N, C, H, W)`` in a ResNet).  Returns ``Y``, same shape.
    """
    X, FX = as_numeric_array(X, "X"), as_numeric_array(FX, "FX")
    check_residual_shapes(X.shape, FX.shape)
    return X + FX


def residual_add_backward(dY):
    """Gradient of :func:`residual_add`: ``(dX, dFX)``, both equal to ``dY``.

    An addition passes its gradient unchanged to both operands; the shortcut's copy is the
    "highway" along which the gradient reaches early layers undiminished.  Two separate arrays,
    so a caller may accumulate into one without changing the other.
    """
    dY = as_numeric_array(dY, "dY")
    return dY, dY.copy()


# --- channel concatenation ----------------------------------------------------------------------

def concat_channels(Xs):
    """Stack feature maps along the channel axis, as ``torch.cat(Xs, dim=1)``.

    ``Xs``: a sequence of arrays ``(N, C_i, H, W)`` (or ``(N, C_i)``) agreeing on every axis but
    the channels.  Returns ``(N, sum C_i, H, W)``: input 0's channels first.
    """
    if isinstance(Xs, np.ndarray) or not hasattr(Xs, "__len__"):
        raise TypeError(f"Xs must be a list or tuple of arrays, got {type(Xs).__name__}")
    Xs = [as_numeric_array(X, f"Xs[{i}]") for i, X in enumerate(Xs)]
    check_concat_shapes([X.shape for X in Xs])
    return np.concatenate(Xs, axis=1)


def concat_channels_backward(dY, channels):
    """Gradient of :func:`concat_channels`: ``dY`` cut back into the inputs' channel blocks.

    ``dY: (N, sum C_i, ...)``; ``channels``: the ``C_i`` in input order.  Returns a list of
    arrays ``(N, C_i, ...)``: each branch gets the gradient of the channels it produced.
    """
    dY = as_numeric_array(dY, "dY")
    channels = check_channel_splits(dY.shape, channels)
    bounds = np.cumsum([0, *channels])
    return [dY[:, a:b].copy() for a, b in zip(bounds[:-1], bounds[1:])]
