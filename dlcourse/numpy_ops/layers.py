"""The pieces of a classifier in NumPy, each forward beside its backward (chapter 7).

A fully connected layer, three activation functions, softmax and the softmax-cross-entropy loss.
Every ``*_backward(dY, ...)`` takes ``dY = dL/dY``, the gradient of a scalar loss ``L`` with
respect to the forward's output, and the forward's inputs, and returns the gradients with respect
to those inputs (the chain rule, one layer at a time: the lecture's "sensitivities" flowing back).

Floating inputs keep their dtype (float32 stays float32); integer inputs to the smooth functions
are converted to float64.
"""
from __future__ import annotations

import numpy as np

from dlcourse.numpy_ops._arrays import as_numeric_array

__all__ = [
    "linear",
    "linear_backward",
    "relu",
    "relu_backward",
    "sigmoid",
    "sigmoid_backward",
    "tanh",
    "tanh_backward",
    "softmax",
    "log_softmax",
    "softmax_cross_entropy",
]


# --- checks shared with the torch twin (plain shape tuples, no arrays) ---------------------------

def check_linear_shapes(x_shape, w_shape, b_shape):
    """``X (N, D_in)``, ``W (D_out, D_in)`` (torch's layout), ``b (D_out,)`` or None; else ``ValueError``."""
    if len(x_shape) != 2:
        raise ValueError(f"X must be 2-D (N, D_in), got shape {tuple(x_shape)}")
    if len(w_shape) != 2:
        raise ValueError(f"W must be 2-D (D_out, D_in), got shape {tuple(w_shape)}")
    if x_shape[1] != w_shape[1]:
        raise ValueError(
            f"X shape {tuple(x_shape)} and W shape {tuple(w_shape)}: X has {x_shape[1]} features but "
            f"W expects D_in = {w_shape[1]} (W is (D_out, D_in), as in torch.nn.Linear)"
        )
    if b_shape is not None and tuple(b_shape) != (w_shape[0],):
        raise ValueError(f"b must have shape ({w_shape[0]},) to match W shape {tuple(w_shape)}, got {tuple(b_shape)}")


def check_cross_entropy_args(logits_shape, labels_shape, labels_is_integer, labels_min, labels_max):
    """``logits (N, K)`` and integer ``labels (N,)`` in ``[0, K)``; else ``ValueError``/``TypeError``."""
    if len(logits_shape) != 2:
        raise ValueError(f"logits must be 2-D (N, K), got shape {tuple(logits_shape)}")
    if tuple(labels_shape) != (logits_shape[0],):
        raise ValueError(
            f"labels must have shape ({logits_shape[0]},) (one class index per row of logits shape "
            f"{tuple(logits_shape)}), got {tuple(labels_shape)}"
        )
    if not labels_is_integer:
        raise TypeError("labels must be integer class indices (e.g. int64), not one-hot or float")
    if logits_shape[0] and (labels_min < 0 or labels_max >= logits_shape[1]):
        raise ValueError(
            f"labels must lie in [0, {logits_shape[1]}) for logits with {logits_shape[1]} classes, "
            f"got values from {labels_min} to {labels_max}"
        )


def _float(X, name):
    X = as_numeric_array(X, name)
    return X if np.issubdtype(X.dtype, np.inexact) else X.astype(np.float64)


def _check_same_shape(dY, X):
    if dY.shape != X.shape:
        raise ValueError(f"dY shape {dY.shape} must equal the forward input's shape {X.shape}")


# --- fully connected layer -----------------------------------------------------------------------

def linear(X, W, b=None):
    """Fully connected layer ``Y = X @ W.T + b``, as ``torch.nn.functional.linear``.

    ``X: (N, D_in)`` inputs, one per row; ``W: (D_out, D_in)`` weights (torch's layout: one row per
    output unit); ``b: (D_out,)`` or None.  Returns ``(N, D_out)``.
    """
    X, W = as_numeric_array(X, "X"), as_numeric_array(W, "W")
    b = None if b is None else as_numeric_array(b, "b")
    check_linear_shapes(X.shape, W.shape, None if b is None else b.shape)
    Y = X @ W.T
    return Y if b is None else Y + b


def linear_backward(dY, X, W, b=None):
    """Gradients of :func:`linear`: returns ``(dX, dW, db)`` for ``dY: (N, D_out)``.

    ``dX = dY @ W`` (N, D_in), ``dW = dY.T @ X`` (D_out, D_in): each weight collects its input
    times the gradient of its output, summed over the batch; ``db = dY.sum(0)`` (``None`` when
    ``b`` is None).
    """
    dY, X, W = as_numeric_array(dY, "dY"), as_numeric_array(X, "X"), as_numeric_array(W, "W")
    check_linear_shapes(X.shape, W.shape, None if b is None else np.shape(b))
    if dY.shape != (X.shape[0], W.shape[0]):
        raise ValueError(f"dY shape {dY.shape} must be (N, D_out) = {(X.shape[0], W.shape[0])} for X shape {X.shape}, W shape {W.shape}")
    return dY @ W, dY.T @ X, (None if b is None else dY.sum(axis=0))


# --- activations ---------------------------------------------------------------------------------

def relu(X):
    """Rectified linear unit ``max(X, 0)``, elementwise; any shape."""
    X = as_numeric_array(X, "X")
    return np.maximum(X, 0).astype(X.dtype, copy=False)


def relu_backward(dY, X):
    """Gradient of :func:`relu`: ``dY`` where ``X > 0``, else 0.

    At ``X == 0`` ReLU has a kink and no derivative; we use 0 there, as PyTorch does.
    """
    dY, X = as_numeric_array(dY, "dY"), as_numeric_array(X, "X")
    _check_same_shape(dY, X)
    return np.where(X > 0, dY, np.zeros((), dtype=dY.dtype))


def sigmoid(X):
    """Logistic sigmoid ``1 / (1 + exp(-X))``, elementwise, without overflow for any input.

    Written as ``exp(-|x|)``-based branches so ``exp`` never sees a large positive argument:
    ``1 / (1 + e)`` for ``x >= 0`` and ``e / (1 + e)`` for ``x < 0``, with ``e = exp(-|x|)``.
    """
    X = _float(X, "X")
    e = np.exp(-np.abs(X))
    return np.where(X >= 0, 1 / (1 + e), e / (1 + e)).astype(X.dtype, copy=False)


def sigmoid_backward(dY, X):
    """Gradient of :func:`sigmoid`: ``dY * s * (1 - s)`` with ``s = sigmoid(X)``.

    The derivative is at most 1/4 (at 0) and vanishes for large ``|X|``: the saturation that makes
    deep sigmoid networks slow to train.
    """
    dY, X = as_numeric_array(dY, "dY"), _float(X, "X")
    _check_same_shape(dY, X)
    s = sigmoid(X)
    return dY * s * (1 - s)


def tanh(X):
    """Hyperbolic tangent, elementwise (``np.tanh``, stable for any input); any shape."""
    X = _float(X, "X")
    return np.tanh(X)


def tanh_backward(dY, X):
    """Gradient of :func:`tanh`: ``dY * (1 - tanh(X)**2)``."""
    dY, X = as_numeric_array(dY, "dY"), _float(X, "X")
    _check_same_shape(dY, X)
    t = np.tanh(X)
    return dY * (1 - t * t)


# --- softmax and the loss ------------------------------------------------------------------------

def log_softmax(X, axis=-1):
    """``log(softmax(X))`` along ``axis``, computed stably: ``z - log(sum(exp(z)))`` with ``z = X - max(X)``.

    Shifting by the maximum changes nothing mathematically (softmax is invariant to adding a
    constant) but keeps every ``exp`` argument at most 0, so logits like ``1e4`` do not overflow.
    """
    X = _float(X, "X")
    z = X - X.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def softmax(X, axis=-1):
    """Softmax along ``axis``: ``exp(X) / sum(exp(X))``, shifted by the maximum so it never overflows.

    Returns probabilities of ``X``'s shape, non-negative and summing to 1 along ``axis``.
    """
    X = _float(X, "X")
    e = np.exp(X - X.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of softmax probabilities, and its gradient: ``(loss, dlogits)``.

    ``logits: (N, K)`` unnormalized scores; ``labels: (N,)`` integer classes in ``[0, K)``.
    ``loss = -mean_n log softmax(logits[n])[labels[n]]`` (a float, as ``F.cross_entropy``) and
    ``dlogits = (softmax(logits) - onehot(labels)) / N``, shape ``(N, K)``: the famous "predicted
    minus true" gradient, divided by ``N`` because the loss is a mean.  Computed through
    :func:`log_softmax`, so huge logits (``1e4``) give finite values.
    """
    logits = _float(logits, "logits")
    labels = np.asarray(labels)
    is_int = np.issubdtype(labels.dtype, np.integer)
    check_cross_entropy_args(
        logits.shape, labels.shape, is_int,
        int(labels.min()) if labels.size and is_int else 0, int(labels.max()) if labels.size and is_int else 0,
    )
    n = logits.shape[0]
    if n == 0:
        raise ValueError("softmax_cross_entropy needs at least one example, got logits shape (0, K)")
    logp = log_softmax(logits, axis=1)
    rows = np.arange(n)
    loss = -logp[rows, labels].mean()
    dlogits = np.exp(logp)
    dlogits[rows, labels] -= 1
    dlogits /= n
    return float(loss), dlogits
