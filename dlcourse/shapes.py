"""Shape arithmetic and argument checks shared by both twins.

Everything here works on plain Python integers and shape tuples, so the NumPy and the PyTorch
implementations validate their inputs with exactly the same rules and messages.
"""
from __future__ import annotations

from numbers import Integral

__all__ = ["conv_output_shape", "pair", "check_conv2d_shapes", "check_ndim", "check_pool2d_args",
           "check_conv_transpose2d_shapes"]


def pair(value, name):
    """Return ``value`` as a pair of ints ``(height, width)``; an int is used for both."""
    if isinstance(value, Integral) and not isinstance(value, bool):
        return (int(value), int(value))
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, Integral) and not isinstance(v, bool) for v in value
    ):
        return (int(value[0]), int(value[1]))
    raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")


def _one_output_size(n, k, padding, stride, dilation):
    if n < 1 or k < 1:
        raise ValueError(f"sizes must be positive: input size {n}, kernel size {k}")
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    if dilation < 1:
        raise ValueError(f"dilation must be >= 1, got {dilation}")
    span = dilation * (k - 1) + 1  # the kernel's footprint once dilated
    padded = n + 2 * padding
    if span > padded:
        raise ValueError(
            f"kernel of size {k} (dilated footprint {span}) is larger than the padded input "
            f"of size {padded} (input {n} + 2 x padding {padding})"
        )
    # The lecture writes floor((n - k + p + s) / s) with p the *total* padding (both sides);
    # here padding is per side, as in torch, so p = 2 * padding and k is the dilated span.
    return (padded - span + stride) // stride


def conv_output_shape(n, k, padding=0, stride=1, dilation=1):
    """Output size of a convolution or pooling window sliding over an input.

    ``n`` input size, ``k`` kernel size, ``padding`` zeros added on *each* side, ``stride`` step,
    ``dilation`` spacing between kernel taps.  Each argument is an int or an ``(h, w)`` pair.
    Returns an int when every argument is an int, else an ``(h, w)`` pair::

        floor((n + 2*padding - dilation*(k - 1) - 1) / stride) + 1

    which is the lecture's ``floor((n - k + p + s) / s)`` with ``p = 2*padding`` total padding.
    Raises ``ValueError`` when the (dilated) kernel does not fit in the padded input, or when the
    stride, padding or dilation is out of range.
    """
    args = (n, k, padding, stride, dilation)
    names = ("n", "k", "padding", "stride", "dilation")
    pairs = [pair(a, nm) for a, nm in zip(args, names)]
    out = tuple(_one_output_size(*(p[i] for p in pairs)) for i in range(2))
    if all(isinstance(a, Integral) for a in args):
        return out[0]
    return out


def check_ndim(shape, ndim, name, layout):
    """Raise ``ValueError`` unless ``shape`` has ``ndim`` dimensions (``layout`` names them)."""
    if len(shape) != ndim:
        raise ValueError(
            f"{name} must be {ndim}-D {layout}, got shape {tuple(shape)} ({len(shape)}-D)"
        )


def check_conv2d_shapes(x_shape, w_shape, b_shape, stride, padding, dilation, groups):
    """Validate a conv2d call; return ``(stride, padding, dilation, (H_out, W_out))`` as pairs.

    ``x_shape`` is ``(N, C, H, W)``, ``w_shape`` is ``(O, C // groups, kh, kw)``, ``b_shape``
    is ``(O,)`` or ``None``.
    """
    check_ndim(x_shape, 4, "X", "(N, C, H, W)")
    check_ndim(w_shape, 4, "W", "(O, C/groups, kh, kw)")
    if not isinstance(groups, Integral) or isinstance(groups, bool):
        raise TypeError(f"groups must be an int, got {groups!r}")
    if groups < 1:
        raise ValueError(f"groups must be a positive int, got {groups!r}")
    n, c, h, w = x_shape
    o, c_per_group, kh, kw = w_shape
    if c % groups or o % groups:
        raise ValueError(
            f"groups={groups} must divide both the input channels ({c}, X shape "
            f"{tuple(x_shape)}) and the output channels ({o}, W shape {tuple(w_shape)})"
        )
    if c_per_group * groups != c:
        raise ValueError(
            f"channel mismatch: X shape {tuple(x_shape)} has {c} channels but W shape "
            f"{tuple(w_shape)} expects {c_per_group} x groups={groups} = {c_per_group * groups}"
        )
    if b_shape is not None and tuple(b_shape) != (o,):
        raise ValueError(f"b must have shape ({o},) to match W shape {tuple(w_shape)}, got {tuple(b_shape)}")
    stride, padding, dilation = pair(stride, "stride"), pair(padding, "padding"), pair(dilation, "dilation")
    try:
        out = conv_output_shape((h, w), (kh, kw), padding, stride, dilation)
    except ValueError as err:
        raise ValueError(f"X shape {tuple(x_shape)}, W shape {tuple(w_shape)}: {err}") from None
    return stride, padding, dilation, out


def check_pool2d_args(x_shape, kernel_size, stride, padding):
    """Validate a pooling call; return ``(kernel, stride, padding, (H_out, W_out))`` as pairs.

    ``x_shape`` is ``(N, C, H, W)``; ``kernel_size``, ``stride`` and ``padding`` are ints or
    ``(h, w)`` pairs, and ``stride=None`` means "the kernel size" (non-overlapping windows).
    Like ``torch.nn.functional.max_pool2d`` / ``avg_pool2d``, the padding on each side may be at
    most half the kernel size, so that no window lies entirely in the padding.
    """
    check_ndim(x_shape, 4, "X", "(N, C, H, W)")
    kernel = pair(kernel_size, "kernel_size")
    if min(kernel) < 1:
        raise ValueError(f"kernel_size must be >= 1, got {kernel_size!r}")
    stride = kernel if stride is None else pair(stride, "stride")
    padding = pair(padding, "padding")
    if min(padding) < 0:
        raise ValueError(f"padding must be >= 0, got {padding!r}")
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise ValueError(
            f"padding {padding} must be at most half of kernel_size {kernel} on each axis "
            f"(torch's rule: a window must never lie entirely in the padding)"
        )
    try:
        out = conv_output_shape(tuple(x_shape[2:]), kernel, padding, stride)
    except ValueError as err:
        raise ValueError(f"X shape {tuple(x_shape)}, kernel_size {kernel}: {err}") from None
    return kernel, stride, padding, out


def check_conv_transpose2d_shapes(x_shape, w_shape, b_shape, stride, padding):
    """Validate a conv_transpose2d call; return ``(stride, padding, (H_out, W_out))`` as pairs.

    ``x_shape`` is ``(N, C_in, H, W)``, ``w_shape`` is ``(C_in, C_out, kh, kw)`` (torch's layout
    for transposed convolution), ``b_shape`` is ``(C_out,)`` or ``None``.  The output size inverts
    :func:`conv_output_shape`: ``H_out = (H - 1)*stride - 2*padding + kh``, the largest input a
    convolution with these settings maps to ``H`` (``output_padding`` would add the rest).
    """
    check_ndim(x_shape, 4, "X", "(N, C_in, H, W)")
    check_ndim(w_shape, 4, "W", "(C_in, C_out, kh, kw)")
    n, c_in, h, w = x_shape
    if w_shape[0] != c_in:
        raise ValueError(
            f"channel mismatch: X shape {tuple(x_shape)} has {c_in} channels but W shape "
            f"{tuple(w_shape)} expects {w_shape[0]} (W is (C_in, C_out, kh, kw))"
        )
    if b_shape is not None and tuple(b_shape) != (w_shape[1],):
        raise ValueError(
            f"b must have shape ({w_shape[1]},) to match W shape {tuple(w_shape)}, got {tuple(b_shape)}"
        )
    stride, padding = pair(stride, "stride"), pair(padding, "padding")
    if min(stride) < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    if min(padding) < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    if min(w_shape[2:]) < 1 or min(h, w) < 1:
        raise ValueError(f"sizes must be positive: X shape {tuple(x_shape)}, W shape {tuple(w_shape)}")
    out = tuple((size - 1) * s - 2 * p + k for size, s, p, k in zip((h, w), stride, padding, w_shape[2:]))
    if min(out) < 1:
        raise ValueError(
            f"X shape {tuple(x_shape)}, W shape {tuple(w_shape)}, stride {stride}, padding {padding}: "
            f"output size (H - 1)*stride - 2*padding + k = {out} is not positive (padding too large)"
        )
    return stride, padding, out
