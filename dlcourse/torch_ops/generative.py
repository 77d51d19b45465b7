"""Losses and corruptions of the generative models in PyTorch (chapters 20-21): the twin of
:mod:`dlcourse.numpy_ops.generative`.

Written with tensor operations (the stable ``softplus`` as ``clamp(min=0) + log1p(exp(-|z|))``),
so autograd differentiates them; the tests check them against ``F.mse_loss`` and
``F.binary_cross_entropy_with_logits``.  The corruptions draw from ``torch``'s generator.
"""
from __future__ import annotations

import torch

from dlcourse.numpy_ops.generative import check_level, check_nonempty, check_pair_shapes, check_reduction
from dlcourse.torch_ops.conv import as_tensor

__all__ = [
    "mse_loss", "bce_with_logits", "gaussian_noise", "masking_noise",
    "gan_discriminator_loss", "gan_generator_loss_minimax", "gan_generator_loss_nonsaturating",
]


def _float(X, name):
    X = as_tensor(X, name)
    return X if X.is_floating_point() else X.to(torch.float64)


def _floats(a, b, a_name, b_name):
    a, b = _float(a, a_name), _float(b, b_name)
    check_pair_shapes(a.shape, b.shape, a_name, b_name)
    dtype = torch.promote_types(a.dtype, b.dtype)
    return a.to(dtype), b.to(dtype)


def _reduce(values, reduction):
    check_reduction(reduction)
    return values.mean() if reduction == "mean" else values.sum()


def _softplus(Z):
    return Z.clamp(min=0) + torch.log1p(torch.exp(-Z.abs()))


def _check_rng(rng):
    if rng is not None and not isinstance(rng, torch.Generator):
        raise TypeError(f"rng must be a torch.Generator or None, got {type(rng).__name__}")


def mse_loss(Y, T, reduction="mean"):
    """Mean squared error ``mean((Y - T)**2)`` (or the sum), a 0-d tensor; as ``F.mse_loss``."""
    Y, T = _floats(Y, T, "Y", "T")
    check_nonempty(Y.shape, "Y")
    return _reduce((Y - T) ** 2, reduction)


def bce_with_logits(Z, T, reduction="mean"):
    """Binary cross-entropy of ``sigmoid(Z)`` against ``T`` in [0, 1]: ``mean(softplus(Z) - T Z)``.

    As ``F.binary_cross_entropy_with_logits``; finite for any logit.
    """
    Z, T = _floats(Z, T, "Z", "T")
    check_nonempty(Z.shape, "Z")
    return _reduce(_softplus(Z) - T * Z, reduction)


def gaussian_noise(X, std, rng=None, clip=(0.0, 1.0)):
    """``X`` plus normal noise of standard deviation ``std``, clipped to ``clip`` (or not: None).

    ``rng``: a ``torch.Generator`` or None (the global one); the noise is drawn on the
    generator's device and moved to ``X``'s.
    """
    X = _float(X, "X")
    check_level(std, "std")
    _check_rng(rng)
    device = rng.device if rng is not None else X.device
    noise = torch.randn(X.shape, generator=rng, device=device, dtype=X.dtype).to(X.device)
    out = X + std * noise
    return out if clip is None else out.clamp(clip[0], clip[1])


def masking_noise(X, p, rng=None):
    """Every entry of ``X`` set to 0 with probability ``p`` (no rescaling, unlike dropout)."""
    X = _float(X, "X")
    check_level(p, "p", upper=1)
    _check_rng(rng)
    device = rng.device if rng is not None else X.device
    keep = torch.rand(X.shape, generator=rng, device=device, dtype=X.dtype).to(X.device) >= p
    return torch.where(keep, X, torch.zeros((), dtype=X.dtype, device=X.device))


def gan_discriminator_loss(real_logits, fake_logits):
    """``-mean log D(x) - mean log(1 - D(G(z)))`` from the logits: ``mean softplus(-real) + mean softplus(fake)``."""
    real, fake = _float(real_logits, "real_logits"), _float(fake_logits, "fake_logits")
    check_nonempty(real.shape, "real_logits")
    check_nonempty(fake.shape, "fake_logits")
    return _softplus(-real).mean() + _softplus(fake).mean()


def gan_generator_loss_minimax(fake_logits):
    """``mean log(1 - D(G(z))) = -mean softplus(z)``: the generator's side of the minimax game."""
    Z = _float(fake_logits, "fake_logits")
    check_nonempty(Z.shape, "fake_logits")
    return -_softplus(Z).mean()


def gan_generator_loss_nonsaturating(fake_logits):
    """``-mean log D(G(z)) = mean softplus(-z)``: the non-saturating generator loss."""
    Z = _float(fake_logits, "fake_logits")
    check_nonempty(Z.shape, "fake_logits")
    return _softplus(-Z).mean()
