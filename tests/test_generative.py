"""Chapters 20-21: reconstruction losses, denoising corruptions and the GAN losses.

NumPy twin == torch twin == torch.nn.functional (``mse_loss``, ``binary_cross_entropy_with_logits``)
on fixed and hypothesis cases; the NumPy backward passes against central differences (float64)
and autograd; the models' shapes; the saturation that motivates the non-saturating loss.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import dlcourse.numpy_ops as nops
import dlcourse.torch_ops as tops
from dlcourse.gradcheck import gradcheck
from twins import TWIN_NAMES, Twin, twin  # noqa: F401  (twin is a fixture)

shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5)
logits = lambda shape: hnp.arrays(np.float64, shape, elements=st.floats(-30, 30))  # noqa: E731
unit = lambda shape: hnp.arrays(np.float64, shape, elements=st.floats(0, 1))  # noqa: E731


def t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def torch_reference(name, *arrays):
    """What torch.nn.functional computes for each loss of the twins."""
    a = [t(x) for x in arrays]
    if name == "mse_loss":
        return F.mse_loss(*a).numpy()
    if name == "bce_with_logits":
        return F.binary_cross_entropy_with_logits(*a).numpy()
    if name == "gan_discriminator_loss":
        r, f = a
        return (F.binary_cross_entropy_with_logits(r, torch.ones_like(r))
                + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))).numpy()
    if name == "gan_generator_loss_minimax":
        return (-F.binary_cross_entropy_with_logits(a[0], torch.zeros_like(a[0]))).numpy()
    if name == "gan_generator_loss_nonsaturating":
        return F.binary_cross_entropy_with_logits(a[0], torch.ones_like(a[0])).numpy()
    raise KeyError(name)


@settings(max_examples=25, deadline=None)
@given(data=st.data(), shape=shapes)
def test_reconstruction_losses_match_torch_functional_in_both_twins(data, shape):
    Z, T = data.draw(logits(shape)), data.draw(unit(shape))
    for name in ("mse_loss", "bce_with_logits"):
        expected = torch_reference(name, Z, T)
        for tw in TWIN_NAMES:
            got = Twin(tw)(name, Z, T)
            np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12, err_msg=f"{tw}.{name}")


@settings(max_examples=25, deadline=None)
@given(data=st.data(), n=st.integers(1, 6), m=st.integers(1, 6))
def test_gan_losses_match_bce_with_logits_in_both_twins(data, n, m):
    real, fake = data.draw(logits((n,))), data.draw(logits((m,)))
    cases = {"gan_discriminator_loss": (real, fake), "gan_generator_loss_minimax": (fake,),
             "gan_generator_loss_nonsaturating": (fake,)}
    for name, args in cases.items():
        expected = torch_reference(name, *args)
        for tw in TWIN_NAMES:
            np.testing.assert_allclose(Twin(tw)(name, *args), expected, rtol=1e-10, atol=1e-12, err_msg=f"{tw}.{name}")


def test_losses_by_hand():
    assert nops.mse_loss([1.0, 3.0], [0.0, 0.0]) == 5.0
    assert nops.mse_loss([1.0, 3.0], [0.0, 0.0], reduction="sum") == 10.0
    assert np.isclose(nops.bce_with_logits([0.0], [1.0]), np.log(2))  # D = 1/2: log 2 nats
    # D = 1/2 on real and fake: log 4, the discriminator's loss at the game's equilibrium
    assert np.isclose(nops.gan_discriminator_loss([0.0, 0.0], [0.0]), np.log(4))
    assert np.isclose(nops.gan_generator_loss_minimax([0.0]), -np.log(2))
    assert np.isclose(nops.gan_generator_loss_nonsaturating([0.0]), np.log(2))


def test_losses_are_finite_for_huge_logits(twin):
    Z = np.array([-1e4, -50.0, 0.0, 50.0, 1e4])
    T = np.array([1.0, 1.0, 0.5, 0.0, 0.0])
    bce = twin("bce_with_logits", Z, T)
    assert np.isfinite(bce) and np.isclose(bce, (1e4 + 50 + np.log(2) + 50 + 1e4) / 5)
    for name in ("gan_generator_loss_minimax", "gan_generator_loss_nonsaturating"):
        assert np.isfinite(twin(name, Z))
    assert np.isfinite(twin("gan_discriminator_loss", Z, Z))


def test_twins_keep_float32(twin):
    Z, T = np.zeros((2, 3), np.float32), np.ones((2, 3), np.float32)
    for name, args in (("mse_loss", (Z, T)), ("bce_with_logits", (Z, T)), ("gan_discriminator_loss", (Z, Z)),
                       ("gan_generator_loss_minimax", (Z,)), ("gan_generator_loss_nonsaturating", (Z,))):
        assert twin(name, *args).dtype == np.float32, name


def test_integer_inputs_become_float64(twin):
    assert twin("mse_loss", np.array([1, 2]), np.array([0, 0])).dtype == np.float64


# --- backward passes ------------------------------------------------------------------------------

BACKWARDS = {
    "mse_loss": lambda rng: (rng.standard_normal((3, 4)), rng.random((3, 4))),
    "bce_with_logits": lambda rng: (rng.standard_normal((2, 1, 3, 3)) * 3, rng.random((2, 1, 3, 3))),
    "gan_generator_loss_minimax": lambda rng: (rng.standard_normal(5) * 3,),
    "gan_generator_loss_nonsaturating": lambda rng: (rng.standard_normal(5) * 3,),
}


@pytest.mark.parametrize("name", sorted(BACKWARDS))
def test_backward_passes_central_differences_in_float64(name):
    args = BACKWARDS[name](np.random.default_rng(20))
    forward, backward = getattr(nops, name), getattr(nops, f"{name}_backward")

    def f(x):
        return float(forward(x, *args[1:]))
    assert gradcheck(f, [args[0]], [backward(*args)]) <= 1e-7


def test_discriminator_backward_passes_central_differences():
    rng = np.random.default_rng(21)
    real, fake = rng.standard_normal(4) * 3, rng.standard_normal(6) * 3
    grads = nops.gan_discriminator_loss_backward(real, fake)
    assert gradcheck(lambda r, f: float(nops.gan_discriminator_loss(r, f)), [real, fake], list(grads)) <= 1e-7


@pytest.mark.parametrize("name", ["mse_loss", "bce_with_logits", "gan_discriminator_loss",
                                  "gan_generator_loss_minimax", "gan_generator_loss_nonsaturating"])
def test_numpy_backward_equals_autograd_of_the_torch_twin(name):
    rng = np.random.default_rng(22)
    if name in ("mse_loss", "bce_with_logits"):
        args = (rng.standard_normal((4, 5)) * 4, rng.random((4, 5)))
        leaves = 1
    elif name == "gan_discriminator_loss":
        args, leaves = (rng.standard_normal(7) * 4, rng.standard_normal(3) * 4), 2
    else:
        args, leaves = (rng.standard_normal(9) * 4,), 1
    tensors = [t(a).requires_grad_(i < leaves) for i, a in enumerate(args)]
    getattr(tops, name)(*tensors).backward()
    expected = [x.grad.numpy() for x in tensors[:leaves]]
    got = getattr(nops, f"{name}_backward")(*args)
    got = list(got) if isinstance(got, tuple) else [got]
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-15)


def test_minimax_gradient_saturates_where_nonsaturating_does_not():
    """A discriminator that rejects the fakes (D(G(z)) = sigmoid(-10), about 5e-5): the minimax
    generator's gradient is about 2e4 times smaller than the non-saturating one's."""
    z = np.full(4, -10.0)
    mm = np.abs(nops.gan_generator_loss_minimax_backward(z)).sum()
    ns = np.abs(nops.gan_generator_loss_nonsaturating_backward(z)).sum()
    assert mm < 1e-4 and ns > 0.99 and ns / mm > 1e4
    # at D = 1/2 both give the same magnitude
    z = np.zeros(4)
    assert np.isclose(np.abs(nops.gan_generator_loss_minimax_backward(z)).sum(),
                      np.abs(nops.gan_generator_loss_nonsaturating_backward(z)).sum())


# --- corruptions ----------------------------------------------------------------------------------

def test_gaussian_noise_has_the_requested_spread_and_clips(twin):
    X = np.full((200, 50), 0.5)
    rng = np.random.default_rng(0) if twin.name == "numpy_ops" else torch.Generator().manual_seed(0)
    noisy = twin("gaussian_noise", X, 0.1, rng=rng, clip=None)
    assert abs((noisy - X).std() - 0.1) < 0.005 and abs((noisy - X).mean()) < 0.005
    clipped = twin("gaussian_noise", X, 2.0, rng=rng)
    assert clipped.min() == 0.0 and clipped.max() == 1.0


def test_masking_noise_zeroes_a_fraction_p_without_rescaling(twin):
    X = np.full((100, 100), 0.7)
    rng = np.random.default_rng(1) if twin.name == "numpy_ops" else torch.Generator().manual_seed(1)
    out = twin("masking_noise", X, 0.3, rng=rng)
    assert abs(np.mean(out == 0) - 0.3) < 0.02
    assert set(np.unique(out)) <= {0.0, 0.7}
    assert np.array_equal(twin("masking_noise", X, 0.0), X) and not twin("masking_noise", X, 1.0).any()


def test_corruptions_are_reproducible_with_a_seeded_generator():
    X = np.random.default_rng(2).random((3, 4))
    a = nops.gaussian_noise(X, 0.2, rng=np.random.default_rng(5))
    b = nops.gaussian_noise(X, 0.2, rng=np.random.default_rng(5))
    assert np.array_equal(a, b)
    c = tops.masking_noise(t(X), 0.5, rng=torch.Generator().manual_seed(5))
    d = tops.masking_noise(t(X), 0.5, rng=torch.Generator().manual_seed(5))
    assert torch.equal(c, d)


# --- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("fname, args, error, match", [
    ("mse_loss", (np.zeros((2, 3)), np.zeros((3, 2))), ValueError, r"\(2, 3\).*\(3, 2\)"),
    ("bce_with_logits", (np.zeros(4), np.zeros(5)), ValueError, r"\(4,\).*\(5,\)"),
    ("bce_with_logits", (np.zeros(0), np.zeros(0)), ValueError, "empty"),
    ("mse_loss", (np.zeros(2), np.zeros(2)), ValueError, "reduction"),
    ("gan_discriminator_loss", (np.zeros(0), np.zeros(3)), ValueError, "real_logits"),
    ("gan_generator_loss_nonsaturating", (np.array(["a"]),), TypeError, "numeric|number"),
    ("gaussian_noise", (np.zeros(2), -0.1), ValueError, "std"),
    ("masking_noise", (np.zeros(2), 1.5), ValueError, r"p must be in \[0, 1\]"),
])
def test_bad_input_raises_an_error_naming_it(twin, fname, args, error, match):
    kwargs = {"reduction": "max"} if match == "reduction" else {}
    with pytest.raises(error, match=match):
        twin(fname, *args, **kwargs)


def test_corruptions_refuse_the_other_twins_generator():
    with pytest.raises(TypeError, match="np.random.Generator"):
        nops.masking_noise(np.zeros(2), 0.5, rng=torch.Generator())
    with pytest.raises(TypeError, match="torch.Generator"):
        tops.gaussian_noise(torch.zeros(2), 0.5, rng=np.random.default_rng(0))


# --- the models of chapters 20-21 ---------------------------------------------------------------

def test_autoencoders_map_images_to_codes_and_back():
    from dlcourse.models.autoencoder import ConvAutoencoder, DenseAutoencoder

    torch.manual_seed(0)
    x = torch.rand(3, 1, 28, 28)
    for model, latent in ((DenseAutoencoder(latent_dim=2), 2), (ConvAutoencoder(latent_dim=5), 5)):
        assert model.encode(x).shape == (3, latent)
        assert model(x).shape == (3, 1, 28, 28)
    with pytest.raises(ValueError, match=r"\(3, 1, 14, 14\)"):
        ConvAutoencoder()(torch.rand(3, 1, 14, 14))
    with pytest.raises(ValueError, match=r"z must have shape \(N, 2\)"):
        DenseAutoencoder(latent_dim=2).decode(torch.rand(3, 4))


def test_conv_decoder_is_the_transposed_convolution_of_chapter_5():
    from dlcourse.models.autoencoder import ConvAutoencoder

    torch.manual_seed(1)
    layer = ConvAutoencoder().decoder[3]
    h = torch.randn(2, 32, 7, 7)
    with torch.no_grad():
        out = layer(h)
    mine = nops.conv_transpose2d(h.double().numpy(), layer.weight.detach().double().numpy(),
                                 layer.bias.detach().double().numpy(),
                                 stride=2, padding=1)
    assert out.shape == (2, 16, 14, 14)
    np.testing.assert_allclose(mine, out.double().numpy(), atol=1e-5)


def test_train_autoencoder_lowers_the_loss_and_denoising_corrupts_only_the_input():
    from dlcourse.models.autoencoder import DenseAutoencoder, train_autoencoder

    X = (np.random.default_rng(0).random((64, 1, 28, 28)) > 0.7).astype(np.float32)
    seen = []

    def corrupt(x, g):
        seen.append(x.shape)
        return tops.masking_noise(x, 0.3, rng=g)

    torch.manual_seed(0)
    h = train_autoencoder(DenseAutoencoder(latent_dim=4, hidden=(32,)), X, X[:16], epochs=3, lr=3e-3,
                          batch_size=32, corrupt=corrupt, device="cpu", progress=False)
    assert len(h["train_loss"]) == 3 and len(h["val_loss"]) == 3
    assert h["train_loss"][-1] < h["train_loss"][0]
    assert seen and all(s[1:] == (1, 28, 28) for s in seen)


def test_train_gan_records_its_history_and_the_minimax_gradient_is_the_weaker_after_a_head_start():
    from dlcourse.models.gan import Discriminator, Generator, train_gan

    X = np.random.default_rng(0).random((128, 1, 28, 28)).astype(np.float32)
    torch.manual_seed(0)
    G, D = Generator(latent_dim=8, hidden=(32,)), Discriminator(hidden=(32,))
    h = train_gan(G, D, X, steps=6, batch_size=16, lr=1e-3, d_pretrain=30, sample_every=3, n_samples=4,
                  probe_every=3, device="cpu", progress=False)
    assert all(len(h[k]) == 6 for k in ("d_loss", "g_loss", "d_real", "d_fake"))
    assert [s for s, _ in h["samples"]] == [0, 3, 6] and h["samples"][0][1].shape == (4, 1, 28, 28)
    assert all(0 <= img.min() and img.max() <= 1 for _, img in h["samples"])
    step, d_fake, g_minimax, g_nonsat = h["probe"][0]
    assert step == 0 and d_fake < 0.5 and g_minimax < g_nonsat
    with pytest.raises(ValueError, match="generator_loss"):
        train_gan(G, D, X, steps=1, generator_loss="wasserstein", progress=False)
