"""Stochastic gradient descent with momentum and weight decay, in NumPy (chapter 7).

The update rule of lecture 004 (Krizhevsky et al.'s AlexNet paper), for every parameter ``w``
with gradient ``g = dL/dw`` averaged over the minibatch, learning rate ``eps``, momentum ``mu``
(0.9 there) and weight decay ``lam`` (0.0005 there)::

    v <- mu * v - lam * eps * w - eps * g        (velocity, starts at 0)
    w <- w + v

The velocity is a running, exponentially decaying sum of past steps: directions the gradients
agree on build up speed, directions where they flip sign cancel out.  The weight-decay term pulls
every weight toward zero a little at each step (the gradient of ``lam/2 * ||w||^2``).

``torch.optim.SGD(params, lr=eps, momentum=mu, weight_decay=lam)`` writes the same rule with a
velocity measured in gradient units, ``b <- mu * b + (g + lam * w)``, ``w <- w - eps * b``; with a
constant learning rate ``v = -eps * b`` and the two produce identical weights (a test checks).
They differ only if the learning rate changes mid-training: here the old velocity keeps the step
size it was taken with, in PyTorch it is rescaled by the new rate.

:class:`Adam` (Kingma and Ba, 2015) is ``torch.optim.Adam``'s rule on the same kind of dict.

:func:`clip_grad_norm` (chapters 14-16) rescales a set of gradients so their global norm is at
most ``max_norm`` before the step, as ``torch.nn.utils.clip_grad_norm_``: the cure for the
exploding gradients of recurrent networks trained through long sequences.
"""
from __future__ import annotations

import numpy as np

__all__ = ["SGD", "sgd_step", "Adam", "clip_grad_norm"]


def _check_same_keys(params, grads):
    if set(grads) != set(params):
        missing, extra = sorted(set(params) - set(grads)), sorted(set(grads) - set(params))
        raise ValueError(f"grads must have the same keys as params: missing {missing}, unexpected {extra}")
    for name, w in params.items():
        if np.shape(grads[name]) != np.shape(w):
            raise ValueError(f"grads[{name!r}] has shape {np.shape(grads[name])} but params[{name!r}] has shape {np.shape(w)}")


def sgd_step(params, grads, velocities, lr, momentum=0.0, weight_decay=0.0):
    """One step of the lecture's rule, updating ``params`` and ``velocities`` in place.

    ``params``, ``grads``, ``velocities``: dicts ``name -> np.ndarray`` with the same keys and
    shapes (``velocities`` may be empty: missing entries start at zero).  Returns ``params``.
    """
    _check_same_keys(params, grads)
    for name, w in params.items():
        g = np.asarray(grads[name], dtype=w.dtype)
        v = velocities.get(name)
        if v is None:
            v = velocities[name] = np.zeros_like(w)
        v *= momentum
        if weight_decay:
            v -= (weight_decay * lr) * w
        v -= lr * g
        w += v
    return params


class SGD:
    """Minibatch SGD with momentum and weight decay on a dict of NumPy parameters.

    ``params``: ``name -> np.ndarray`` (floating), updated **in place** by :meth:`step`, so a model
    holding the same arrays sees the new values.  ``lr`` (``eps``), ``momentum`` (``mu``) and
    ``weight_decay`` (``lam``) as in the module docstring; defaults as ``torch.optim.SGD``
    (no momentum, no decay) -- the lecture's values are ``lr=0.01, momentum=0.9,
    weight_decay=0.0005``.  Usage::

        opt = SGD(model.params, lr=0.05, momentum=0.9, weight_decay=5e-4)
        loss, grads = model.loss_and_grads(X, y)
        opt.step(grads)
    """

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        if not lr > 0:
            raise ValueError(f"lr must be positive, got {lr!r}")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
        for name, w in params.items():
            if not (isinstance(w, np.ndarray) and np.issubdtype(w.dtype, np.floating)):
                raise TypeError(f"params[{name!r}] must be a floating np.ndarray (updated in place), got {type(w).__name__}")
        self.params = params
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.velocities = {name: np.zeros_like(w) for name, w in params.items()}

    def step(self, grads):
        """Apply one update with ``grads`` (``name -> dL/dw``, the minibatch mean)."""
        sgd_step(self.params, grads, self.velocities, self.lr, self.momentum, self.weight_decay)


class Adam:
    """Adam on a dict of NumPy parameters, as ``torch.optim.Adam`` (``amsgrad=False``).

    For every parameter ``w`` with gradient ``g``, step ``t = 1, 2, ...``::

        g <- g + weight_decay * w                          (L2 penalty, torch's weight_decay)
        m <- b1 * m + (1 - b1) * g                         (running mean of the gradients)
        v <- b2 * v + (1 - b2) * g**2                      (running mean of their squares)
        w <- w - lr * (m / (1 - b1**t)) / (sqrt(v / (1 - b2**t)) + eps)

    Dividing by ``sqrt(v)`` gives every parameter its own step size, about ``lr`` whatever the
    gradient's scale; the ``1 - b**t`` factors undo the bias of ``m`` and ``v`` starting at zero.
    ``params`` are updated **in place** by :meth:`step` (same contract as :class:`SGD`).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        if not lr > 0:
            raise ValueError(f"lr must be positive, got {lr!r}")
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
        if not eps > 0:
            raise ValueError(f"eps must be positive, got {eps!r}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
        for name, w in params.items():
            if not (isinstance(w, np.ndarray) and np.issubdtype(w.dtype, np.floating)):
                raise TypeError(f"params[{name!r}] must be a floating np.ndarray (updated in place), got {type(w).__name__}")
        self.params, self.lr, self.betas, self.eps, self.weight_decay = params, lr, tuple(betas), eps, weight_decay
        self.m = {name: np.zeros_like(w) for name, w in params.items()}
        self.v = {name: np.zeros_like(w) for name, w in params.items()}
        self.t = 0

    def step(self, grads):
        """Apply one update with ``grads`` (``name -> dL/dw``, the minibatch mean)."""
        _check_same_keys(self.params, grads)
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1**self.t, 1 - b2**self.t
        for name, w in self.params.items():
            g = np.asarray(grads[name], dtype=w.dtype)
            if self.weight_decay:
                g = g + self.weight_decay * w
            m, v = self.m[name], self.v[name]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            w -= (self.lr / c1) * m / (np.sqrt(v / c2) + self.eps)


def clip_grad_norm(grads, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale ``grads`` in place so their global norm is at most ``max_norm``; return the norm before.

    Same semantics as ``torch.nn.utils.clip_grad_norm_``: the global norm is the ``norm_type``
    norm of all entries of all gradients taken as one vector (``float("inf")``: the largest
    ``|entry|``); if it exceeds ``max_norm`` every gradient is multiplied by the same factor
    ``max_norm / (norm + 1e-6)``, so the *direction* of the whole update is kept and only its
    length shrinks (clipping each array or entry separately would turn it).  Below ``max_norm``
    nothing changes.  ``grads``: a dict ``name -> np.ndarray`` or a list/tuple of arrays (None
    entries are skipped, as torch skips parameters without a gradient); each array must be a
    writeable floating ``np.ndarray``.  ``error_if_nonfinite``: raise ``ValueError`` when the norm
    is nan or inf instead of scaling by it.  Returns the norm as a float.
    """
    arrays = list(grads.values()) if isinstance(grads, dict) else list(grads) if isinstance(grads, (list, tuple)) else None
    if arrays is None:
        raise TypeError(f"grads must be a dict of arrays or a list/tuple of arrays, got {type(grads).__name__}")
    arrays = [g for g in arrays if g is not None]
    for k, g in enumerate(arrays):
        if not (isinstance(g, np.ndarray) and np.issubdtype(g.dtype, np.floating)):
            raise TypeError(f"every gradient must be a floating np.ndarray (scaled in place), got {type(g).__name__} at position {k}")
        if not g.flags.writeable:
            raise ValueError(f"gradient at position {k} is read-only, but clipping scales it in place")
    if isinstance(max_norm, bool) or not isinstance(max_norm, (int, float, np.floating, np.integer)) or not max_norm >= 0:
        raise ValueError(f"max_norm must be a non-negative number, got {max_norm!r}")
    norm_type = float(norm_type)
    if not norm_type > 0:
        raise ValueError(f"norm_type must be positive (2.0, 1.0, float('inf'), ...), got {norm_type!r}")
    if not arrays:
        return 0.0
    # the norm of the per-array norms equals the norm of everything concatenated (no copy needed)
    per_array = np.array([np.linalg.norm(g.ravel(), ord=norm_type) if g.size else 0.0 for g in arrays], dtype=np.float64)
    total = float(per_array.max() if norm_type == np.inf else np.linalg.norm(per_array, ord=norm_type))
    if error_if_nonfinite and not np.isfinite(total):
        raise ValueError(f"the total norm of order {norm_type} of the gradients is {total}: they cannot be clipped")
    coef = max_norm / (total + 1e-6)
    if coef < 1:  # torch multiplies by min(coef, 1): below max_norm the gradients are left alone
        for g in arrays:
            g *= coef
    return total
