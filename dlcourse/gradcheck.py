"""Gradient checking: compare a hand-written gradient with central differences (chapter 6).

A backward function is easy to get almost right.  The check: turn the layer into a scalar
function (e.g. ``L(X) = sum(conv2d(X, W) * G)`` for a fixed random ``G``, whose gradient with
respect to ``Y`` is ``G``), nudge each input entry by ``+-eps`` and compare the slope with the
analytic gradient::

    dL/dx[i] ~ (L(x + eps*e_i) - L(x - eps*e_i)) / (2*eps)        error O(eps^2)

In float64 with ``eps = 1e-6`` the truncation error is about ``eps^2 = 1e-12`` and the rounding
error about ``1e-16 * |L| / eps``, so a correct smooth gradient agrees to about ``1e-8`` relative
error or better; a wrong one is usually off by ``1e-1`` or more.  Near a kink (ReLU at 0, a tie in
max pooling) the finite difference straddles the kink and the check is meaningless there: keep
inputs away from kinks, or loosen the bound and say why.

Usage, e.g. in an exercise::

    from dlcourse.gradcheck import gradcheck
    G = rng.standard_normal(conv2d(X, W).shape)
    dX, dW, _ = conv2d_backward(G, X, W)
    err = gradcheck(lambda X, W: (conv2d(X, W) * G).sum(), [X, W], [dX, dW])
    assert err < 1e-7, err

Each entry costs two evaluations of ``f``, so keep the arrays small (a few hundred entries).
"""
from __future__ import annotations

import numpy as np

__all__ = ["numerical_gradient", "relative_error", "gradcheck"]


def _scalar(value):
    arr = np.asarray(value)
    if arr.shape != ():
        raise ValueError(f"f must return a scalar (the loss), got an array of shape {arr.shape}")
    return float(arr)


def numerical_gradient(f, x, eps=1e-6):
    """Central-difference gradient of a scalar function, entry by entry, in float64.

    ``f``: called as ``f(x)`` with a float64 array shaped like ``x``, returns a scalar.
    ``x``: the point (any shape; converted to a float64 copy, never modified).
    Returns ``g`` with ``x``'s shape and ``g[i] = (f(x + eps*e_i) - f(x - eps*e_i)) / (2*eps)``.
    """
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps!r}")
    x = np.array(x, dtype=np.float64)  # a copy: we nudge it in place
    grad = np.empty_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = _scalar(f(x))
        flat[i] = old - eps
        minus = _scalar(f(x))
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * eps)
    return grad


def relative_error(analytic, numerical):
    """``max |a - n| / max(max |a|, max |n|)``: the worst error relative to the gradient's scale.

    Scaling by the largest entry (not entry by entry) keeps entries that are nearly zero, where
    an entrywise ratio is noise over noise, from dominating.  ``0.0`` when both are all zero.
    """
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numerical, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"shape mismatch: analytic gradient {a.shape}, numerical gradient {n.shape}")
    if a.size == 0:
        return 0.0
    scale = max(np.abs(a).max(), np.abs(n).max())
    return 0.0 if scale == 0 else float(np.abs(a - n).max() / scale)


def gradcheck(f, inputs, analytic_grads, eps=1e-6):
    """Check analytic gradients of ``f(*inputs)`` against central differences; return the error.

    ``f``: called as ``f(*inputs)``, returns a scalar loss.  ``inputs``: list of arrays.
    ``analytic_grads``: list of the same length, the gradient of the loss with respect to each
    input (same shape), or ``None`` to skip that input.  Every input is converted to float64 first.
    Returns the largest :func:`relative_error` over the checked inputs (``< 1e-7`` for a correct
    gradient of a smooth function in float64).
    """
    inputs = [np.array(x, dtype=np.float64) for x in inputs]
    if len(analytic_grads) != len(inputs):
        raise ValueError(f"got {len(inputs)} inputs but {len(analytic_grads)} analytic gradients")
    worst = 0.0
    for k, grad in enumerate(analytic_grads):
        if grad is None:
            continue
        if np.shape(grad) != inputs[k].shape:
            raise ValueError(
                f"analytic gradient {k} has shape {np.shape(grad)} but input {k} has shape {inputs[k].shape}"
            )

        def f_k(x, k=k):
            return f(*inputs[:k], x, *inputs[k + 1 :])

        worst = max(worst, relative_error(grad, numerical_gradient(f_k, inputs[k], eps)))
    return worst
