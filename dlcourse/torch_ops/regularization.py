"""Weight decay in PyTorch (chapter 19): the twin of :mod:`dlcourse.numpy_ops.regularization`.

The penalty is differentiable, so autograd gives its gradient (``weight_decay * W``);
:func:`sgd_update` writes lecture 004's step with tensor operations, out of place.
"""
from __future__ import annotations

import torch

from dlcourse.numpy_ops.regularization import check_rate
from dlcourse.torch_ops.conv import as_tensor

__all__ = ["l2_penalty", "sgd_update"]


def _float(X, name):
    X = as_tensor(X, name)
    return X if X.is_floating_point() else X.to(torch.float64)


def l2_penalty(W, weight_decay):
    """``weight_decay / 2 * sum(W**2)`` as a 0-d tensor of ``W``'s floating dtype; differentiable."""
    W = _float(W, "W")
    lam = check_rate(weight_decay, "weight_decay")
    return (lam / 2) * torch.sum(W * W)


def sgd_update(W, dW, V, lr, momentum=0.0, weight_decay=0.0):
    """One SGD step with momentum and weight decay; returns ``(W_new, V_new)`` (new tensors).

    ``V_new = momentum * V - weight_decay * lr * W - lr * dW``, ``W_new = W + V_new``; shapes and
    arguments as the NumPy twin.
    """
    W, dW, V = _float(W, "W"), _float(dW, "dW"), _float(V, "V")
    if not (W.shape == dW.shape == V.shape):
        raise ValueError(f"W, dW and V must have one shape, got W {tuple(W.shape)}, dW {tuple(dW.shape)}, "
                         f"V {tuple(V.shape)}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    momentum = check_rate(momentum, "momentum", upper=1)
    weight_decay = check_rate(weight_decay, "weight_decay")
    dtype = torch.promote_types(torch.promote_types(W.dtype, dW.dtype), V.dtype)
    W, dW, V = W.to(dtype), dW.to(dtype), V.to(dtype)
    V_new = momentum * V - (weight_decay * lr) * W - lr * dW
    return W + V_new, V_new
