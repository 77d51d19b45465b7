"""Cross-correlation and convolution layers in PyTorch (chapters 1-3).

The same algorithms as :mod:`dlcourse.numpy_ops.conv`, written with tensor operations so they
run on a GPU and are differentiable by autograd.  ``Tensor.unfold`` plays the role of NumPy's
``sliding_window_view``: a strided view of every window, no copy.
"""
from __future__ import annotations

import torch

from dlcourse.shapes import check_conv2d_shapes, check_conv_transpose2d_shapes, check_ndim, pair


def as_tensor(value, name):
    """``torch.as_tensor(value)``, refusing non-numeric input with a ``TypeError``."""
    if not isinstance(value, torch.Tensor):
        try:
            value = torch.as_tensor(value)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"{name} must be a tensor or array of numbers: {err}") from None
    if value.dtype == torch.bool:
        value = value.to(torch.int64)  # count, as the NumPy twin does (uint8 would wrap at 256)
    return value


def _same_device(**tensors):
    devices = {name: t.device for name, t in tensors.items() if t is not None}
    if len(set(devices.values())) > 1:
        listing = ", ".join(f"{n} on {d}" for n, d in devices.items())
        raise ValueError(f"inputs must be on one device, got {listing}")


def _promote(*tensors):
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        if t is not None:
            dtype = torch.promote_types(dtype, t.dtype)
    return [None if t is None else t.to(dtype) for t in tensors]


def _check_kernel_fits(x_shape, k_shape):
    if k_shape[-2] < 1 or k_shape[-1] < 1:
        raise ValueError(f"kernel must have positive height and width, got K shape {tuple(k_shape)}")
    if k_shape[-2] > x_shape[-2] or k_shape[-1] > x_shape[-1]:
        raise ValueError(
            f"kernel of shape {tuple(k_shape)} is larger than the input of shape {tuple(x_shape)}"
        )


def _prepare(X, K, x_layout, k_layout):
    X, K = as_tensor(X, "X"), as_tensor(K, "K")
    check_ndim(X.shape, len(x_layout.split(",")), "X", x_layout)
    check_ndim(K.shape, len(k_layout.split(",")), "K", k_layout)
    _same_device(X=X, K=K)
    return _promote(X, K)


def corr2d_loops(X, K):
    """2-D cross-correlation with explicit loops. ``X: (H, W)``, ``K: (kh, kw)`` -> ``(H', W')``."""
    X, K = _prepare(X, K, "(H, W)", "(kh, kw)")
    _check_kernel_fits(X.shape, K.shape)
    kh, kw = K.shape
    Y = X.new_zeros((X.shape[0] - kh + 1, X.shape[1] - kw + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i : i + kh, j : j + kw] * K).sum()
    return Y


def corr2d(X, K):
    """2-D cross-correlation, vectorized. ``X: (H, W)``, ``K: (kh, kw)`` -> ``(H-kh+1, W-kw+1)``."""
    X, K = _prepare(X, K, "(H, W)", "(kh, kw)")
    _check_kernel_fits(X.shape, K.shape)
    windows = X.unfold(0, K.shape[0], 1).unfold(1, K.shape[1], 1)  # (H', W', kh, kw)
    return torch.tensordot(windows, K, dims=([2, 3], [0, 1]))


def corr2d_multi_in(X, K):
    """Sum over input channels. ``X: (C, H, W)``, ``K: (C, kh, kw)`` -> ``(H', W')``."""
    X, K = _prepare(X, K, "(C, H, W)", "(C, kh, kw)")
    if X.shape[0] != K.shape[0]:
        raise ValueError(
            f"channel mismatch: X shape {tuple(X.shape)} has {X.shape[0]} channels, "
            f"K shape {tuple(K.shape)} has {K.shape[0]}"
        )
    _check_kernel_fits(X.shape, K.shape)
    windows = X.unfold(1, K.shape[1], 1).unfold(2, K.shape[2], 1)  # (C, H', W', kh, kw)
    return torch.tensordot(windows, K, dims=([0, 3, 4], [0, 1, 2]))


def corr2d_multi_in_out(X, K):
    """One 3-D kernel per output channel. ``X: (C, H, W)``, ``K: (O, C, kh, kw)`` -> ``(O, H', W')``."""
    X, K = _prepare(X, K, "(C, H, W)", "(O, C, kh, kw)")
    if X.shape[0] != K.shape[1]:
        raise ValueError(
            f"channel mismatch: X shape {tuple(X.shape)} has {X.shape[0]} channels, "
            f"K shape {tuple(K.shape)} expects {K.shape[1]}"
        )
    _check_kernel_fits(X.shape, K.shape)
    windows = X.unfold(1, K.shape[2], 1).unfold(2, K.shape[3], 1)  # (C, H', W', kh, kw)
    Y = torch.tensordot(windows, K, dims=([0, 3, 4], [1, 2, 3]))  # (H', W', O)
    return Y.permute(2, 0, 1)


def conv1x1(X, K):
    """1x1 convolution as one matrix product. ``X: (C, H, W)``, ``K: (O, C, 1, 1)`` or ``(O, C)``."""
    X, K = as_tensor(X, "X"), as_tensor(K, "K")
    check_ndim(X.shape, 3, "X", "(C, H, W)")
    _same_device(X=X, K=K)
    X, K = _promote(X, K)
    if K.ndim == 4:
        if tuple(K.shape[2:]) != (1, 1):
            raise ValueError(f"conv1x1 needs a 1x1 kernel, got K shape {tuple(K.shape)}")
        K = K.reshape(K.shape[:2])
    check_ndim(K.shape, 2, "K", "(O, C) or (O, C, 1, 1)")
    c, h, w = X.shape
    if K.shape[1] != c:
        raise ValueError(
            f"channel mismatch: X shape {tuple(X.shape)} has {c} channels, K expects {K.shape[1]}"
        )
    return (K @ X.reshape(c, h * w)).reshape(K.shape[0], h, w)


def pad2d(X, padding):
    """Zero-pad the last two axes of ``X`` by ``padding`` (int or ``(ph, pw)``) on each side."""
    X = as_tensor(X, "X")
    if X.ndim < 2:
        raise ValueError(f"X must have at least 2 dimensions (..., H, W), got shape {tuple(X.shape)}")
    ph, pw = pair(padding, "padding")
    if ph < 0 or pw < 0:
        raise ValueError(f"padding must be >= 0, got {padding!r}")
    out = X.new_zeros((*X.shape[:-2], X.shape[-2] + 2 * ph, X.shape[-1] + 2 * pw))
    out[..., ph : ph + X.shape[-2], pw : pw + X.shape[-1]] = X
    return out


def conv2d(X, W, b=None, stride=1, padding=0, dilation=1, groups=1):
    """A 2-D convolution layer, as ``torch.nn.functional.conv2d``, from tensor operations.

    ``X: (N, C, H, W)`` input; ``W: (O, C // groups, kh, kw)`` filters; ``b: (O,)`` bias or None.
    ``stride``, ``padding`` (zeros on each side) and ``dilation`` are ints or ``(h, w)`` pairs.
    Returns ``(N, O, H', W')`` on the inputs' device.
    """
    X, W = as_tensor(X, "X"), as_tensor(W, "W")
    b = None if b is None else as_tensor(b, "b")
    (sh, sw), (ph, pw), (dh, dw), (ho, wo) = check_conv2d_shapes(
        tuple(X.shape), tuple(W.shape), None if b is None else tuple(b.shape),
        stride, padding, dilation, groups,
    )
    _same_device(X=X, W=W, b=b)
    X, W, b = _promote(X, W, b)
    n, c, _, _ = X.shape
    o, cg, kh, kw = W.shape
    Xp = pad2d(X, (ph, pw))
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    # unfold(dim, size, step): windows of the dilated span at the strided positions.
    windows = Xp.unfold(2, span_h, sh).unfold(3, span_w, sw)[..., ::dh, ::dw]  # (N,C,H',W',kh,kw)
    windows = windows.reshape(n, groups, cg, ho, wo, kh, kw)
    Wg = W.reshape(groups, o // groups, cg, kh, kw)
    Y = torch.einsum("ngchwij,gocij->ngohw", windows, Wg).reshape(n, o, ho, wo)
    if b is not None:
        Y = Y + b.reshape(1, o, 1, 1)
    return Y


def conv_transpose2d(X, W, b=None, stride=1, padding=0):
    """Transposed convolution, as ``torch.nn.functional.conv_transpose2d``, from tensor operations.

    ``X: (N, C_in, H, W)``; ``W: (C_in, C_out, kh, kw)``; ``b: (C_out,)`` or None; ``stride`` and
    ``padding`` ints or ``(h, w)`` pairs.  Returns ``(N, C_out, (H-1)*sh - 2*ph + kh, ...)`` on the
    inputs' device, differentiable by autograd.

    Written as "zero insertion + ordinary convolution" (the "fractionally strided" view): put
    ``stride - 1`` zeros between neighbouring input pixels, pad ``kh - 1 - padding`` zeros around
    (crop instead when that is negative), and cross-correlate with the kernel flipped in both
    spatial axes and its channel axes swapped, ``W.flip(2, 3).transpose(0, 1)``.  The NumPy twin
    computes the same numbers as ``col2im(W2d.T @ X2d)``.
    """
    X, W = as_tensor(X, "X"), as_tensor(W, "W")
    b = None if b is None else as_tensor(b, "b")
    (sh, sw), (ph, pw), (ho, wo) = check_conv_transpose2d_shapes(
        tuple(X.shape), tuple(W.shape), None if b is None else tuple(b.shape), stride, padding
    )
    _same_device(X=X, W=W, b=b)
    X, W, b = _promote(X, W, b)
    n, c_in, h, w = X.shape
    _, c_out, kh, kw = W.shape
    stuffed = X.new_zeros((n, c_in, (h - 1) * sh + 1, (w - 1) * sw + 1))
    stuffed[:, :, ::sh, ::sw] = X
    qh, qw = kh - 1 - ph, kw - 1 - pw  # padding of the equivalent stride-1 convolution
    full = pad2d(stuffed, (max(qh, 0), max(qw, 0)))
    full = full[:, :, max(-qh, 0) : full.shape[2] - max(-qh, 0), max(-qw, 0) : full.shape[3] - max(-qw, 0)]
    Y = conv2d(full, W.flip(2, 3).transpose(0, 1))
    assert tuple(Y.shape[2:]) == (ho, wo)
    if b is not None:
        Y = Y + b.reshape(1, c_out, 1, 1)
    return Y
