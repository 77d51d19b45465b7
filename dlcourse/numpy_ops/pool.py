"""Pooling layers in NumPy: forward (chapter 4) and backward (chapter 6).

Pooling slides a window over each channel on its own, like a convolution without weights, and
keeps one number per window: the largest (max pooling) or the mean (average pooling).  The
number of channels never changes.  Every function takes ``X: (N, C, H, W)`` and an int or
``(h, w)`` pair for ``kernel_size``, ``stride`` (``None``: the kernel size, so windows tile the
input without overlapping) and ``padding``, with the output size of
:func:`~dlcourse.shapes.conv_output_shape`.  Results equal ``torch.nn.functional``'s
``max_pool2d``, ``avg_pool2d`` and ``adaptive_avg_pool2d(X, 1)``, padding rules and ties included.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from dlcourse.numpy_ops.conv import as_numeric_array, pad2d
from dlcourse.shapes import check_ndim, check_pool2d_args


def _windows(Xp, kernel, stride, out):
    """Every pooling window of the padded input as a view: ``(N, C, H', W', kh, kw)``."""
    (kh, kw), (sh, sw), (ho, wo) = kernel, stride, out
    windows = sliding_window_view(Xp, (kh, kw), axis=(2, 3))
    return windows[:, :, : (ho - 1) * sh + 1 : sh, : (wo - 1) * sw + 1 : sw]


def _lowest(dtype):
    """The value max pooling pads with: one that never beats a real entry (torch pads with -inf)."""
    return -np.inf if np.issubdtype(dtype, np.floating) else np.iinfo(dtype).min


def _check_real(X, name="X"):
    if np.iscomplexobj(X):
        raise TypeError(f"{name} must be real to take a maximum, got dtype {X.dtype}")


def max_pool2d(X, kernel_size, stride=None, padding=0):
    """2-D max pooling, as ``torch.nn.functional.max_pool2d``: the largest value in each window.

    ``X: (N, C, H, W)``; ``kernel_size``, ``stride`` (default: ``kernel_size``) and ``padding``
    are ints or ``(h, w)`` pairs.  Padding is filled with ``-inf`` (the smallest integer for
    integer input), so it never wins; as in torch it may be at most half the kernel size.
    Returns ``(N, C, H', W')`` in the dtype of ``X``.
    """
    X = as_numeric_array(X, "X")
    _check_real(X)
    kernel, stride, padding, out = check_pool2d_args(X.shape, kernel_size, stride, padding)
    if stride == kernel and padding == (0, 0):
        # The common case, windows that tile the input (e.g. 2x2, stride 2): the same maximum,
        # taken one kernel tap at a time over whole (N, C, H', W') slices, which is many times
        # faster than reducing millions of tiny windows one by one.
        return _tile_max(X, kernel, out)
    (ph, pw) = padding
    Xp = np.pad(X, [(0, 0), (0, 0), (ph, ph), (pw, pw)], constant_values=_lowest(X.dtype))
    return _windows(Xp, kernel, stride, out).max(axis=(-2, -1))


def _tile_max(X, kernel, out):
    """:func:`max_pool2d` when the windows tile ``X`` (stride = kernel, no padding).

    Reshaping ``(H, W)`` to ``(H', kh, W', kw)`` (rows and columns past the last whole window
    dropped, as the floor rule says) puts tap ``(a, b)`` of every window at ``[:, :, :, a, :, b]``;
    ``np.maximum`` over the ``kh * kw`` taps gives each window's maximum (NaN propagates, as in
    ``.max``).
    """
    (kh, kw), (ho, wo) = kernel, out
    n, c = X.shape[:2]
    tiles = X[:, :, : ho * kh, : wo * kw].reshape(n, c, ho, kh, wo, kw)
    Y = tiles[:, :, :, 0, :, 0].copy()
    for a in range(kh):
        for b in range(kw):
            np.maximum(Y, tiles[:, :, :, a, :, b], out=Y)
    return Y


def avg_pool2d(X, kernel_size, stride=None, padding=0):
    """2-D average pooling, as ``torch.nn.functional.avg_pool2d``: the mean of each window.

    ``X: (N, C, H, W)``; ``kernel_size``, ``stride`` (default: ``kernel_size``) and ``padding``
    are ints or ``(h, w)`` pairs.  Padding is zeros and counts in the average (torch's default
    ``count_include_pad=True``): every window is divided by ``kh * kw``.
    Returns ``(N, C, H', W')``.  Integer input gives integer output, the mean rounded toward zero,
    exactly as torch does for integer tensors; pass floats to get the exact mean.
    """
    X = as_numeric_array(X, "X")
    kernel, stride, padding, out = check_pool2d_args(X.shape, kernel_size, stride, padding)
    windows = _windows(pad2d(X, padding), kernel, stride, out)
    if np.issubdtype(X.dtype, np.integer):
        total = windows.sum(axis=(-2, -1))  # NumPy sums small integer types in int64/uint64
        quotient = np.abs(total) // (kernel[0] * kernel[1])
        return np.where(total < 0, -quotient, quotient).astype(X.dtype)
    return windows.mean(axis=(-2, -1))


def global_avg_pool2d(X):
    """Global average pooling: one mean per channel, as ``torch.nn.functional.adaptive_avg_pool2d(X, 1)``.

    ``X: (N, C, H, W)``; returns ``(N, C, 1, 1)``.  It is :func:`avg_pool2d` with the window the
    size of the whole feature map (integer input: the mean rounded toward zero, as there).
    """
    X = as_numeric_array(X, "X")
    check_ndim(X.shape, 4, "X", "(N, C, H, W)")
    if X.shape[2] < 1 or X.shape[3] < 1:
        raise ValueError(f"global_avg_pool2d needs H >= 1 and W >= 1, got X shape {X.shape}")
    return avg_pool2d(X, X.shape[2:])


# --- backward ----------------------------------------------------------------------------------

def _prepare_backward(dY, X, kernel_size, stride, padding):
    dY, X = as_numeric_array(dY, "dY"), as_numeric_array(X, "X")
    kernel, stride, padding, out = check_pool2d_args(X.shape, kernel_size, stride, padding)
    expected = (*X.shape[:2], *out)
    if dY.shape != expected:
        raise ValueError(
            f"dY shape {dY.shape} must equal the pooled output shape {expected} of X shape "
            f"{X.shape} with kernel_size {kernel}, stride {stride}, padding {padding}"
        )
    dtype = np.result_type(dY.dtype, X.dtype)
    if not np.issubdtype(dtype, np.inexact):
        dtype = np.float64  # gradients are real numbers even when the data are integers
    return dY, X, kernel, stride, padding, out, dtype


def _winning_cells(X, kernel, stride, padding, out):
    """Where each window's maximum sits: ``(rows, cols)``, two ``(N, C, H', W')`` int arrays.

    They index ``X`` itself (padding never wins), and pick the entry torch's ``max_pool2d``
    picks: the first maximum in row-major window order on ties, the last NaN if the window has
    NaNs, and the first real entry of the window if every real entry equals the padding value.
    """
    (kh, kw), (sh, sw), (ph, pw), (ho, wo) = kernel, stride, padding, out
    n, c, h, w = X.shape
    Xp = np.pad(X, [(0, 0), (0, 0), (ph, ph), (pw, pw)], constant_values=_lowest(X.dtype)) if ph or pw else X
    windows = _windows(Xp, (kh, kw), (sh, sw), (ho, wo)).reshape(n, c, ho, wo, kh * kw)
    tap = windows.argmax(axis=-1)  # first maximum in window order, as torch
    if np.issubdtype(X.dtype, np.floating):
        nan = np.isnan(windows)
        if nan.any():  # torch keeps the last NaN it meets
            last_nan = kh * kw - 1 - nan[..., ::-1].argmax(axis=-1)
            tap = np.where(nan.any(axis=-1), last_nan, tap)
    top = np.arange(ho)[:, None] * sh - ph  # (H', 1): window's top row in X coordinates
    left = np.arange(wo)[None, :] * sw - pw  # (1, W'): window's left column
    rows, cols = top + tap // kw, left + tap % kw
    # A padded cell can only come first if the window's maximum is the padding value itself;
    # then every real entry equals it too, and torch reports the window's first real entry.
    in_padding = (rows < 0) | (rows >= h) | (cols < 0) | (cols >= w)
    rows = np.where(in_padding, np.maximum(top, 0), rows)
    cols = np.where(in_padding, np.maximum(left, 0), cols)
    return rows, cols


def max_pool2d_backward(dY, X, kernel_size, stride=None, padding=0):
    """Gradient of :func:`max_pool2d` with respect to its input.

    ``dY: (N, C, H', W')`` upstream gradient, ``X: (N, C, H, W)`` the forward input, and the
    forward's ``kernel_size``, ``stride`` and ``padding``.  Returns ``dX: (N, C, H, W)``.
    Each window's gradient goes to its winning entry (on ties the first in row-major window order,
    as torch chooses); every other entry gets zero.  When windows overlap
    (``stride < kernel_size``), an entry that wins several windows receives the sum
    (``np.add.at``); when they do not, every winner is a different entry and a plain assignment,
    much faster, does the same.
    """
    dY, X, kernel, stride, padding, out, dtype = _prepare_backward(dY, X, kernel_size, stride, padding)
    _check_real(X)
    rows, cols = _winning_cells(X, kernel, stride, padding, out)
    n, c = X.shape[:2]
    batch = np.arange(n)[:, None, None, None]
    channel = np.arange(c)[None, :, None, None]
    dX = np.zeros(X.shape, dtype=dtype)
    if stride[0] >= kernel[0] and stride[1] >= kernel[1]:
        dX[batch, channel, rows, cols] = dY  # disjoint windows: no entry wins twice
    else:
        # np.add.at, unlike dX[idx] += dY, adds every repeated index: overlapping windows add up.
        np.add.at(dX, (batch, channel, rows, cols), dY)
    return dX


def avg_pool2d_backward(dY, X, kernel_size, stride=None, padding=0):
    """Gradient of :func:`avg_pool2d` with respect to its input.

    ``dY: (N, C, H', W')``, ``X: (N, C, H, W)`` (only its shape matters) and the forward's
    ``kernel_size``, ``stride`` and ``padding``.  Returns ``dX: (N, C, H, W)``: each window
    spreads ``dY / (kh * kw)`` evenly over its cells, overlapping windows add, and the share that
    falls on the padding is dropped.
    """
    dY, X, (kh, kw), (sh, sw), (ph, pw), (ho, wo), dtype = _prepare_backward(
        dY, X, kernel_size, stride, padding
    )
    n, c, h, w = X.shape
    share = (dY / (kh * kw)).astype(dtype, copy=False)
    dXp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=dtype)
    # One pass per kernel tap (kh * kw passes, not one per pixel): tap (a, b) of every window
    # at once is a strided slice of the padded input, and += makes overlapping windows add.
    for a in range(kh):
        for b in range(kw):
            dXp[:, :, a : a + (ho - 1) * sh + 1 : sh, b : b + (wo - 1) * sw + 1 : sw] += share
    return dXp[:, :, ph : ph + h, pw : pw + w]
