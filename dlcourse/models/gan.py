"""A small GAN for 28x28 digits (chapter 21) and the loop that trains it.

The generator ``G`` maps a noise vector ``z ~ N(0, I)`` to an image in [-1, 1] (tanh output);
the discriminator ``D`` maps an image to one **logit** (``D(x) = sigmoid(logit)`` is its belief
that ``x`` is real).  They are trained in turn (the lecture's ``k1`` discriminator steps, then
``k2`` generator steps) on the losses of :mod:`dlcourse.torch_ops.generative`:
``gan_discriminator_loss`` for ``D``, and ``gan_generator_loss_nonsaturating`` (default) or the
minimax ``gan_generator_loss_minimax`` for ``G``.

Both networks are small multilayer perceptrons (LeakyReLU 0.2, as in DCGAN's discriminator),
so a run of a few thousand steps fits in minutes on a CPU.
"""
from __future__ import annotations

import math
import time

import torch
from torch import nn

__all__ = ["Generator", "Discriminator", "train_gan", "to_unit", "from_unit", "digit_probabilities", "GENERATOR_LOSSES"]

GENERATOR_LOSSES = ("nonsaturating", "minimax")


def to_unit(images):
    """Generator output in [-1, 1] -> pixels in [0, 1]."""
    return (images + 1) / 2


def from_unit(images):
    """Pixels in [0, 1] -> the generator's range [-1, 1] (what real images are fed to ``D`` as)."""
    return images * 2 - 1


class Generator(nn.Module):
    """``z (N, latent_dim) -> images (N, 1, 28, 28)`` in [-1, 1]: an MLP with a tanh output.

    ``hidden``: the widths of the hidden layers (LeakyReLU 0.2 after each).
    """

    def __init__(self, latent_dim=32, hidden=(128, 256), image_shape=(1, 28, 28)):
        super().__init__()
        self.latent_dim, self.image_shape = latent_dim, tuple(image_shape)
        widths = [latent_dim, *hidden]
        layers = []
        for a, b in zip(widths, widths[1:]):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        layers += [nn.Linear(widths[-1], math.prod(self.image_shape)), nn.Tanh(), nn.Unflatten(1, self.image_shape)]
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        return self.net(z)

    def sample(self, n, generator=None):
        """``n`` images from fresh noise (in evaluation mode, without gradients)."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator).to(device)
        was_training = self.training
        self.eval()
        with torch.no_grad():
            out = self(z)
        self.train(was_training)
        return out


class Discriminator(nn.Module):
    """``images (N, 1, 28, 28) -> logits (N,)``: an MLP, LeakyReLU 0.2, one output logit."""

    def __init__(self, hidden=(256, 128), image_shape=(1, 28, 28)):
        super().__init__()
        self.image_shape = tuple(image_shape)
        widths = [math.prod(self.image_shape), *hidden]
        layers = [nn.Flatten()]
        for a, b in zip(widths, widths[1:]):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        layers.append(nn.Linear(widths[-1], 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        if tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"Discriminator expects images of shape (N, {', '.join(map(str, self.image_shape))}), "
                             f"got {tuple(x.shape)}")
        return self.net(x).squeeze(1)


def _grad_norm(module):
    return math.sqrt(sum(float((p.grad ** 2).sum()) for p in module.parameters() if p.grad is not None))


def train_gan(G, D, X, steps=1000, batch_size=64, lr=2e-4, betas=(0.5, 0.999), generator_loss="nonsaturating",
              d_steps=1, g_steps=1, d_pretrain=0, sample_every=None, n_samples=16, probe_every=None, on_sample=None, seed=0,
              device=None, progress=True):
    """Train generator ``G`` against discriminator ``D`` on real images ``X``; return the history.

    ``X``: images ``(N, 1, 28, 28)`` in [0, 1] (array or tensor); they are shown to ``D`` in
    [-1, 1].  One *step* is ``d_steps`` discriminator updates (each on a fresh real batch and a
    fresh fake batch) followed by ``g_steps`` generator updates, all with Adam(``lr``,
    ``betas``; DCGAN's 2e-4 and (0.5, 0.999)).  ``generator_loss``: ``"nonsaturating"``
    (``-log D(G(z))``) or ``"minimax"`` (``log(1 - D(G(z)))``).

    ``sample_every``: every that many steps (and at step 0 and at the end) the generator's
    images of one fixed batch of ``n_samples`` noise vectors are kept, so the same ``z`` can be
    watched over training; ``on_sample(step, G)``, when given, is called at the same moments
    (e.g. to classify a larger batch of samples).  ``probe_every``: every that many steps, the norm of the generator's
    parameter gradient under *both* losses is measured on the same fake batch (the training
    uses only one of them): how the minimax loss saturates.

    Returns a dict: per step ``d_loss``, ``g_loss``, ``d_real`` (mean ``D(x)`` on the real
    batch), ``d_fake`` (mean ``D(G(z))`` on the fake one, before the generator's update);
    ``samples``: list of ``(step, images (n_samples, 1, 28, 28) in [0, 1])``; ``probe``: list of
    ``(step, mean D(G(z)), grad norm minimax, grad norm non-saturating)``; ``time``: seconds.
    """
    from tqdm import tqdm

    from dlcourse import device as best_device
    from dlcourse import torch_ops

    if generator_loss not in GENERATOR_LOSSES:
        raise ValueError(f"generator_loss must be one of {GENERATOR_LOSSES}, got {generator_loss!r}")
    g_loss_fn = {"nonsaturating": torch_ops.gan_generator_loss_nonsaturating,
                 "minimax": torch_ops.gan_generator_loss_minimax}
    device = torch.device(device) if device is not None else best_device()
    X = from_unit(torch.as_tensor(X, dtype=torch.float32)).to(device)
    if X.dim() != 4 or tuple(X.shape[1:]) != G.image_shape:
        raise ValueError(f"X must hold images of shape (N, {', '.join(map(str, G.image_shape))}), got {tuple(X.shape)}")
    G.to(device), D.to(device)
    gen = torch.Generator().manual_seed(seed)
    fixed_z = torch.randn(n_samples, G.latent_dim, generator=gen).to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    history = {k: [] for k in ("d_loss", "g_loss", "d_real", "d_fake")}
    history.update(samples=[], probe=[], time=0.0)

    def noise(n):
        return torch.randn(n, G.latent_dim, generator=gen).to(device)

    def keep_samples(step):
        G.eval()
        with torch.no_grad():
            history["samples"].append((step, to_unit(G(fixed_z)).cpu().numpy()))
        if on_sample is not None:
            on_sample(step, G)
        G.train()

    def probe(step):
        fake_logits = D(G(noise(batch_size)))
        norms = []
        for fn in (torch_ops.gan_generator_loss_minimax, torch_ops.gan_generator_loss_nonsaturating):
            G.zero_grad(set_to_none=True)
            fn(fake_logits).backward(retain_graph=True)
            norms.append(_grad_norm(G))
        G.zero_grad(set_to_none=True)
        D.zero_grad(set_to_none=True)
        history["probe"].append((step, float(torch.sigmoid(fake_logits.detach()).mean()), *norms))

    def d_update():
        real = X[torch.randint(len(X), (batch_size,), generator=gen).to(device)]
        with torch.no_grad():
            fake = G(noise(batch_size))
        real_logits, fake_logits = D(real), D(fake)
        d_loss = torch_ops.gan_discriminator_loss(real_logits, fake_logits)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        return d_loss, real_logits, fake_logits

    start = time.perf_counter()
    for _ in range(d_pretrain):
        d_update()
    if sample_every:
        keep_samples(0)
    for step in tqdm(range(1, steps + 1), desc="training the GAN", unit="step", disable=not progress):
        if probe_every and (step == 1 or step % probe_every == 0):
            probe(step - 1)
        for _ in range(d_steps):
            d_loss, real_logits, fake_logits = d_update()
        for _ in range(g_steps):
            g_fake_logits = D(G(noise(batch_size)))
            g_loss = g_loss_fn[generator_loss](g_fake_logits)
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
        history["d_loss"].append(d_loss.item())
        history["g_loss"].append(g_loss.item())
        history["d_real"].append(torch.sigmoid(real_logits).mean().item())
        history["d_fake"].append(torch.sigmoid(fake_logits).mean().item())
        if sample_every and (step % sample_every == 0 or step == steps):
            keep_samples(step)
    D.zero_grad(set_to_none=True)
    history["time"] = time.perf_counter() - start
    return history


@torch.no_grad()
def digit_probabilities(classifier, images, batch_size=1000):
    """A digit classifier's softmax probabilities ``(N, 10)`` (NumPy) for images in [0, 1].

    ``images``: ``(N, 1, 28, 28)`` pixels in [0, 1] (e.g. :func:`to_unit` of a generator's
    output), standardized with MNIST's mean and standard deviation as
    :func:`dlcourse.data.to_nchw` does for the classifier's training images.
    """
    from dlcourse.data import MNIST_MEAN, MNIST_STD

    was_training = classifier.training
    classifier.eval()
    device = next(classifier.parameters()).device
    X = torch.as_tensor(images, dtype=torch.float32)
    out = [torch.softmax(classifier(((x - MNIST_MEAN) / MNIST_STD).to(device)), dim=1).cpu()
           for x in X.split(batch_size)]
    classifier.train(was_training)
    return torch.cat(out).numpy()
