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
"""
from __future__ import annotations

import numpy as np

__all__ = ["SGD", "sgd_step", "Adam"]


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
