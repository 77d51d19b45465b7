"""Dropout in NumPy, forward and backward (chapter 8: AlexNet's regularizer).

In training, every entry is kept with probability ``1 - p`` and zeroed otherwise, and the kept
ones are scaled by ``1 / (1 - p)`` ("inverted" dropout): the expected output equals the input, so
evaluation needs no rescaling and is the identity.  The random choice is one mask::

    mask = (u >= p) / (1 - p),   u ~ U[0, 1) entrywise     (0 or 1/(1-p))
    Y    = X * mask,             dX = dY * mask

:func:`dropout_mask` draws the mask; a layer that needs the backward keeps it and calls
:func:`dropout_backward`.  The NumPy random stream cannot match torch's, so the tests check the
statistics (drop rate ``p``, mean preserved) rather than the entries.
"""
from __future__ import annotations

from numbers import Real

import numpy as np

from dlcourse.numpy_ops._arrays import as_numeric_array

__all__ = ["dropout", "dropout_mask", "dropout_backward"]


def check_dropout_p(p):
    """``p`` must be a real number in ``[0, 1]`` (the probability of dropping an entry)."""
    if not isinstance(p, Real) or isinstance(p, bool):
        raise TypeError(f"p (the drop probability) must be a real number, got {p!r}")
    if not 0 <= p <= 1:
        raise ValueError(f"p (the drop probability) must be in [0, 1], got {p!r}")


def _float(X, name):
    X = as_numeric_array(X, name)
    return X if np.issubdtype(X.dtype, np.floating) else X.astype(np.float64)


def _generator(rng):
    if rng is None:
        return np.random.default_rng()
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a np.random.Generator (e.g. np.random.default_rng(0)) or None, got {type(rng).__name__}"
        )
    return rng


def dropout_mask(X, p=0.5, rng=None):
    """The scaled keep-mask of inverted dropout for an input shaped like ``X``.

    ``X``: any shape (only its shape and floating dtype are used); ``p``: drop probability;
    ``rng``: a ``np.random.Generator`` (None: fresh entropy).  Returns an array shaped like ``X``
    holding ``1 / (1 - p)`` where an entry is kept (probability ``1 - p``) and ``0`` where it is
    dropped; all zeros when ``p == 1``.
    """
    X = _float(X, "X")
    check_dropout_p(p)
    rng = _generator(rng)
    if p == 1:
        return np.zeros(X.shape, dtype=X.dtype)
    keep = rng.random(X.shape) >= p
    return np.where(keep, X.dtype.type(1 / (1 - p)), X.dtype.type(0))


def dropout(X, p=0.5, training=True, rng=None):
    """Inverted dropout, as ``torch.nn.functional.dropout`` (up to the random stream).

    ``X``: any shape; ``p``: drop probability in ``[0, 1]``; ``training``: False (evaluation)
    returns ``X`` unchanged; ``rng``: a ``np.random.Generator`` or None.  Returns
    ``X * dropout_mask(X, p, rng)``: each entry zeroed with probability ``p``, the survivors
    scaled by ``1 / (1 - p)`` so the expected value is unchanged.
    """
    check_dropout_p(p)
    if not training or p == 0:
        return as_numeric_array(X, "X")
    X = _float(X, "X")
    return X * dropout_mask(X, p, rng)


def dropout_backward(dY, mask):
    """Gradient of dropout given the mask it used: ``dX = dY * mask`` (shapes equal).

    Dropped entries get no gradient; kept ones the upstream gradient times ``1 / (1 - p)``.
    """
    dY, mask = as_numeric_array(dY, "dY"), as_numeric_array(mask, "mask")
    if dY.shape != mask.shape:
        raise ValueError(f"dY shape {dY.shape} must equal the mask's shape {mask.shape}")
    return dY * mask
