"""Dropout in PyTorch (chapter 8): the twin of :mod:`dlcourse.numpy_ops.dropout`.

The mask comes from ``torch.rand`` with an optional ``torch.Generator``; multiplying by it is
differentiable, so autograd gives the backward (``dY * mask``).
"""
from __future__ import annotations

import torch

from dlcourse.numpy_ops.dropout import check_dropout_p
from dlcourse.torch_ops.conv import as_tensor

__all__ = ["dropout", "dropout_mask"]


def _float(X, name):
    X = as_tensor(X, name)
    return X if X.is_floating_point() else X.to(torch.float64)


def dropout_mask(X, p=0.5, rng=None):
    """The scaled keep-mask of inverted dropout for ``X``: ``1/(1-p)`` where kept, 0 where dropped.

    ``X``: any shape (its shape, floating dtype and device are used); ``p`` in ``[0, 1]``;
    ``rng``: a ``torch.Generator`` or None (torch's global generator).  Returns a tensor on
    ``X``'s device, all zeros when ``p == 1``.
    """
    X = _float(X, "X")
    check_dropout_p(p)
    if rng is not None and not isinstance(rng, torch.Generator):
        raise TypeError(f"rng must be a torch.Generator or None, got {type(rng).__name__}")
    if p == 1:
        return torch.zeros_like(X)
    device = rng.device if rng is not None else X.device
    u = torch.rand(X.shape, generator=rng, device=device, dtype=X.dtype).to(X.device)
    return (u >= p).to(X.dtype) / (1 - p)


def dropout(X, p=0.5, training=True, rng=None):
    """Inverted dropout: ``X * dropout_mask(X, p, rng)`` in training, ``X`` itself in evaluation.

    ``X``: any shape; ``p``: drop probability; ``rng``: a ``torch.Generator`` or None.
    Differentiable: the gradient is ``dY * mask``.
    """
    check_dropout_p(p)
    if not training or p == 0:
        return as_tensor(X, "X")
    X = _float(X, "X")
    return X * dropout_mask(X, p, rng)
