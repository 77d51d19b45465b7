"""Batch normalization in NumPy, forward and backward (chapter 12).

Batch normalization standardizes every channel over the minibatch (and, for images, over the
pixels), then lets the network rescale and shift it with two learned vectors::

    mu_c    = mean of X[:, c, ...]                 (over N and every spatial position)
    var_c   = mean of (X[:, c, ...] - mu_c)**2     (biased: divided by m = N*H*W)
    Y       = weight_c * (X - mu_c) / sqrt(var_c + eps) + bias_c

In training mode the statistics are the batch's own, and ``running_mean``/``running_var`` track
their exponential moving averages for evaluation:
``running <- (1 - momentum) * running + momentum * batch_stat``, where the variance that goes into
the running average is the *unbiased* one (``var_c * m / (m - 1)``), exactly as torch does.  In
evaluation mode the running statistics replace the batch's, so the layer becomes a fixed affine
map per channel and a prediction no longer depends on the other images in the batch.

The channel axis is axis 1, as in torch: ``X (N, C)`` after a linear layer (``BatchNorm1d``),
``X (N, C, H, W)`` after a convolution (``BatchNorm2d``); any ``(N, C, ...)`` works.
"""
from __future__ import annotations

from numbers import Real

import numpy as np

from dlcourse.numpy_ops._arrays import as_numeric_array

__all__ = ["batch_norm", "batch_norm_backward"]


# --- checks shared with the torch twin (plain shapes and numbers, no arrays) ---------------------

def check_batch_norm_args(x_shape, stats_shapes, training, momentum, eps):
    """Validate a :func:`batch_norm` call; return ``(C, m)``: channels and values per channel.

    ``stats_shapes``: ``name -> shape or None`` for ``running_mean``, ``running_var``,
    ``weight`` and ``bias`` (each must be ``(C,)`` when given).
    """
    x_shape = tuple(x_shape)
    if len(x_shape) < 2:
        raise ValueError(f"X must be (N, C) or (N, C, H, W) (channels on axis 1), got shape {x_shape}")
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"training must be True or False, got {training!r}")
    for name, value in (("momentum", momentum), ("eps", eps)):
        if not isinstance(value, Real) or isinstance(value, bool):
            raise TypeError(f"{name} must be a real number, got {value!r}")
    if not 0 <= momentum <= 1:
        raise ValueError(f"momentum must be in [0, 1], got {momentum!r}")
    if not eps > 0:
        raise ValueError(f"eps must be positive (it keeps the division finite), got {eps!r}")
    c = x_shape[1]
    for name, shape in stats_shapes.items():
        if shape is not None and tuple(shape) != (c,):
            raise ValueError(f"{name} must have shape ({c},), one entry per channel of X shape {x_shape}, got {tuple(shape)}")
    if not training and (stats_shapes["running_mean"] is None or stats_shapes["running_var"] is None):
        raise ValueError("evaluation mode (training=False) normalizes with running_mean and running_var: both are needed")
    m = int(np.prod(x_shape)) // c if c else 0
    if training and m <= 1:
        raise ValueError(
            f"training mode needs more than 1 value per channel to estimate a variance, got X shape {x_shape}"
        )
    return c, m


def _axes_and_shape(X):
    """The axes a channel's statistics reduce over, and the shape ``(1, C, 1, ...)`` they broadcast as."""
    return (0, *range(2, X.ndim)), (1, X.shape[1]) + (1,) * (X.ndim - 2)


def _float(X, name):
    X = as_numeric_array(X, name)
    return X if np.issubdtype(X.dtype, np.floating) else X.astype(np.float64)


def _stats_array(value, name, training):
    """A running statistic: updated in place in training mode, so it must be a float ndarray then."""
    if value is None:
        return None
    if training:
        if not (isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating)):
            raise TypeError(
                f"{name} must be a floating np.ndarray in training mode (it is updated in place), "
                f"got {type(value).__name__}"
            )
        if not value.flags.writeable:
            raise ValueError(f"{name} is read-only, but training mode updates it in place")
        return value
    return _float(value, name)


def batch_norm(X, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Batch normalization, as ``torch.nn.functional.batch_norm`` (same arguments, same order).

    ``X: (N, C)`` or ``(N, C, H, W)`` (any ``(N, C, ...)``); ``running_mean, running_var: (C,)``
    or None; ``weight`` (gamma) and ``bias`` (beta): ``(C,)`` or None (no scaling / no shift).
    ``training=True``: normalize with the batch's mean and biased variance, and update the running
    statistics **in place** (``running <- (1 - momentum) * running + momentum * stat``, the
    unbiased variance for ``running_var``), skipping any that is None.  ``training=False``:
    normalize with ``running_mean`` and ``running_var``.  Returns ``Y`` shaped like ``X``.
    """
    X = _float(X, "X")
    running_mean = _stats_array(running_mean, "running_mean", training)
    running_var = _stats_array(running_var, "running_var", training)
    weight = None if weight is None else _float(weight, "weight")
    bias = None if bias is None else _float(bias, "bias")
    _, m = check_batch_norm_args(
        X.shape,
        {"running_mean": None if running_mean is None else running_mean.shape,
         "running_var": None if running_var is None else running_var.shape,
         "weight": None if weight is None else weight.shape, "bias": None if bias is None else bias.shape},
        training, momentum, eps,
    )
    axes, shape = _axes_and_shape(X)
    if training:
        mean, var = X.mean(axis=axes), X.var(axis=axes)
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean
        if running_var is not None:
            running_var *= 1 - momentum
            running_var += momentum * var * (m / (m - 1))  # unbiased, as torch keeps it
    else:
        mean, var = running_mean, running_var
    Y = (X - mean.astype(X.dtype, copy=False).reshape(shape)) / np.sqrt(var.astype(X.dtype, copy=False).reshape(shape) + X.dtype.type(eps))
    if weight is not None:
        Y *= weight.astype(X.dtype, copy=False).reshape(shape)
    if bias is not None:
        Y += bias.astype(X.dtype, copy=False).reshape(shape)
    return Y


def batch_norm_backward(dY, X, weight, eps=1e-5):
    """Gradients of training-mode :func:`batch_norm`: ``(dX, dweight, dbias)``.

    ``dY: (N, C, ...)`` is ``dL/dY``, ``X`` the forward's input, ``weight: (C,)`` its gamma (None:
    gamma = 1), ``eps`` its eps.  With ``x_hat = (X - mu) / sigma``, ``sigma = sqrt(var + eps)`` and
    ``m`` values per channel, every mean taken per channel over the batch and the pixels::

        dbias   = sum(dY)
        dweight = sum(dY * x_hat)
        dX      = (g - mean(g) - x_hat * mean(g * x_hat)) / sigma,   g = dY * weight

    The two subtracted terms are the gradient flowing through the batch mean and the batch
    variance: every output depends on every input of its channel.  ``dweight`` and ``dbias`` are
    ``(C,)`` (also when ``weight`` is None: the gradients gamma and beta would get).  The running
    statistics do not enter: they are not part of the training-mode function.
    """
    dY, X = _float(dY, "dY"), _float(X, "X")
    weight = None if weight is None else _float(weight, "weight")
    check_batch_norm_args(X.shape, {"running_mean": None, "running_var": None,
                                    "weight": None if weight is None else weight.shape, "bias": None},
                          True, 0.1, eps)
    if dY.shape != X.shape:
        raise ValueError(f"dY shape {dY.shape} must equal the forward input's shape {X.shape}")
    dtype = np.result_type(dY, X)
    dY, X = dY.astype(dtype, copy=False), X.astype(dtype, copy=False)
    axes, shape = _axes_and_shape(X)
    mean = X.mean(axis=axes, keepdims=True)
    sigma = np.sqrt(X.var(axis=axes, keepdims=True) + dtype.type(eps))
    x_hat = (X - mean) / sigma
    dbias = dY.sum(axis=axes)
    dweight = (dY * x_hat).sum(axis=axes)
    g = dY if weight is None else dY * weight.astype(dtype, copy=False).reshape(shape)
    dX = (g - g.mean(axis=axes, keepdims=True) - x_hat * (g * x_hat).mean(axis=axes, keepdims=True)) / sigma
    return dX, dweight, dbias
