"""Pooling layers in PyTorch: forward (chapter 4) and backward (chapter 6).

The same algorithms as :mod:`dlcourse.numpy_ops.pool`, written with tensor operations (never
``torch.nn.functional``'s pooling), so they run on the input's device and autograd can
differentiate the forward functions.  ``Tensor.unfold`` gives every window as a strided view.
Max pooling picks its winner with ``argmax`` + ``gather``, so autograd sends the gradient to
the same entry as ``torch.nn.functional.max_pool2d`` does, ties included.
"""
from __future__ import annotations

import torch

from dlcourse.shapes import check_ndim, check_pool2d_args
from dlcourse.torch_ops.conv import _same_device, as_tensor, pad2d


def _windows(Xp, kernel, stride):
    """Every pooling window of the padded input as a view: ``(N, C, H', W', kh, kw)``."""
    return Xp.unfold(2, kernel[0], stride[0]).unfold(3, kernel[1], stride[1])


def _lowest(dtype):
    """The value max pooling pads with: one that never beats a real entry (torch pads with -inf)."""
    return float("-inf") if dtype.is_floating_point else torch.iinfo(dtype).min


def _check_real(X, name="X"):
    if X.is_complex():
        raise TypeError(f"{name} must be real to take a maximum, got dtype {X.dtype}")


def _winning_taps(X, kernel, stride, padding, out):
    """The padded windows ``(N, C, H', W', kh*kw)`` and, per window, the tap that wins.

    The tap (row-major index into the window) is the one torch's ``max_pool2d`` picks: the first
    maximum on ties, the last NaN if the window has NaNs, and the window's first real entry if
    every real entry equals the padding value.
    """
    (kh, kw), (sh, sw), (ph, pw), (ho, wo) = kernel, stride, padding, out
    n, c, h, w = X.shape
    Xp = X.new_full((n, c, h + 2 * ph, w + 2 * pw), _lowest(X.dtype))
    Xp[:, :, ph : ph + h, pw : pw + w] = X
    windows = _windows(Xp, kernel, stride).reshape(n, c, ho, wo, kh * kw)
    tap = windows.argmax(dim=-1)  # first maximum in window order, as torch's max_pool2d
    if X.dtype.is_floating_point:
        nan = windows.isnan()
        last_nan = kh * kw - 1 - nan.flip(-1).to(torch.uint8).argmax(dim=-1)
        tap = torch.where(nan.any(dim=-1), last_nan, tap)  # torch keeps the last NaN it meets
    top = torch.arange(ho, device=X.device)[:, None] * sh - ph  # (H', 1)
    left = torch.arange(wo, device=X.device)[None, :] * sw - pw  # (1, W')
    rows, cols = top + tap // kw, left + tap % kw
    # A padded cell can only come first if the window's maximum is the padding value itself;
    # then every real entry equals it too, and torch reports the window's first real entry.
    in_padding = (rows < 0) | (rows >= h) | (cols < 0) | (cols >= w)
    first_real = (top.clamp(min=0) - top) * kw + (left.clamp(min=0) - left)
    return windows, torch.where(in_padding, first_real.expand_as(tap), tap)


def max_pool2d(X, kernel_size, stride=None, padding=0):
    """2-D max pooling, as ``torch.nn.functional.max_pool2d``, from tensor operations.

    ``X: (N, C, H, W)``; ``kernel_size``, ``stride`` (default: ``kernel_size``) and ``padding``
    are ints or ``(h, w)`` pairs.  Padding is ``-inf`` (the smallest integer for integer input)
    and may be at most half the kernel size.  Returns ``(N, C, H', W')`` on the input's device,
    differentiable: the gradient of each window goes to its winner (the first one on ties).
    """
    X = as_tensor(X, "X")
    _check_real(X)
    kernel, stride, padding, out = check_pool2d_args(tuple(X.shape), kernel_size, stride, padding)
    windows, tap = _winning_taps(X, kernel, stride, padding, out)
    return windows.gather(-1, tap.unsqueeze(-1)).squeeze(-1)


def avg_pool2d(X, kernel_size, stride=None, padding=0):
    """2-D average pooling, as ``torch.nn.functional.avg_pool2d``, from tensor operations.

    ``X: (N, C, H, W)``; ``kernel_size``, ``stride`` (default: ``kernel_size``) and ``padding``
    are ints or ``(h, w)`` pairs.  Zero padding counts in the average (``count_include_pad=True``):
    every window is divided by ``kh * kw``.  Returns ``(N, C, H', W')`` on the input's device.
    Integer input gives integer output, the mean rounded toward zero, as torch does.
    """
    X = as_tensor(X, "X")
    kernel, stride, padding, out = check_pool2d_args(tuple(X.shape), kernel_size, stride, padding)
    windows = _windows(pad2d(X, padding), kernel, stride)
    if X.dtype.is_floating_point or X.is_complex():
        return windows.mean(dim=(-2, -1))
    total = windows.sum(dim=(-2, -1))  # integer sums accumulate in int64
    return torch.div(total, kernel[0] * kernel[1], rounding_mode="trunc").to(X.dtype)


def global_avg_pool2d(X):
    """Global average pooling, as ``torch.nn.functional.adaptive_avg_pool2d(X, 1)``.

    ``X: (N, C, H, W)``; returns ``(N, C, 1, 1)``: :func:`avg_pool2d` with one window the size
    of the whole feature map.
    """
    X = as_tensor(X, "X")
    check_ndim(X.shape, 4, "X", "(N, C, H, W)")
    if X.shape[2] < 1 or X.shape[3] < 1:
        raise ValueError(f"global_avg_pool2d needs H >= 1 and W >= 1, got X shape {tuple(X.shape)}")
    return avg_pool2d(X, tuple(X.shape[2:]))


# --- backward (by hand, as the NumPy twin; autograd gives the same through the forward) --------

def _prepare_backward(dY, X, kernel_size, stride, padding):
    dY, X = as_tensor(dY, "dY"), as_tensor(X, "X")
    _same_device(dY=dY, X=X)
    kernel, stride, padding, out = check_pool2d_args(tuple(X.shape), kernel_size, stride, padding)
    expected = (*X.shape[:2], *out)
    if tuple(dY.shape) != expected:
        raise ValueError(
            f"dY shape {tuple(dY.shape)} must equal the pooled output shape {expected} of X shape "
            f"{tuple(X.shape)} with kernel_size {kernel}, stride {stride}, padding {padding}"
        )
    dtype = torch.promote_types(dY.dtype, X.dtype)
    if not (dtype.is_floating_point or dtype.is_complex):
        dtype = torch.float64  # gradients are real numbers even when the data are integers
    return dY.to(dtype), X, kernel, stride, padding, out


def max_pool2d_backward(dY, X, kernel_size, stride=None, padding=0):
    """Gradient of :func:`max_pool2d` with respect to its input.

    ``dY: (N, C, H', W')``, ``X: (N, C, H, W)`` the forward input, and the forward's
    ``kernel_size``, ``stride`` and ``padding``.  Returns ``dX: (N, C, H, W)``: each window's
    gradient goes to its winning entry (the first in row-major window order on ties, as torch
    chooses); with overlapping windows an entry that wins several of them receives the sum.
    """
    dY, X, kernel, stride, padding, out = _prepare_backward(dY, X, kernel_size, stride, padding)
    _check_real(X)
    n, c, h, w = X.shape
    (kw, (sh, sw), (ph, pw), (ho, wo)) = (kernel[1], stride, padding, out)
    _, tap = _winning_taps(X.detach(), kernel, stride, padding, out)
    rows = torch.arange(ho, device=X.device)[:, None] * sh - ph + tap // kw
    cols = torch.arange(wo, device=X.device)[None, :] * sw - pw + tap % kw
    dX = dY.new_zeros((n * c, h * w))
    # scatter_add_ adds every repeated index: overlapping windows add up.
    dX.scatter_add_(1, (rows * w + cols).reshape(n * c, ho * wo), dY.reshape(n * c, ho * wo))
    return dX.reshape(n, c, h, w)


def avg_pool2d_backward(dY, X, kernel_size, stride=None, padding=0):
    """Gradient of :func:`avg_pool2d` with respect to its input.

    ``dY: (N, C, H', W')``, ``X: (N, C, H, W)`` (only its shape matters) and the forward's
    ``kernel_size``, ``stride`` and ``padding``.  Returns ``dX: (N, C, H, W)``: each window
    spreads ``dY / (kh * kw)`` over its cells, overlapping windows add, padding's share is dropped.
    """
    dY, X, (kh, kw), (sh, sw), (ph, pw), (ho, wo) = _prepare_backward(dY, X, kernel_size, stride, padding)
    n, c, h, w = X.shape
    share = dY / (kh * kw)
    dXp = dY.new_zeros((n, c, h + 2 * ph, w + 2 * pw))
    for a in range(kh):  # one pass per kernel tap, every window at once
        for b in range(kw):
            dXp[:, :, a : a + (ho - 1) * sh + 1 : sh, b : b + (wo - 1) * sw + 1 : sw] += share
    return dXp[:, :, ph : ph + h, pw : pw + w]
