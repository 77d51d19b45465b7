"""Batch normalization in PyTorch (chapter 12): the twin of :mod:`dlcourse.numpy_ops.norm`.

Written with tensor operations (means and squares, never ``torch.nn.functional.batch_norm``), so
autograd differentiates it -- through the batch mean and variance too -- and it runs on the
inputs' device.  The running statistics are updated in place outside the autograd graph, as
torch's own layer does.
"""
from __future__ import annotations

import torch

from dlcourse.numpy_ops.norm import check_batch_norm_args
from dlcourse.torch_ops.conv import _same_device, as_tensor

__all__ = ["batch_norm"]


def _float(X, name):
    X = as_tensor(X, name)
    return X if X.is_floating_point() else X.to(torch.float64)


def _stats_tensor(value, name, training):
    if value is None:
        return None
    if training:
        if not (isinstance(value, torch.Tensor) and value.is_floating_point()):
            raise TypeError(
                f"{name} must be a floating torch.Tensor in training mode (it is updated in place), "
                f"got {type(value).__name__}"
            )
        return value
    return _float(value, name)


def batch_norm(X, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Batch normalization, as ``torch.nn.functional.batch_norm`` (same arguments, same order).

    ``X: (N, C)`` or ``(N, C, H, W)`` (any ``(N, C, ...)``); ``running_mean, running_var: (C,)``
    or None; ``weight``, ``bias``: ``(C,)`` or None.  ``training=True`` uses the batch's mean and
    biased variance and updates the running statistics in place (unbiased variance, as torch);
    ``training=False`` uses the running statistics.  Returns ``Y`` shaped like ``X``,
    differentiable with respect to ``X``, ``weight`` and ``bias``.
    """
    X = _float(X, "X")
    running_mean = _stats_tensor(running_mean, "running_mean", training)
    running_var = _stats_tensor(running_var, "running_var", training)
    weight = None if weight is None else _float(weight, "weight")
    bias = None if bias is None else _float(bias, "bias")
    _same_device(X=X, running_mean=running_mean, running_var=running_var, weight=weight, bias=bias)
    shape_of = lambda t: None if t is None else tuple(t.shape)  # noqa: E731
    _, m = check_batch_norm_args(
        tuple(X.shape),
        {"running_mean": shape_of(running_mean), "running_var": shape_of(running_var),
         "weight": shape_of(weight), "bias": shape_of(bias)},
        training, momentum, eps,
    )
    axes = (0, *range(2, X.dim()))
    shape = (1, X.shape[1]) + (1,) * (X.dim() - 2)
    if training:
        mean = X.mean(dim=axes)
        var = ((X - mean.reshape(shape)) ** 2).mean(dim=axes)  # biased: divided by m
        with torch.no_grad():
            if running_mean is not None:
                running_mean.mul_(1 - momentum).add_(momentum * mean.detach().to(running_mean.dtype))
            if running_var is not None:
                unbiased = var.detach() * (m / (m - 1))
                running_var.mul_(1 - momentum).add_(momentum * unbiased.to(running_var.dtype))
    else:
        mean, var = running_mean.to(X.dtype), running_var.to(X.dtype)
    Y = (X - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps)
    if weight is not None:
        Y = Y * weight.to(X.dtype).reshape(shape)
    if bias is not None:
        Y = Y + bias.to(X.dtype).reshape(shape)
    return Y
