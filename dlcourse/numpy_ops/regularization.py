"""Weight decay as stateless functions, in NumPy (chapter 19): the L2 penalty, its gradient, and
one SGD step with momentum and weight decay on a single array.

The step is lecture 004's rule (AlexNet's), the one :func:`dlcourse.optim.sgd_step` applies to a
dict of parameters in place; :func:`sgd_update` is that same code run on copies of one array, so
the rule is written once::

    v <- momentum * v - weight_decay * lr * w - lr * g
    w <- w + v

The weight-decay term is the gradient of the L2 penalty :func:`l2_penalty`
``weight_decay / 2 * ||w||^2`` added to the loss: decaying the weights and penalizing their
squared norm are the same thing for plain SGD.
"""
from __future__ import annotations

from numbers import Real

import numpy as np

from dlcourse.numpy_ops._arrays import as_numeric_array

__all__ = ["l2_penalty", "l2_penalty_backward", "sgd_update"]


def check_rate(value, name, upper=None):
    """``value`` as a float, refusing a bool, a non-number or a negative (or ``>= upper``) value."""
    if isinstance(value, bool) or not isinstance(value, Real) or not value >= 0 or (upper is not None and value >= upper):
        bound = f"in [0, {upper})" if upper is not None else ">= 0"
        raise ValueError(f"{name} must be a number {bound}, got {value!r}")
    return float(value)


def _float(value, name):
    arr = as_numeric_array(value, name)
    return arr if np.issubdtype(arr.dtype, np.floating) else arr.astype(np.float64)


def l2_penalty(W, weight_decay):
    """The L2 penalty ``weight_decay / 2 * sum(W**2)`` of one weight array (any shape).

    Returns a 0-d array of ``W``'s floating dtype (integers count as float64).  Sum it over the
    weight arrays of a network (usually not its biases) and add it to the loss.
    """
    W = _float(W, "W")
    lam = check_rate(weight_decay, "weight_decay")
    return np.asarray(W.dtype.type(lam / 2) * np.sum(W * W), dtype=W.dtype)


def l2_penalty_backward(W, weight_decay):
    """The gradient of :func:`l2_penalty` with respect to ``W``: ``weight_decay * W`` (W's shape)."""
    W = _float(W, "W")
    return W.dtype.type(check_rate(weight_decay, "weight_decay")) * W


def sgd_update(W, dW, V, lr, momentum=0.0, weight_decay=0.0):
    """One SGD step with momentum and weight decay on one array; returns ``(W_new, V_new)``.

    ``W``: the weights, ``dW``: the minibatch-mean gradient of the loss (without the penalty),
    ``V``: the velocity (zeros before the first step); all three of one shape.  ``lr`` > 0,
    ``momentum`` in ``[0, 1)``, ``weight_decay`` >= 0.  Nothing is modified in place (the course's
    in-place :func:`dlcourse.optim.sgd_step` runs on copies).  ``torch.optim.SGD(lr=lr,
    momentum=momentum, weight_decay=weight_decay)`` takes the same steps (its buffer is ``-V/lr``).
    """
    from dlcourse.optim import sgd_step

    W, dW, V = _float(W, "W"), _float(dW, "dW"), _float(V, "V")
    if not (W.shape == dW.shape == V.shape):
        raise ValueError(f"W, dW and V must have one shape, got W {W.shape}, dW {dW.shape}, V {V.shape}")
    if isinstance(lr, bool) or not isinstance(lr, Real) or not lr > 0:
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    momentum = check_rate(momentum, "momentum", upper=1)
    weight_decay = check_rate(weight_decay, "weight_decay")
    dtype = np.result_type(W, dW, V)
    params, velocities = {"w": W.astype(dtype, copy=True)}, {"w": V.astype(dtype, copy=True)}
    sgd_step(params, {"w": dW.astype(dtype)}, velocities, float(lr), momentum, weight_decay)
    return params["w"], velocities["w"]
