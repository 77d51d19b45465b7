"""Convolution as matrix multiplication (chapter 5): im2col, its adjoint col2im, and the
convolution matrix of the lecture.

A convolution is linear in its input, so it *is* a matrix product.  Two ways to write that
matrix down:

* :func:`conv_matrix` -- the lecture's picture: for one channel, a ``(H'*W', H*W)`` matrix with
  the kernel's entries laid along each row (mostly zeros), so ``vec(Y) = M @ vec(X)``.  Its
  transpose maps an output-sized array back to an input-sized one: that is the *transposed*
  convolution, ``vec(Z) = M.T @ vec(Y)``.
* :func:`im2col` -- what libraries do: copy every receptive field into a column, so that all the
  filters act on all the windows in ONE matrix product (a GEMM, the routine BLAS makes fast),
  ``Y = W.reshape(O, C*kh*kw) @ cols``.  :func:`col2im` is its adjoint (transpose): it adds each
  column back onto the pixels it came from, overlapping windows adding up.  Backpropagation and
  the transposed convolution are built from it.

Column layout (the contract of :func:`im2col` and :func:`col2im`)::

    cols.shape == (N, C*kh*kw, H'*W')
    cols[n, (c*kh + i)*kw + j, p*W' + q] == Xp[n, c, p*sh + i*dh, q*sw + j*dw]

with ``Xp`` the input zero-padded by ``(ph, pw)`` on each side.  The row index runs over
``(c, i, j)`` in the order of ``W.reshape(O, C*kh*kw)``; the column index runs over the output
pixels ``(p, q)`` in row-major order, so ``W2d @ cols[n]`` reshapes straight to the ``(O, H', W')``
output of image ``n`` (NCHW, no transpose).  Stacking the images side by side,
``cols.transpose(1, 0, 2).reshape(C*kh*kw, N*H'*W')`` is the single textbook column matrix;
``np.matmul(W2d, cols)`` multiplies by all its blocks in one call.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from dlcourse.numpy_ops._arrays import as_numeric_array
from dlcourse.shapes import check_ndim, conv_output_shape, pair


def _im2col(X, kernel, stride, padding, dilation, out):
    """:func:`im2col` on validated arguments (pairs); returns ``(N, C*kh*kw, H'*W')``."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (ho, wo) = kernel, stride, padding, dilation, out
    n, c = X.shape[:2]
    Xp = np.pad(X, [(0, 0), (0, 0), (ph, ph), (pw, pw)]) if ph or pw else X
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    # Every (dilated) window as a view, then the strided positions and the dilated taps ...
    windows = sliding_window_view(Xp, span, axis=(2, 3))
    windows = windows[:, :, : (ho - 1) * sh + 1 : sh, : (wo - 1) * sw + 1 : sw, ::dh, ::dw]
    # ... and ONE copy into (N, C, kh, kw, H', W') order: rows (c, i, j), columns (p, q).
    cols = np.ascontiguousarray(windows.transpose(0, 1, 4, 5, 2, 3))
    return cols.reshape(n, c * kh * kw, ho * wo)


def _col2im(cols, x_shape, kernel, stride, padding, dilation, out):
    """:func:`col2im` on validated arguments; returns an array of shape ``x_shape``."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (ho, wo) = kernel, stride, padding, dilation, out
    n, c, h, w = x_shape
    cols = cols.reshape(n, c, kh, kw, ho, wo)
    Xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    # One strided add per kernel tap (i, j): tap (i, j) of output pixel (p, q) came from padded
    # pixel (p*sh + i*dh, q*sw + j*dw).  Overlapping windows add up, as the chain rule says.
    for i in range(kh):
        for j in range(kw):
            Xp[:, :, i * dh : i * dh + (ho - 1) * sh + 1 : sh, j * dw : j * dw + (wo - 1) * sw + 1 : sw] += (
                cols[:, :, i, j]
            )
    if ph or pw:
        Xp = np.ascontiguousarray(Xp[:, :, ph : ph + h, pw : pw + w])
    return Xp


def _check_window_args(x_shape, kernel_size, stride, padding, dilation):
    kernel = pair(kernel_size, "kernel_size")
    stride, padding, dilation = pair(stride, "stride"), pair(padding, "padding"), pair(dilation, "dilation")
    try:
        out = conv_output_shape(tuple(x_shape[2:]), kernel, padding, stride, dilation)
    except ValueError as err:
        raise ValueError(f"X shape {tuple(x_shape)}, kernel_size {kernel}: {err}") from None
    return kernel, stride, padding, dilation, out


def im2col(X, kernel_size, stride=1, padding=0, dilation=1):
    """Copy every receptive field of ``X`` into a column: convolution becomes one GEMM.

    ``X: (N, C, H, W)`` input; ``kernel_size``, ``stride``, ``padding`` (zeros on each side) and
    ``dilation`` are ints or ``(h, w)`` pairs, as in :func:`~dlcourse.numpy_ops.conv2d`.
    Returns ``cols: (N, C*kh*kw, H'*W')`` with
    ``cols[n, (c*kh + i)*kw + j, p*W' + q] = Xp[n, c, p*sh + i*dh, q*sw + j*dw]`` (``Xp`` the
    padded input), so ``conv2d(X, W)[n] == (W.reshape(O, -1) @ cols[n]).reshape(O, H', W')``.
    Memory: ``kh*kw`` times the input (each pixel is copied once per window that sees it).
    """
    X = as_numeric_array(X, "X")
    check_ndim(X.shape, 4, "X", "(N, C, H, W)")
    return _im2col(X, *_check_window_args(X.shape, kernel_size, stride, padding, dilation))


def col2im(cols, X_shape, kernel_size, stride=1, padding=0, dilation=1):
    """The adjoint of :func:`im2col`: add every column back onto the pixels it was copied from.

    ``cols: (N, C*kh*kw, H'*W')`` in :func:`im2col`'s layout; ``X_shape = (N, C, H, W)`` the shape
    of the input that :func:`im2col` would have read; the other arguments as in :func:`im2col`.
    Returns ``(N, C, H, W)``: each pixel receives the sum of the entries of every column (window)
    that contains it, and the padding's share is dropped.  It is the transpose of ``im2col``
    as a linear map, ``<im2col(X), cols> == <X, col2im(cols)>``, which is why it gives the
    gradient of a convolution with respect to its input and computes the transposed convolution.
    It is *not* an inverse: ``col2im(im2col(X))`` multiplies each pixel by the number of windows
    that see it.
    """
    cols = as_numeric_array(cols, "cols")
    if not isinstance(X_shape, (tuple, list)) or len(X_shape) != 4:
        raise ValueError(f"X_shape must be 4 ints (N, C, H, W), got {X_shape!r}")
    X_shape = tuple(int(s) for s in X_shape)
    if min(X_shape) < 0:
        raise ValueError(f"X_shape must not have negative sizes, got {X_shape}")
    kernel, stride, padding, dilation, out = _check_window_args(X_shape, kernel_size, stride, padding, dilation)
    n, c = X_shape[:2]
    expected = (n, c * kernel[0] * kernel[1], out[0] * out[1])
    if cols.shape != expected:
        raise ValueError(
            f"cols shape {cols.shape} does not match X_shape {X_shape} with kernel {kernel}: "
            f"expected (N, C*kh*kw, H'*W') = {expected}"
        )
    return _col2im(cols, X_shape, kernel, stride, padding, dilation, out)


def conv_matrix(X_shape, K):
    """The lecture's convolution matrix: single-channel cross-correlation as ``M @ vec(X)``.

    ``X_shape = (H, W)`` the input's shape, ``K: (kh, kw)`` the kernel (no padding, stride 1).
    Returns ``M: (H'*W', H*W)`` with ``H' = H - kh + 1``, ``W' = W - kw + 1``: row ``p*W' + q``
    holds the kernel laid over window ``(p, q)`` of the row-major flattened input and zeros
    elsewhere, so ``corr2d(X, K).ravel() == M @ X.ravel()``.  For a 3x3 input and a 2x2 kernel it
    is the lecture's 4x9 matrix.  ``M.T`` (``(H*W, H'*W')``) is the transposed convolution:
    ``(M.T @ Y.ravel()).reshape(H, W)`` spreads each output back over its window, and equals
    ``conv_transpose2d`` of ``Y`` with the same kernel (the lecture's 9x4 example).
    """
    K = as_numeric_array(K, "K")
    check_ndim(K.shape, 2, "K", "(kh, kw)")
    if not isinstance(X_shape, (tuple, list)) or len(X_shape) != 2:
        raise ValueError(f"X_shape must be 2 ints (H, W), got {X_shape!r}")
    h, w = pair(tuple(X_shape), "X_shape")
    kh, kw = K.shape
    if kh < 1 or kw < 1 or kh > h or kw > w:
        raise ValueError(f"kernel of shape {K.shape} does not fit in an input of shape {(h, w)}")
    ho, wo = h - kh + 1, w - kw + 1
    M = np.zeros((ho * wo, h * w), dtype=K.dtype)
    p, q, i, j = np.meshgrid(np.arange(ho), np.arange(wo), np.arange(kh), np.arange(kw), indexing="ij")
    M[p * wo + q, (p + i) * w + (q + j)] = K[i, j]
    return M
