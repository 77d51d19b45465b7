"""Data augmentation for batches of images ``(N, C, H, W)``, seeded (chapters 8-13).

Each function takes a batch and returns a new one in which every image got its own random
transformation -- one that does not change what the image shows, so the network learns to ignore
it.  A NumPy batch uses a ``np.random.Generator`` (``rng``); a torch batch a ``torch.Generator``
or None, and stays on its device: the same call works in the NumPy and in the PyTorch training
loops.

* :func:`random_crop` -- pad by ``padding`` pixels (zeros), cut a random ``H x W`` window back out:
  the image moves by up to ``padding`` pixels and the border that comes into view is blank
  (AlexNet's and ResNet's "random crops" on CIFAR/ImageNet).
* :func:`random_shift` -- the same move with the edge pixels repeated instead of zeros (MNIST's
  background); :func:`dlcourse.data.random_shift` and :func:`dlcourse.train.random_shift` are its
  NumPy and torch implementations.
* :func:`random_hflip` -- mirror left-right with probability ``p``.  Right for photographs (a
  mirrored cat is a cat), wrong for digits and letters (a mirrored 2 is not a 2), so
  :func:`augmenter` leaves it off unless asked.

:func:`augmenter` chains them into one function ``f(X, rng=None)``, the shape ``numpy_lenet.fit``
and :func:`dlcourse.train.train` (``augment=``) expect.
"""
from __future__ import annotations

import numpy as np

__all__ = ["random_crop", "random_shift", "random_hflip", "augmenter"]


def _is_torch(X):
    return type(X).__module__.startswith("torch")


def _check_batch(X):
    if len(X.shape) != 4:
        raise ValueError(f"X must be a batch of images (N, C, H, W), got shape {tuple(X.shape)}")


def _check_amount(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative int (pixels), got {value!r}")
    return int(value)


def _numpy_rng(rng):
    if rng is None:
        return np.random.default_rng()
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"a NumPy batch needs rng to be a np.random.Generator or None, got {type(rng).__name__}")
    return rng


def _torch_rng(rng):
    import torch

    if rng is not None and not isinstance(rng, torch.Generator):
        raise TypeError(f"a torch batch needs rng to be a torch.Generator or None, got {type(rng).__name__}")
    return rng


def _translate_numpy(X, m, mode, rng):
    """Every image moved by its own offsets in ``[-m, m]``, the border filled by ``np.pad`` ``mode``."""
    from numpy.lib.stride_tricks import sliding_window_view

    n, c, h, w = X.shape
    Xp = np.pad(X, [(0, 0), (0, 0), (m, m), (m, m)], mode=mode)
    windows = sliding_window_view(Xp, (h, w), axis=(2, 3))  # (N, C, 2m+1, 2m+1, H, W), a view
    dy, dx = rng.integers(0, 2 * m + 1, size=(2, n))
    return windows[np.arange(n)[:, None], np.arange(c)[None, :], dy[:, None], dx[:, None]]


def _translate_torch(X, m, mode, rng):
    import torch
    import torch.nn.functional as F

    n, c, h, w = X.shape
    Xp = F.pad(X, (m, m, m, m), mode=mode)
    offsets = torch.randint(0, 2 * m + 1, (2, n), generator=rng).to(X.device)
    rows = (offsets[0][:, None] + torch.arange(h, device=X.device))[:, None, :, None].expand(n, c, h, w + 2 * m)
    cols = (offsets[1][:, None] + torch.arange(w, device=X.device))[:, None, None, :].expand(n, c, h, w)
    return Xp.gather(2, rows).gather(3, cols)


def random_crop(X, padding=4, rng=None):
    """Pad every image by ``padding`` zero pixels per side, then crop a random ``H x W`` window.

    ``X: (N, C, H, W)`` ndarray or tensor; ``padding``: the largest move in pixels; ``rng``: a
    ``np.random.Generator`` (NumPy) or ``torch.Generator`` (torch), None for fresh randomness.
    Returns a new batch of ``X``'s shape: image ``i`` moved by ``(dy_i, dx_i)``, each uniform in
    ``[-padding, padding]``, the uncovered border zero.
    """
    _check_batch(X)
    m = _check_amount(padding, "padding")
    if _is_torch(X):
        rng = _torch_rng(rng)
        return X.clone() if m == 0 else _translate_torch(X, m, "constant", rng)
    rng = _numpy_rng(rng)
    X = np.asarray(X)
    return X.copy() if m == 0 else _translate_numpy(X, m, "constant", rng)


def random_shift(X, max_shift=2, rng=None):
    """Move every image by its own random whole-pixel offset in ``[-max_shift, max_shift]``.

    As :func:`random_crop` but the border repeats the edge pixels (for MNIST: background).
    ``X: (N, C, H, W)`` ndarray or tensor; returns a new batch of the same shape.  The work is
    done by chapter 7's :func:`dlcourse.data.random_shift` (NumPy) and
    :func:`dlcourse.train.random_shift` (torch); this puts both behind one signature.
    """
    _check_batch(X)
    m = _check_amount(max_shift, "max_shift")
    if _is_torch(X):
        from dlcourse.train import random_shift as torch_random_shift

        return X.clone() if m == 0 else torch_random_shift(X, m, _torch_rng(rng))
    from dlcourse.data import random_shift as numpy_random_shift

    return numpy_random_shift(np.asarray(X), _numpy_rng(rng), m)


def random_hflip(X, p=0.5, rng=None):
    """Mirror each image left-right with probability ``p`` (not for digits: a mirrored 2 is no 2).

    ``X: (N, C, H, W)`` ndarray or tensor; ``p`` in ``[0, 1]``.  Returns a new batch.
    """
    _check_batch(X)
    if isinstance(p, bool) or not 0 <= p <= 1:
        raise ValueError(f"p (the flip probability) must be in [0, 1], got {p!r}")
    if _is_torch(X):
        import torch

        flip = torch.rand(X.shape[0], generator=_torch_rng(rng)).to(X.device) < p
        return torch.where(flip[:, None, None, None], X.flip(-1), X)
    rng = _numpy_rng(rng)
    X = np.asarray(X)
    flip = rng.random(X.shape[0]) < p
    return np.where(flip[:, None, None, None], X[..., ::-1], X)


def augmenter(crop_padding=0, max_shift=0, hflip=False):
    """One function ``f(X, rng=None)`` applying the chosen augmentations in order: crop, shift, flip.

    ``crop_padding``: :func:`random_crop`'s ``padding`` (0: off); ``max_shift``:
    :func:`random_shift`'s (0: off); ``hflip``: mirror half the images (off by default: wrong for
    digits).  ``f`` takes a NumPy batch with a ``np.random.Generator`` (as
    ``dlcourse.numpy_lenet.fit`` calls it) or a torch batch (``dlcourse.train.train`` calls
    ``f(X)``).
    """
    crop_padding, max_shift = _check_amount(crop_padding, "crop_padding"), _check_amount(max_shift, "max_shift")

    def augment(X, rng=None):
        if crop_padding:
            X = random_crop(X, crop_padding, rng)
        if max_shift:
            X = random_shift(X, max_shift, rng)
        if hflip:
            X = random_hflip(X, 0.5, rng)
        return X

    augment.__doc__ = f"augmenter(crop_padding={crop_padding}, max_shift={max_shift}, hflip={hflip})"
    return augment
