"""The pieces of a classifier in PyTorch (chapter 7): the twins of :mod:`dlcourse.numpy_ops.layers`.

Written with tensor operations (never ``torch.nn.functional``'s versions), so they run on the
inputs' device and autograd differentiates them: the backward passes the NumPy twin writes by
hand (``linear_backward``, ``relu_backward``, ...) come from ``loss.backward()`` here.
Integer inputs to the smooth functions are converted to float64, as in the NumPy twin.
"""
from __future__ import annotations

import torch

from dlcourse.numpy_ops.layers import check_cross_entropy_args, check_linear_shapes
from dlcourse.torch_ops.conv import _same_device, as_tensor

__all__ = ["linear", "relu", "sigmoid", "tanh", "softmax", "log_softmax", "softmax_cross_entropy"]


def _float(X, name):
    X = as_tensor(X, name)
    return X if (X.is_floating_point() or X.is_complex()) else X.to(torch.float64)


def linear(X, W, b=None):
    """Fully connected layer ``Y = X @ W.T + b``, as ``torch.nn.functional.linear``.

    ``X: (N, D_in)``; ``W: (D_out, D_in)``; ``b: (D_out,)`` or None.  Returns ``(N, D_out)``.
    """
    X, W = as_tensor(X, "X"), as_tensor(W, "W")
    b = None if b is None else as_tensor(b, "b")
    _same_device(X=X, W=W, b=b)
    check_linear_shapes(tuple(X.shape), tuple(W.shape), None if b is None else tuple(b.shape))
    Y = X @ W.T
    return Y if b is None else Y + b


def relu(X):
    """Rectified linear unit ``max(X, 0)``, elementwise; any shape (autograd's gradient at 0 is 0)."""
    X = as_tensor(X, "X")
    return torch.where(X > 0, X, torch.zeros((), dtype=X.dtype, device=X.device))


def sigmoid(X):
    """Logistic sigmoid ``1 / (1 + exp(-X))`` without overflow: branches on the sign, ``e = exp(-|x|)``."""
    X = _float(X, "X")
    e = torch.exp(-X.abs())
    return torch.where(X >= 0, 1 / (1 + e), e / (1 + e))


def tanh(X):
    """Hyperbolic tangent, elementwise (``torch.tanh``)."""
    return torch.tanh(_float(X, "X"))


def log_softmax(X, axis=-1):
    """``log(softmax(X))`` along ``axis``: ``z - log(sum(exp(z)))`` with ``z = X - max(X)`` (no overflow)."""
    X = _float(X, "X")
    z = X - X.amax(dim=axis, keepdim=True).detach()  # the shift is a constant: no gradient needed
    return z - torch.log(torch.exp(z).sum(dim=axis, keepdim=True))


def softmax(X, axis=-1):
    """Softmax along ``axis``, shifted by the maximum so it never overflows; sums to 1 along ``axis``."""
    X = _float(X, "X")
    e = torch.exp(X - X.amax(dim=axis, keepdim=True).detach())
    return e / e.sum(dim=axis, keepdim=True)


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of softmax probabilities, and its gradient: ``(loss, dlogits)``.

    ``logits: (N, K)``; ``labels: (N,)`` integer classes in ``[0, K)``.  ``loss`` is a 0-d tensor
    that autograd can differentiate (call ``loss.backward()``), equal to
    ``F.cross_entropy(logits, labels)``; ``dlogits = (softmax(logits) - onehot(labels)) / N`` is
    the same gradient written out (a tensor outside the autograd graph), as the NumPy twin returns.
    """
    logits, labels = _float(logits, "logits"), as_tensor(labels, "labels")
    _same_device(logits=logits, labels=labels)
    is_int = not (labels.is_floating_point() or labels.is_complex())
    nonempty = labels.numel() > 0 and is_int
    check_cross_entropy_args(
        tuple(logits.shape), tuple(labels.shape), is_int,
        int(labels.min()) if nonempty else 0, int(labels.max()) if nonempty else 0,
    )
    n = logits.shape[0]
    if n == 0:
        raise ValueError("softmax_cross_entropy needs at least one example, got logits shape (0, K)")
    logp = log_softmax(logits, axis=1)
    labels = labels.long()
    loss = -logp.gather(1, labels[:, None]).mean()
    with torch.no_grad():
        dlogits = logp.exp()
        dlogits[torch.arange(n, device=logits.device), labels] -= 1
        dlogits /= n
    return loss, dlogits
