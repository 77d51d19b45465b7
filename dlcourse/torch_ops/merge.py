"""Joining paths in PyTorch: residual addition and channel concatenation, the twins of
:mod:`dlcourse.numpy_ops.merge` (autograd gives their backward)."""
from __future__ import annotations

import torch

from dlcourse.numpy_ops.merge import check_concat_shapes, check_residual_shapes
from dlcourse.torch_ops.conv import _same_device, as_tensor

__all__ = ["residual_add", "concat_channels"]


def residual_add(X, FX):
    """The shortcut connection of a residual block: ``Y = X + F(X)``, shapes equal."""
    X, FX = as_tensor(X, "X"), as_tensor(FX, "FX")
    _same_device(X=X, FX=FX)
    check_residual_shapes(tuple(X.shape), tuple(FX.shape))
    return X + FX


def concat_channels(Xs):
    """Stack ``(N, C_i, H, W)`` tensors along the channels, as ``torch.cat(Xs, dim=1)``."""
    if isinstance(Xs, torch.Tensor) or not hasattr(Xs, "__len__"):
        raise TypeError(f"Xs must be a list or tuple of tensors, got {type(Xs).__name__}")
    Xs = [as_tensor(X, f"Xs[{i}]") for i, X in enumerate(Xs)]
    _same_device(**{f"Xs[{i}]": X for i, X in enumerate(Xs)})
    check_concat_shapes([tuple(X.shape) for X in Xs])
    return torch.cat(Xs, dim=1)
