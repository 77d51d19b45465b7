"""Autoencoders for 28x28 digits (chapter 20) and the loop that trains them.

An autoencoder is an encoder ``z = f(x)`` to a small latent vector and a decoder ``x_hat = g(z)``
back to the image, trained to reproduce its input (the target is the input itself: no labels).
Both models here output **logits** of the pixels; ``torch.sigmoid`` gives the reconstruction in
[0, 1], and the loss is :func:`dlcourse.torch_ops.bce_with_logits` (or ``mse_loss``) against the
clean image in [0, 1].

* :class:`DenseAutoencoder` -- fully connected, as in the lecture (784 -> ... -> l -> ... -> 784);
* :class:`ConvAutoencoder` -- strided convolutions down, transposed convolutions
  (``nn.ConvTranspose2d``, chapter 5's ``conv_transpose2d``) up: 28 -> 14 -> 7 -> 14 -> 28;
* :func:`train_autoencoder` -- Adam on minibatches, optionally corrupting the input
  (a denoising autoencoder: noisy in, clean target).
"""
from __future__ import annotations

import math
import time

import torch
from torch import nn

from dlcourse.models._common import check_images

__all__ = ["DenseAutoencoder", "ConvAutoencoder", "train_autoencoder", "evaluate_autoencoder", "reconstruction_loss"]


def _positive(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


class DenseAutoencoder(nn.Module):
    """A fully connected autoencoder: ``Flatten -> Linear/ReLU ... -> latent -> ... -> Linear``.

    ``latent_dim``: size of the code ``z`` (2 can be plotted); ``hidden``: widths of the
    encoder's hidden layers (the decoder mirrors them); ``image_shape``: ``(C, H, W)``.
    ``encode(x (N, C, H, W)) -> z (N, latent_dim)``, ``decode(z) -> logits (N, C, H, W)``,
    ``forward(x) = decode(encode(x))``.  ``hidden=(100,), latent_dim=100`` style one-layer
    versions are the lecture's 784-100-784 network.
    """

    def __init__(self, latent_dim=2, hidden=(256, 64), image_shape=(1, 28, 28)):
        super().__init__()
        self.latent_dim = _positive(latent_dim, "latent_dim")
        self.image_shape = tuple(image_shape)
        d = math.prod(self.image_shape)
        widths = [d, *(_positive(h, "hidden width") for h in hidden)]
        enc = [nn.Flatten()]
        for a, b in zip(widths, widths[1:]):
            enc += [nn.Linear(a, b), nn.ReLU()]
        enc.append(nn.Linear(widths[-1], latent_dim))
        dec, back = [], [latent_dim, *reversed(widths[1:])]
        for a, b in zip(back, back[1:]):
            dec += [nn.Linear(a, b), nn.ReLU()]
        dec += [nn.Linear(back[-1], d), nn.Unflatten(1, self.image_shape)]
        self.encoder, self.decoder = nn.Sequential(*enc), nn.Sequential(*dec)

    def encode(self, x):
        check_images(self, x, self.image_shape[0])
        if tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"DenseAutoencoder was built for images of shape {self.image_shape}, got {tuple(x.shape)}")
        return self.encoder(x)

    def decode(self, z):
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        return self.decoder(z)

    def forward(self, x):
        return self.decode(self.encode(x))


class ConvAutoencoder(nn.Module):
    """A convolutional autoencoder for 28x28 images: stride-2 convolutions down, transposed up.

    Encoder: ``Conv2d(C, c1, 3, stride 2, padding 1)`` 28 -> 14, ReLU, ``Conv2d(c1, c2, 3, stride 2,
    padding 1)`` 14 -> 7, ReLU, ``Linear(c2*7*7, latent_dim)``.  Decoder, the mirror image:
    ``Linear`` back to ``(c2, 7, 7)``, ReLU, ``ConvTranspose2d(c2, c1, 4, stride 2, padding 1)``
    7 -> 14 (``(7 - 1) * 2 - 2 * 1 + 4 = 14``), ReLU, ``ConvTranspose2d(c1, C, 4, stride 2,
    padding 1)`` 14 -> 28, giving pixel logits.  ``channels = (c1, c2)``.
    """

    def __init__(self, latent_dim=16, channels=(16, 32), in_channels=1):
        super().__init__()
        self.latent_dim = _positive(latent_dim, "latent_dim")
        self.in_channels = _positive(in_channels, "in_channels")
        c1, c2 = (_positive(c, "channels") for c in channels)
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, c1, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(c2 * 7 * 7, latent_dim))
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, c2 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (c2, 7, 7)),
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(c1, in_channels, 4, stride=2, padding=1))

    def encode(self, x):
        check_images(self, x, self.in_channels, 28)
        return self.encoder(x)

    def decode(self, z):
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        return self.decoder(z)

    def forward(self, x):
        return self.decode(self.encode(x))


def reconstruction_loss(logits, target, loss="bce"):
    """The autoencoder's loss between pixel logits and the clean target in [0, 1].

    ``"bce"``: :func:`dlcourse.torch_ops.bce_with_logits` (each pixel a Bernoulli probability);
    ``"mse"``: :func:`dlcourse.torch_ops.mse_loss` of ``sigmoid(logits)``.  Both are means.
    """
    from dlcourse import torch_ops

    if loss == "bce":
        return torch_ops.bce_with_logits(logits, target)
    if loss == "mse":
        return torch_ops.mse_loss(torch.sigmoid(logits), target)
    raise ValueError(f"loss must be 'bce' or 'mse', got {loss!r}")


def train_autoencoder(model, X, X_val=None, epochs=5, lr=1e-3, batch_size=128, loss="bce", corrupt=None,
                      seed=0, device=None, progress=True):
    """Train ``model`` to reconstruct ``X``; return its history.

    ``X``, ``X_val``: float images ``(N, C, H, W)`` in [0, 1] (arrays or tensors), which are both
    the input and the target.  ``corrupt``: None, or a function ``(X_batch, generator) ->
    corrupted batch`` applied to the *input* only (a denoising autoencoder learns to map the
    corrupted image to the clean one), e.g. ``lambda x, g: torch_ops.gaussian_noise(x, 0.5, g)``;
    the validation loss corrupts ``X_val`` the same way, with a fixed generator.  Optimizer:
    Adam(``lr``).  ``seed`` fixes the shuffling and the noise (seed the weights yourself).

    Returns ``{"train_loss": [...], "val_loss": [...], "time": [...]}``, one entry per epoch
    (the training loss is the mean over the epoch's minibatches).
    """
    from tqdm import tqdm

    from dlcourse import device as best_device

    device = torch.device(device) if device is not None else best_device()
    X = torch.as_tensor(X, dtype=torch.float32).to(device)
    X_val = None if X_val is None else torch.as_tensor(X_val, dtype=torch.float32).to(device)
    model.to(device)
    generator = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = {"train_loss": [], "val_loss": [], "time": []}
    start = time.perf_counter()
    steps = epochs * math.ceil(len(X) / batch_size)
    with tqdm(total=steps, desc=f"training {type(model).__name__}", unit="batch", disable=not progress) as bar:
        for _ in range(epochs):
            model.train()
            total, seen = 0.0, 0
            for idx in torch.randperm(len(X), generator=generator).split(batch_size):
                target = X[idx.to(device)]
                inputs = target if corrupt is None else corrupt(target, generator)
                batch_loss = reconstruction_loss(model(inputs), target, loss)
                opt.zero_grad(set_to_none=True)
                batch_loss.backward()
                opt.step()
                total += batch_loss.item() * len(idx)
                seen += len(idx)
                bar.update(1)
            history["train_loss"].append(total / seen)
            if X_val is not None:
                history["val_loss"].append(evaluate_autoencoder(model, X_val, loss, corrupt, seed=seed + 1))
                bar.set_postfix(val_loss=f"{history['val_loss'][-1]:.4f}")
            history["time"].append(time.perf_counter() - start)
    return history


@torch.no_grad()
def evaluate_autoencoder(model, X, loss="bce", corrupt=None, seed=0, batch_size=1000):
    """Mean reconstruction loss of ``model`` on ``X`` (corrupted by ``corrupt`` with a fixed seed)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    X = torch.as_tensor(X, dtype=torch.float32).to(device)
    generator = torch.Generator().manual_seed(seed)
    total = 0.0
    for target in X.split(batch_size):
        inputs = target if corrupt is None else corrupt(target, generator)
        total += reconstruction_loss(model(inputs), target, loss).item() * len(target)
    model.train(was_training)
    return total / len(X)
