"""Cross-correlation and convolution layers in NumPy (chapters 1-3).

Chapter 1 builds :func:`corr2d` twice, with loops and then vectorized; chapter 2 adds padding
and stride; chapter 3 adds channels and the 1x1 convolution; :func:`conv2d` is the general
NCHW layer that later chapters build on.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from dlcourse.numpy_ops._arrays import as_numeric_array
from dlcourse.numpy_ops.im2col import _col2im, _im2col
from dlcourse.shapes import (
    check_conv2d_shapes,
    check_conv_transpose2d_shapes,
    check_ndim,
    conv_output_shape,
    pair,
)


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
    Returns ``(N, O, H', W')`` with ``H', W'`` from :func:`~dlcourse.shapes.conv_output_shape`,
    in the inputs' common dtype (float32 stays float32).

    Computed as ONE matrix product (chapter 5): :func:`~dlcourse.numpy_ops.im2col` copies every
    receptive field into a column, ``cols: (N, C*kh*kw, H'*W')``, and the filters, flattened to
    rows, multiply all of them at once.  With groups the rows and columns split into ``groups``
    blocks and ``np.matmul`` does one product per group in the same call:
    ``(G, O/G, C/G*kh*kw) @ (N, G, C/G*kh*kw, H'*W') -> (N, G, O/G, H'*W')``, which is already
    the NCHW output.
    """
    X, W = as_numeric_array(X, "X"), as_numeric_array(W, "W")
    b = None if b is None else as_numeric_array(b, "b")
    stride, padding, dilation, (ho, wo) = check_conv2d_shapes(
        X.shape, W.shape, None if b is None else b.shape, stride, padding, dilation, groups
    )
    dtype = np.result_type(X, W) if b is None else np.result_type(X, W, b)
    X, W = X.astype(dtype, copy=False), W.astype(dtype, copy=False)
    n = X.shape[0]
    o, cg, kh, kw = W.shape
    cols = _im2col(X, (kh, kw), stride, padding, dilation, (ho, wo))  # (N, C*kh*kw, H'*W')
    Wg = W.reshape(groups, o // groups, cg * kh * kw)
    Y = np.matmul(Wg, cols.reshape(n, groups, cg * kh * kw, ho * wo))  # (N, G, O/G, H'*W')
    Y = Y.reshape(n, o, ho, wo)
    if b is not None:
        Y += b.astype(dtype, copy=False).reshape(1, o, 1, 1)
    return Y


def conv2d_backward(dY, X, W, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Backpropagation through :func:`conv2d` (chapter 6): the gradients of a loss ``L``.

    ``dY: (N, O, H', W')`` is ``dL/dY`` for ``Y = conv2d(X, W, b, stride, padding, dilation,
    groups)``; the other arguments are the forward pass's.  Returns ``(dX, dW, db)`` with the shapes
    of ``X``, ``W`` and ``b`` (``db`` is ``None`` when ``b`` is).  Two GEMMs, mirroring the forward
    ``Y = W2d @ cols``:

    * ``dW = dY2d @ cols.T`` summed over the images (``cols = im2col(X)``): each weight collects
      the inputs it multiplied, times the gradient of the output they produced;
    * ``dcols = W2d.T @ dY2d``, then ``dX = col2im(dcols)``: each input pixel collects the gradient
      of every window it appears in (overlapping windows add up).  ``col2im`` is ``im2col``'s
      transpose, so this is the transposed convolution of ``dY``;
    * ``db = dY`` summed over the batch and the pixels.
    """
    dY, X, W = as_numeric_array(dY, "dY"), as_numeric_array(X, "X"), as_numeric_array(W, "W")
    b = None if b is None else as_numeric_array(b, "b")
    stride, padding, dilation, (ho, wo) = check_conv2d_shapes(
        X.shape, W.shape, None if b is None else b.shape, stride, padding, dilation, groups
    )
    n, c = X.shape[:2]
    o, cg, kh, kw = W.shape
    if dY.shape != (n, o, ho, wo):
        raise ValueError(
            f"dY shape {dY.shape} does not match the output of conv2d on X shape {X.shape}, "
            f"W shape {W.shape}: expected {(n, o, ho, wo)}"
        )
    dtype = np.result_type(dY, X, W) if b is None else np.result_type(dY, X, W, b)
    dY, X, W = (a.astype(dtype, copy=False) for a in (dY, X, W))
    k = cg * kh * kw
    cols = _im2col(X, (kh, kw), stride, padding, dilation, (ho, wo)).reshape(n, groups, k, ho * wo)
    dYg = dY.reshape(n, groups, o // groups, ho * wo)
    Wg = W.reshape(groups, o // groups, k)
    # dW: one (O/G, H'W') @ (H'W', k) product per image and group, summed over the images.
    dW = np.matmul(dYg, cols.transpose(0, 1, 3, 2)).sum(axis=0).reshape(W.shape)
    del cols
    dcols = np.matmul(Wg.transpose(0, 2, 1), dYg)  # (N, G, k, H'W')
    dX = _col2im(dcols.reshape(n, c * kh * kw, ho * wo), X.shape, (kh, kw), stride, padding, dilation, (ho, wo))
    db = None if b is None else dY.sum(axis=(0, 2, 3)).astype(dtype, copy=False)
    return dX, dW, db


def conv_transpose2d(X, W, b=None, stride=1, padding=0):
    """Transposed convolution, as ``torch.nn.functional.conv_transpose2d`` (chapter 5).

    ``X: (N, C_in, H, W)`` input; ``W: (C_in, C_out, kh, kw)`` filters (torch's layout: the
    convolution this one transposes maps ``C_out`` channels to ``C_in``); ``b: (C_out,)`` or None.
    ``stride`` and ``padding`` are ints or ``(h, w)`` pairs.  Returns ``(N, C_out, H_out, W_out)``
    with ``H_out = (H - 1)*stride - 2*padding + kh``.

    Each input pixel spreads a copy of its kernel, scaled by its value, onto the output, ``stride``
    pixels apart; overlaps add; ``padding`` then crops that many pixels from each side.  As
    matrices: ``cols = W2d.T @ X2d`` (one GEMM, ``(C_out*kh*kw, C_in) @ (C_in, H*W)``), then
    :func:`~dlcourse.numpy_ops.col2im` adds the columns into place.  This is exactly the
    gradient of ``conv2d(., W, stride=stride, padding=padding)`` with respect to its input.
    """
    X, W = as_numeric_array(X, "X"), as_numeric_array(W, "W")
    b = None if b is None else as_numeric_array(b, "b")
    stride, padding, (ho, wo) = check_conv_transpose2d_shapes(
        X.shape, W.shape, None if b is None else b.shape, stride, padding
    )
    dtype = np.result_type(X, W) if b is None else np.result_type(X, W, b)
    X, W = X.astype(dtype, copy=False), W.astype(dtype, copy=False)
    n, c_in, h, w = X.shape
    _, c_out, kh, kw = W.shape
    cols = np.matmul(W.reshape(c_in, c_out * kh * kw).T, X.reshape(n, c_in, h * w))  # (N, C_out*kh*kw, H*W)
    Y = _col2im(cols, (n, c_out, ho, wo), (kh, kw), stride, padding, (1, 1), (h, w))
    if b is not None:
        Y += b.astype(dtype, copy=False).reshape(1, c_out, 1, 1)
    return Y
