"""Losses and corruptions of the generative models, in NumPy (chapters 20-21).

Chapter 20, autoencoders: a network is trained to give back its input, so its loss compares the
reconstruction ``Y`` with the input (or, for a denoising autoencoder, with the clean image while
the network sees a corrupted one):

* :func:`mse_loss` -- mean squared error, ``mean((Y - T)**2)`` (``F.mse_loss``);
* :func:`bce_with_logits` -- binary cross-entropy of ``sigmoid(Z)`` against targets in [0, 1],
  computed from the logits ``Z`` without ever forming ``log(0)``
  (``F.binary_cross_entropy_with_logits``);
* :func:`gaussian_noise`, :func:`masking_noise` -- the corruptions of a denoising autoencoder.

Chapter 21, GANs: the discriminator ``D`` outputs a logit ``z``, ``D = sigmoid(z)``, and the
losses are written in the logits (``softplus(z) = log(1 + e^z)``, so ``-log sigmoid(z) =
softplus(-z)`` and ``-log(1 - sigmoid(z)) = softplus(z)``):

* :func:`gan_discriminator_loss` -- ``-mean log D(x) - mean log(1 - D(G(z)))``;
* :func:`gan_generator_loss_minimax` -- ``mean log(1 - D(G(z)))``, the generator's side of
  the minimax game (it *minimizes* this);
* :func:`gan_generator_loss_nonsaturating` -- ``-mean log D(G(z))``, the loss used in practice.

Every loss is a mean over all entries (``reduction="mean"``, torch's default) and returns a 0-d
array; its ``*_backward`` returns the gradient with respect to the logits (or ``Y``).  Floating
inputs keep their dtype; integers become float64.
"""
from __future__ import annotations

from numbers import Real

import numpy as np

from dlcourse.numpy_ops._arrays import as_numeric_array

__all__ = [
    "mse_loss", "mse_loss_backward", "bce_with_logits", "bce_with_logits_backward",
    "gaussian_noise", "masking_noise",
    "gan_discriminator_loss", "gan_generator_loss_minimax", "gan_generator_loss_nonsaturating",
    "gan_discriminator_loss_backward", "gan_generator_loss_minimax_backward",
    "gan_generator_loss_nonsaturating_backward",
]

REDUCTIONS = ("mean", "sum")


# --- checks shared with the torch twin -----------------------------------------------------------

def check_pair_shapes(a_shape, b_shape, a_name, b_name):
    """Two arrays compared entry by entry must have one shape; else ``ValueError`` naming both."""
    if tuple(a_shape) != tuple(b_shape):
        raise ValueError(f"{a_name} shape {tuple(a_shape)} and {b_name} shape {tuple(b_shape)} must be equal "
                         "(the loss compares them entry by entry)")


def check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def check_nonempty(shape, name):
    if int(np.prod(shape)) == 0:
        raise ValueError(f"{name} shape {tuple(shape)} is empty: a mean over no entries is undefined")


def check_level(value, name, upper=None):
    """A noise level: a real number >= 0 (and <= ``upper`` when given)."""
    if not isinstance(value, Real) or isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if value < 0 or (upper is not None and value > upper):
        bound = f"[0, {upper}]" if upper is not None else ">= 0"
        raise ValueError(f"{name} must be in {bound}, got {value!r}")


# --- helpers ------------------------------------------------------------------------------------

def _float(X, name):
    X = as_numeric_array(X, name)
    return X if np.issubdtype(X.dtype, np.floating) else X.astype(np.float64)


def _floats(a, b, a_name, b_name):
    """Both as floats of one dtype (the wider of the two), shapes checked."""
    a, b = _float(a, a_name), _float(b, b_name)
    check_pair_shapes(a.shape, b.shape, a_name, b_name)
    dtype = np.result_type(a.dtype, b.dtype)
    return a.astype(dtype, copy=False), b.astype(dtype, copy=False)


def _reduce(values, reduction):
    check_reduction(reduction)
    return np.asarray(values.mean() if reduction == "mean" else values.sum(), dtype=values.dtype)


def _scale(shape, reduction):
    """d(reduction)/d(entry): 1/size for a mean, 1 for a sum."""
    return 1.0 / int(np.prod(shape)) if reduction == "mean" else 1.0


def _softplus(Z):
    """``log(1 + exp(Z))`` without overflow: ``max(Z, 0) + log1p(exp(-|Z|))``."""
    return np.maximum(Z, 0) + np.log1p(np.exp(-np.abs(Z)))


def _sigmoid(Z):
    e = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1 / (1 + e), e / (1 + e)).astype(Z.dtype, copy=False)


def _generator(rng):
    if rng is None:
        return np.random.default_rng()
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a np.random.Generator (e.g. np.random.default_rng(0)) or None, "
                        f"got {type(rng).__name__}")
    return rng


# --- chapter 20: reconstruction losses ----------------------------------------------------------

def mse_loss(Y, T, reduction="mean"):
    """Mean squared error between a reconstruction ``Y`` and its target ``T`` (same shape).

    Returns the 0-d array ``mean((Y - T)**2)`` (``reduction="sum"``: the sum), as
    ``torch.nn.functional.mse_loss``.
    """
    Y, T = _floats(Y, T, "Y", "T")
    check_nonempty(Y.shape, "Y")
    return _reduce((Y - T) ** 2, reduction)


def mse_loss_backward(Y, T, reduction="mean"):
    """Gradient of :func:`mse_loss` with respect to ``Y``: ``2 (Y - T) / Y.size`` (sum: ``2 (Y - T)``)."""
    Y, T = _floats(Y, T, "Y", "T")
    check_nonempty(Y.shape, "Y")
    check_reduction(reduction)
    return (2 * (Y - T) * _scale(Y.shape, reduction)).astype(Y.dtype, copy=False)


def bce_with_logits(Z, T, reduction="mean"):
    """Binary cross-entropy of ``sigmoid(Z)`` against targets ``T`` in [0, 1], from the logits.

    ``Z``, ``T``: the same shape (e.g. ``(N, 1, 28, 28)`` reconstructed pixels, or ``(N,)``
    discriminator outputs).  Per entry ``-T log sigmoid(Z) - (1 - T) log(1 - sigmoid(Z))``,
    which simplifies to ``softplus(Z) - T Z``: finite for any logit, where computing
    ``sigmoid(Z)`` first would give ``log(0)`` once ``|Z|`` exceeds about 17 (float64).
    Returns the mean (or sum) as a 0-d array, as ``F.binary_cross_entropy_with_logits``.
    """
    Z, T = _floats(Z, T, "Z", "T")
    check_nonempty(Z.shape, "Z")
    return _reduce(_softplus(Z) - T * Z, reduction)


def bce_with_logits_backward(Z, T, reduction="mean"):
    """Gradient of :func:`bce_with_logits` with respect to ``Z``: ``(sigmoid(Z) - T) / Z.size``.

    The same form as softmax cross-entropy's gradient (prediction minus target): it never
    vanishes while the prediction is wrong, however saturated the sigmoid is.
    """
    Z, T = _floats(Z, T, "Z", "T")
    check_nonempty(Z.shape, "Z")
    check_reduction(reduction)
    return ((_sigmoid(Z) - T) * _scale(Z.shape, reduction)).astype(Z.dtype, copy=False)


# --- chapter 20: corruptions for a denoising autoencoder ------------------------------------------

def gaussian_noise(X, std, rng=None, clip=(0.0, 1.0)):
    """``X`` plus independent normal noise of standard deviation ``std`` on every entry.

    ``X``: any shape (pixels in [0, 1]); ``std >= 0``; ``rng``: a ``np.random.Generator`` or
    None; ``clip``: ``(low, high)`` to keep the result a valid image, or None.  Returns a new
    array shaped like ``X``.  The NumPy and torch random streams differ, so the twins agree in
    distribution, not entry by entry.
    """
    X = _float(X, "X")
    check_level(std, "std")
    out = X + X.dtype.type(std) * _generator(rng).standard_normal(X.shape).astype(X.dtype)
    return out if clip is None else np.clip(out, clip[0], clip[1])


def masking_noise(X, p, rng=None):
    """Masking noise (Vincent et al., 2008): every entry set to 0 with probability ``p``.

    Unlike dropout nothing is rescaled: the network sees an image with pixels missing and must
    fill them in.  ``X``: any shape; ``p`` in [0, 1]; returns a new array shaped like ``X``.
    """
    X = _float(X, "X")
    check_level(p, "p", upper=1)
    keep = _generator(rng).random(X.shape) >= p
    return np.where(keep, X, X.dtype.type(0))


# --- chapter 21: the GAN losses, in the discriminator's logits -----------------------------------

def gan_discriminator_loss(real_logits, fake_logits):
    """The discriminator's loss: ``-mean log D(x) - mean log(1 - D(G(z)))``, ``D = sigmoid(logit)``.

    ``real_logits (N,)``: the discriminator's logits on real images; ``fake_logits (M,)``: on
    generated ones (any shapes; each term is a mean over its own entries).  Minimizing it is
    maximizing the lecture's value function over ``D``.  Equal to
    ``F.binary_cross_entropy_with_logits(real, 1) + F.binary_cross_entropy_with_logits(fake, 0)``.
    Returns a 0-d array.
    """
    real, fake = _float(real_logits, "real_logits"), _float(fake_logits, "fake_logits")
    check_nonempty(real.shape, "real_logits")
    check_nonempty(fake.shape, "fake_logits")
    dtype = np.result_type(real.dtype, fake.dtype)
    return np.asarray(_softplus(-real).mean() + _softplus(fake).mean(), dtype=dtype)


def gan_discriminator_loss_backward(real_logits, fake_logits):
    """Gradients of :func:`gan_discriminator_loss`: ``(d_real, d_fake)``.

    ``d_real = (sigmoid(real) - 1) / N`` pushes the real logits up, ``d_fake = sigmoid(fake) / M``
    pushes the fake ones down; each is shaped like its input.
    """
    real, fake = _float(real_logits, "real_logits"), _float(fake_logits, "fake_logits")
    check_nonempty(real.shape, "real_logits")
    check_nonempty(fake.shape, "fake_logits")
    return ((_sigmoid(real) - 1) / real.size).astype(real.dtype, copy=False), \
        (_sigmoid(fake) / fake.size).astype(fake.dtype, copy=False)


def gan_generator_loss_minimax(fake_logits):
    """The generator's side of the minimax game: ``mean log(1 - D(G(z))) = -mean softplus(z)``.

    ``fake_logits``: the discriminator's logits on generated images, any shape.  The generator
    minimizes it (the lecture's ``min_G``).  Equal to ``-F.binary_cross_entropy_with_logits(z, 0)``.
    While the discriminator rejects the fakes easily (``z`` very negative, ``D(G(z))`` near 0)
    it is flat: see :func:`gan_generator_loss_minimax_backward`.
    """
    Z = _float(fake_logits, "fake_logits")
    check_nonempty(Z.shape, "fake_logits")
    return np.asarray(-_softplus(Z).mean(), dtype=Z.dtype)


def gan_generator_loss_minimax_backward(fake_logits):
    """Gradient of :func:`gan_generator_loss_minimax` in the logits: ``-sigmoid(z) / M``.

    It is ``-D(G(z)) / M``: it vanishes exactly when the generator is worst (``D(G(z)) -> 0``),
    which is why the minimax generator barely learns early in training (the saturation).
    """
    Z = _float(fake_logits, "fake_logits")
    check_nonempty(Z.shape, "fake_logits")
    return (-_sigmoid(Z) / Z.size).astype(Z.dtype, copy=False)


def gan_generator_loss_nonsaturating(fake_logits):
    """The non-saturating generator loss (Goodfellow et al., 2014): ``-mean log D(G(z))``.

    ``= mean softplus(-z)``, equal to ``F.binary_cross_entropy_with_logits(z, 1)``: the generator
    is trained as if its images were real.  Same fixed point as the minimax loss, strong gradients
    when the discriminator wins.
    """
    Z = _float(fake_logits, "fake_logits")
    check_nonempty(Z.shape, "fake_logits")
    return np.asarray(_softplus(-Z).mean(), dtype=Z.dtype)


def gan_generator_loss_nonsaturating_backward(fake_logits):
    """Gradient of :func:`gan_generator_loss_nonsaturating` in the logits: ``(sigmoid(z) - 1) / M``.

    It is ``-(1 - D(G(z))) / M``: largest (``-1/M``) when the discriminator rejects the fakes.
    """
    Z = _float(fake_logits, "fake_logits")
    check_nonempty(Z.shape, "fake_logits")
    return ((_sigmoid(Z) - 1) / Z.size).astype(Z.dtype, copy=False)
