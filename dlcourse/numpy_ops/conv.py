"""Cross-correlation and convolution layers in NumPy (chapters 1-3).

Chapter 1 builds :func:`corr2d` twice, with loops and then vectorized; chapter 2 adds padding
and stride; chapter 3 adds channels and the 1x1 convolution; :func:`conv2d` is the general
NCHW layer that later chapters build on.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from dlcourse.shapes import check_conv2d_shapes, check_ndim, conv_output_shape, pair


def as_numeric_array(value, name):
    """``np.asarray(value)``, refusing non-numeric arrays; booleans become int64 0/1."""
    arr = np.asarray(value)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.int64)  # count, as the torch twin does; bool sums would saturate at True
    return arr


def _check_kernel_fits(x_shape, k_shape):
    if k_shape[-2] < 1 or k_shape[-1] < 1:
        raise ValueError(f"kernel must have positive height and width, got K shape {tuple(k_shape)}")
    if k_shape[-2] > x_shape[-2] or k_shape[-1] > x_shape[-1]:
        raise ValueError(
            f"kernel of shape {tuple(k_shape)} is larger than the input of shape {tuple(x_shape)}"
        )


def corr2d_loops(X, K):
    """2-D cross-correlation with explicit loops: the definition, one output pixel at a time.

    ``X: (H, W)`` input, ``K: (kh, kw)`` kernel; returns ``(H - kh + 1, W - kw + 1)`` where
    ``Y[i, j] = sum_{a, b} X[i + a, j + b] * K[a, b]``.
    """
    X, K = as_numeric_array(X, "X"), as_numeric_array(K, "K")
    check_ndim(X.shape, 2, "X", "(H, W)")
    check_ndim(K.shape, 2, "K", "(kh, kw)")
    _check_kernel_fits(X.shape, K.shape)
    kh, kw = K.shape
    Y = np.zeros((X.shape[0] - kh + 1, X.shape[1] - kw + 1), dtype=np.result_type(X, K))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i : i + kh, j : j + kw] * K).sum()
    return Y


def corr2d(X, K):
    """2-D cross-correlation, vectorized: every window at once, then one contraction.

    ``X: (H, W)`` input, ``K: (kh, kw)`` kernel; returns ``(H - kh + 1, W - kw + 1)``.
    """
    X, K = as_numeric_array(X, "X"), as_numeric_array(K, "K")
    check_ndim(X.shape, 2, "X", "(H, W)")
    check_ndim(K.shape, 2, "K", "(kh, kw)")
    _check_kernel_fits(X.shape, K.shape)
    windows = sliding_window_view(X, K.shape)  # (H', W', kh, kw), a view: no copy
    return np.tensordot(windows, K, axes=([2, 3], [0, 1]))


def corr2d_multi_in(X, K):
    """Cross-correlation over several input channels, summed into one output channel.

    ``X: (C, H, W)``, ``K: (C, kh, kw)``; returns ``(H', W')`` = ``sum_c corr2d(X[c], K[c])``.
    """
    X, K = as_numeric_array(X, "X"), as_numeric_array(K, "K")
    check_ndim(X.shape, 3, "X", "(C, H, W)")
    check_ndim(K.shape, 3, "K", "(C, kh, kw)")
    if X.shape[0] != K.shape[0]:
        raise ValueError(
            f"channel mismatch: X shape {X.shape} has {X.shape[0]} channels, "
            f"K shape {K.shape} has {K.shape[0]}"
        )
    _check_kernel_fits(X.shape, K.shape)
    windows = sliding_window_view(X, K.shape[1:], axis=(1, 2))  # (C, H', W', kh, kw)
    return np.tensordot(windows, K, axes=([0, 3, 4], [0, 1, 2]))


def corr2d_multi_in_out(X, K):
    """One 3-D kernel per output channel.

    ``X: (C, H, W)``, ``K: (O, C, kh, kw)``; returns ``(O, H', W')`` with
    ``Y[o] = corr2d_multi_in(X, K[o])``.
    """
    X, K = as_numeric_array(X, "X"), as_numeric_array(K, "K")
    check_ndim(X.shape, 3, "X", "(C, H, W)")
    check_ndim(K.shape, 4, "K", "(O, C, kh, kw)")
    if X.shape[0] != K.shape[1]:
        raise ValueError(
            f"channel mismatch: X shape {X.shape} has {X.shape[0]} channels, "
            f"K shape {K.shape} expects {K.shape[1]}"
        )
    _check_kernel_fits(X.shape, K.shape)
    windows = sliding_window_view(X, K.shape[2:], axis=(1, 2))  # (C, H', W', kh, kw)
    Y = np.tensordot(windows, K, axes=([0, 3, 4], [1, 2, 3]))  # (H', W', O)
    return np.moveaxis(Y, -1, 0)


def conv1x1(X, K):
    """1x1 convolution as a matrix product: a dense layer applied to every pixel's channels.

    ``X: (C, H, W)``, ``K: (O, C, 1, 1)`` or ``(O, C)``; returns ``(O, H, W)``.
    The pixels become the rows of an ``(H*W, C)``-shaped design matrix, one GEMM does the rest.
    """
    X, K = as_numeric_array(X, "X"), as_numeric_array(K, "K")
    check_ndim(X.shape, 3, "X", "(C, H, W)")
    if K.ndim == 4:
        if K.shape[2:] != (1, 1):
            raise ValueError(f"conv1x1 needs a 1x1 kernel, got K shape {K.shape}")
        K = K.reshape(K.shape[:2])
    check_ndim(K.shape, 2, "K", "(O, C) or (O, C, 1, 1)")
    c, h, w = X.shape
    if K.shape[1] != c:
        raise ValueError(
            f"channel mismatch: X shape {X.shape} has {c} channels, K expects {K.shape[1]}"
        )
    return (K @ X.reshape(c, h * w)).reshape(K.shape[0], h, w)


def pad2d(X, padding):
    """Zero-pad the last two axes of ``X`` by ``padding`` (int or ``(ph, pw)``) on each side."""
    X = as_numeric_array(X, "X")
    if X.ndim < 2:
        raise ValueError(f"X must have at least 2 dimensions (..., H, W), got shape {X.shape}")
    ph, pw = pair(padding, "padding")
    if ph < 0 or pw < 0:
        raise ValueError(f"padding must be >= 0, got {padding!r}")
    widths = [(0, 0)] * (X.ndim - 2) + [(ph, ph), (pw, pw)]
    return np.pad(X, widths)


def conv2d(X, W, b=None, stride=1, padding=0, dilation=1, groups=1):
    """A 2-D convolution layer (deep learning's cross-correlation), as ``torch.nn.functional.conv2d``.

    ``X: (N, C, H, W)`` input; ``W: (O, C // groups, kh, kw)`` filters; ``b: (O,)`` bias or None.
    ``stride``, ``padding`` (zeros on each side) and ``dilation`` are ints or ``(h, w)`` pairs;
    ``groups`` splits the channels into independent groups.
    Returns ``(N, O, H', W')`` with ``H', W'`` from :func:`~dlcourse.shapes.conv_output_shape`.
    """
    X, W = as_numeric_array(X, "X"), as_numeric_array(W, "W")
    b = None if b is None else as_numeric_array(b, "b")
    (sh, sw), (ph, pw), (dh, dw), (ho, wo) = check_conv2d_shapes(
        X.shape, W.shape, None if b is None else b.shape, stride, padding, dilation, groups
    )
    n, c, _, _ = X.shape
    o, cg, kh, kw = W.shape
    Xp = pad2d(X, (ph, pw))
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    # Every (dilated) window as a view, then keep the strided positions and the dilated taps.
    windows = sliding_window_view(Xp, span, axis=(2, 3))
    windows = windows[:, :, : (ho - 1) * sh + 1 : sh, : (wo - 1) * sw + 1 : sw, ::dh, ::dw]
    windows = windows.reshape(n, groups, cg, ho, wo, kh, kw)
    Wg = W.reshape(groups, o // groups, cg, kh, kw)
    Y = np.einsum("ngchwij,gocij->ngohw", windows, Wg, optimize=True).reshape(n, o, ho, wo)
    if b is not None:
        Y = Y + b.reshape(1, o, 1, 1)
    return Y
