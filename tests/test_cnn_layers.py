"""Chapters 8-13's new layers in both twins: batch normalization (against F.batch_norm, running
statistics included), dropout (its statistics, since its random stream cannot match torch's),
residual addition and channel concatenation; every NumPy backward against central differences
(float64) and torch autograd; data augmentation (dlcourse.augment)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from twins import TWIN_NAMES, Twin, batch_norm_shapes, seeds, t, twin  # noqa: F401  (twin: fixture)

import dlcourse.numpy_ops as nops
import dlcourse.torch_ops as tops
from dlcourse import augment
from dlcourse.gradcheck import gradcheck

rng = np.random.default_rng(0)


# --- batch normalization: forward and running statistics ------------------------------------------

def _bn_case(shape, seed, affine):
    r = np.random.default_rng(seed)
    c = shape[1]
    X = r.standard_normal(shape) * 3 + r.standard_normal((1, c) + (1,) * (len(shape) - 2))
    rm, rv = r.standard_normal(c), r.uniform(0.5, 2, c)
    w, b = (r.standard_normal(c), r.standard_normal(c)) if affine else (None, None)
    return X, rm, rv, w, b


@given(shape=batch_norm_shapes(), seed=seeds, affine=st.booleans(), training=st.booleans(),
       momentum=st.sampled_from([0.1, 0.0, 1.0, 0.37]), eps=st.sampled_from([1e-5, 1e-3]))
def test_batch_norm_matches_F_batch_norm_and_updates_running_stats_like_torch(shape, seed, affine, training, momentum, eps):
    X, rm, rv, w, b = _bn_case(shape, seed, affine)
    trm, trv = t(rm.copy()), t(rv.copy())
    expected = F.batch_norm(t(X), trm, trv, t(w), t(b), training=training, momentum=momentum, eps=eps).numpy()
    for name in TWIN_NAMES:
        twin = Twin(name)
        rm_i, rv_i = twin.array(rm.copy()), twin.array(rv.copy())
        Y = twin.to_numpy(twin.ops.batch_norm(twin.array(X), rm_i, rv_i, twin.native_args(w), twin.native_args(b),
                                              training=training, momentum=momentum, eps=eps))
        np.testing.assert_allclose(Y, expected, rtol=1e-10, atol=1e-10, err_msg=f"{name} output")
        np.testing.assert_allclose(twin.to_numpy(rm_i), trm.numpy(), rtol=1e-12, atol=1e-12, err_msg=f"{name} running_mean")
        np.testing.assert_allclose(twin.to_numpy(rv_i), trv.numpy(), rtol=1e-12, atol=1e-12, err_msg=f"{name} running_var")


def test_batch_norm_running_var_is_unbiased_and_momentum_weights_the_batch(twin):
    X = np.array([[1.0], [3.0]])  # mean 2, biased variance 1, unbiased 2
    rm, rv = twin.array(np.zeros(1)), twin.array(np.ones(1))
    Y = twin("batch_norm", X, rm, rv, training=True, momentum=0.25, eps=1e-12)
    np.testing.assert_allclose(Y[:, 0], [-1, 1], rtol=1e-9)
    np.testing.assert_allclose(twin.to_numpy(rm), [0.75 * 0 + 0.25 * 2])
    np.testing.assert_allclose(twin.to_numpy(rv), [0.75 * 1 + 0.25 * 2])


def test_batch_norm_float32_stays_float32_and_matches_torch(twin):
    X = rng.standard_normal((8, 3, 5, 5)).astype(np.float32)
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    w, b = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    trm, trv = t(rm.copy()), t(rv.copy())
    expected = F.batch_norm(t(X), trm, trv, t(w), t(b), training=True).numpy()
    rm_i, rv_i = twin.array(rm), twin.array(rv)
    Y = twin("batch_norm", X, rm_i, rv_i, w, b, training=True)
    assert Y.dtype == np.float32
    np.testing.assert_allclose(Y, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(twin.to_numpy(rv_i), trv.numpy(), rtol=1e-5)


def test_batch_norm_training_without_running_stats_uses_the_batch(twin):
    X = rng.standard_normal((6, 2, 3, 3))
    expected = F.batch_norm(t(X), None, None, training=True).numpy()
    np.testing.assert_allclose(twin("batch_norm", X, None, None, training=True), expected, rtol=1e-10, atol=1e-12)


def test_batch_norm_eval_does_not_touch_the_running_stats_and_ignores_the_batch(twin):
    rm, rv = np.array([1.0, -1.0]), np.array([4.0, 0.25])
    X = rng.standard_normal((3, 2))
    rm_i, rv_i = twin.array(rm.copy()), twin.array(rv.copy())
    Y = twin("batch_norm", X, rm_i, rv_i, eps=1e-300)
    np.testing.assert_allclose(Y, (X - rm) / np.sqrt(rv), rtol=1e-12)
    np.testing.assert_array_equal(twin.to_numpy(rm_i), rm)
    # one image alone gets the same output as inside the batch: evaluation is per example
    np.testing.assert_allclose(twin("batch_norm", X[:1], rm, rv, eps=1e-300), Y[:1], rtol=1e-12)


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((np.ones(3), None, None), dict(training=True), ValueError, r"\(N, C\) or \(N, C, H, W\)"),
    ((np.ones((1, 3)), None, None), dict(training=True), ValueError, r"more than 1 value per channel"),
    ((np.ones((4, 3)), np.zeros(2), np.ones(2)), {}, ValueError, r"running_mean must have shape \(3,\)"),
    ((np.ones((4, 3)), np.zeros(3), np.ones(3), np.ones(4)), {}, ValueError, r"weight must have shape \(3,\)"),
    ((np.ones((4, 3)), None, None), {}, ValueError, r"evaluation mode .* running_mean and running_var"),
    ((np.ones((4, 3)), np.zeros(3), np.ones(3)), dict(momentum=1.5), ValueError, r"momentum must be in \[0, 1\]"),
    ((np.ones((4, 3)), np.zeros(3), np.ones(3)), dict(eps=0), ValueError, r"eps must be positive"),
    ((np.ones((4, 3)), np.zeros(3), np.ones(3)), dict(training="yes"), TypeError, r"training must be True or False"),
])
def test_batch_norm_bad_arguments_raise_naming_them(twin, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        twin("batch_norm", *args, **kwargs)


def test_batch_norm_training_refuses_running_stats_it_cannot_update_in_place():
    with pytest.raises(TypeError, match="updated in place"):
        nops.batch_norm(np.ones((4, 3)), [0.0, 0, 0], [1.0, 1, 1], training=True)
    with pytest.raises(TypeError, match="updated in place"):
        tops.batch_norm(torch.ones(4, 3), np.zeros(3), np.ones(3), training=True)


# --- batch normalization: backward --------------------------------------------------------------

@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 4, 3)], ids=["2d", "4d"])
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "no-affine"])
def test_batch_norm_backward_passes_gradcheck(shape, affine):
    X, _, _, w, b = _bn_case(shape, 1, True)
    w = w if affine else None
    G = rng.standard_normal(shape)
    dX, dw, db = nops.batch_norm_backward(G, X, w)
    if affine:
        f = lambda X, w, b: (nops.batch_norm(X, None, None, w, b, training=True) * G).sum()  # noqa: E731
        err = gradcheck(f, [X, w, b], [dX, dw, db])
    else:
        err = gradcheck(lambda X: (nops.batch_norm(X, None, None, training=True) * G).sum(), [X], [dX])
    assert err < 1e-7, err
    assert dw.shape == db.shape == (shape[1],)


@given(shape=batch_norm_shapes(), seed=seeds, eps=st.sampled_from([1e-5, 0.1]))
def test_batch_norm_backward_matches_autograd_of_both_F_and_the_torch_twin(shape, seed, eps):
    X, _, _, w, b = _bn_case(shape, seed, True)
    G = np.random.default_rng(seed + 1).standard_normal(shape)
    dX, dw, db = nops.batch_norm_backward(G, X, w, eps=eps)
    for fn in (F.batch_norm, tops.batch_norm):
        Xt, wt, bt = (t(a).clone().requires_grad_() for a in (X, w, b))
        fn(Xt, None, None, wt, bt, training=True, eps=eps).backward(t(G))
        # With two values per channel, dX is a cancellation of O(1) terms that leaves ~1e-7:
        # a relative bound alone would judge rounding at 1e-16 there, so an absolute floor
        # on the scale of the terms that cancel (|G| ~ 1) goes with it.
        for ours, theirs in ((dX, Xt.grad), (dw, wt.grad), (db, bt.grad)):
            np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-9, atol=1e-12, err_msg=str(fn))


def test_batch_norm_backward_checks_shapes():
    with pytest.raises(ValueError, match=r"dY shape \(4, 2\) must equal .* \(4, 3\)"):
        nops.batch_norm_backward(np.ones((4, 2)), np.ones((4, 3)), None)
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        nops.batch_norm_backward(np.ones((4, 3)), np.ones((4, 3)), np.ones(2))


# --- dropout ------------------------------------------------------------------------------------

def _dropout_rng(twin, seed=0):
    return np.random.default_rng(seed) if twin.name == "numpy_ops" else torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_drops_a_fraction_p_and_preserves_the_mean(twin, p):
    X = np.ones((200, 500))
    Y = twin("dropout", X, p, True, _dropout_rng(twin))
    n = X.size
    drop_rate = (Y == 0).mean()
    # binomial: standard deviation sqrt(p(1-p)/n) < 1e-3; 5 sigma
    assert abs(drop_rate - p) < 5 * np.sqrt(p * (1 - p) / n), drop_rate
    np.testing.assert_allclose(np.unique(Y), [0, 1 / (1 - p)], rtol=1e-12)
    assert abs(Y.mean() - 1) < 5 * np.sqrt(p / (1 - p) / n), Y.mean()


def test_dropout_in_evaluation_and_with_p_0_is_the_identity_and_p_1_drops_everything(twin):
    X = rng.standard_normal((4, 5))
    np.testing.assert_array_equal(twin("dropout", X, 0.5, False), X)
    np.testing.assert_array_equal(twin("dropout", X, 0.0, True), X)
    np.testing.assert_array_equal(twin("dropout", X, 1.0, True), np.zeros_like(X))
    np.testing.assert_array_equal(F.dropout(t(X), 1.0, True).numpy(), np.zeros_like(X))  # as torch


def test_dropout_is_seeded_and_uses_the_mask_dropout_mask_draws(twin):
    X = rng.standard_normal((6, 7)).astype(np.float32)
    a = twin("dropout", X, 0.3, True, _dropout_rng(twin, 5))
    b = twin("dropout", X, 0.3, True, _dropout_rng(twin, 5))
    mask = twin("dropout_mask", X, 0.3, _dropout_rng(twin, 5))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, X * mask, rtol=1e-6)
    assert a.dtype == mask.dtype == np.float32
    assert not np.array_equal(a, twin("dropout", X, 0.3, True, _dropout_rng(twin, 6)))


def test_dropout_backward_is_dY_times_the_mask_as_autograd_says():
    X, G = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    mask = nops.dropout_mask(X, 0.4, np.random.default_rng(1))
    err = gradcheck(lambda X: (X * mask * G).sum(), [X], [nops.dropout_backward(G, mask)])
    assert err < 1e-7, err
    gen = torch.Generator().manual_seed(3)
    Xt = t(X).clone().requires_grad_()
    Y = tops.dropout(Xt, 0.4, True, gen)
    Y.backward(t(G))
    tmask = tops.dropout_mask(t(X), 0.4, torch.Generator().manual_seed(3)).numpy()
    np.testing.assert_allclose(Xt.grad.numpy(), nops.dropout_backward(G, tmask), rtol=1e-12)


@pytest.mark.parametrize("p, error", [(-0.1, ValueError), (1.5, ValueError), ("half", TypeError)])
def test_dropout_bad_p_raises(twin, p, error):
    with pytest.raises(error, match="drop probability"):
        twin("dropout", np.ones(3), p)


def test_dropout_rng_must_be_the_twins_generator():
    with pytest.raises(TypeError, match="np.random.Generator"):
        nops.dropout(np.ones(3), 0.5, True, rng=0)
    with pytest.raises(TypeError, match="torch.Generator"):
        tops.dropout(torch.ones(3), 0.5, True, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="mask's shape"):
        nops.dropout_backward(np.ones(3), np.ones(4))


# --- residual addition and channel concatenation -------------------------------------------------

def test_residual_add_and_its_backward(twin):
    X, FX = rng.standard_normal((2, 3, 4, 4)), rng.standard_normal((2, 3, 4, 4))
    np.testing.assert_allclose(twin("residual_add", X, FX), X + FX, rtol=1e-15)
    G = rng.standard_normal(X.shape)
    dX, dFX = nops.residual_add_backward(G)
    Xt, FXt = t(X).clone().requires_grad_(), t(FX).clone().requires_grad_()
    tops.residual_add(Xt, FXt).backward(t(G))
    np.testing.assert_array_equal(dX, Xt.grad.numpy())
    np.testing.assert_array_equal(dFX, FXt.grad.numpy())
    dX += 1
    assert not np.array_equal(dX, dFX)  # two arrays: accumulating into one leaves the other


def test_residual_add_refuses_mismatched_shapes_and_says_to_project(twin):
    with pytest.raises(ValueError, match=r"X shape \(2, 3, 4, 4\), branch F\(X\) shape \(2, 6, 2, 2\).*1x1"):
        twin("residual_add", np.ones((2, 3, 4, 4)), np.ones((2, 6, 2, 2)))


@given(n=st.integers(1, 3), channels=st.lists(st.integers(0, 4), min_size=1, max_size=4), hw=st.integers(1, 4),
       seed=seeds)
def test_concat_channels_matches_torch_cat_and_its_backward_splits_the_gradient(n, channels, hw, seed):
    r = np.random.default_rng(seed)
    Xs = [r.standard_normal((n, c, hw, hw)) for c in channels]
    expected = torch.cat([t(X) for X in Xs], dim=1).numpy()
    for name in TWIN_NAMES:
        np.testing.assert_array_equal(Twin(name)("concat_channels", Xs), expected)
    G = r.standard_normal(expected.shape)
    grads = nops.concat_channels_backward(G, channels)
    leaves = [t(X).clone().requires_grad_() for X in Xs]
    tops.concat_channels(leaves).backward(t(G))
    assert [g.shape for g in grads] == [X.shape for X in Xs]
    for g, leaf in zip(grads, leaves):
        np.testing.assert_array_equal(g, leaf.grad.numpy())


def test_concat_channels_gradcheck_and_errors(twin):
    Xs = [rng.standard_normal((2, c, 3, 3)) for c in (1, 2, 3)]
    G = rng.standard_normal((2, 6, 3, 3))
    err = gradcheck(lambda *Xs: (nops.concat_channels(list(Xs)) * G).sum(), Xs,
                    nops.concat_channels_backward(G, [1, 2, 3]))
    assert err < 1e-7, err
    with pytest.raises(ValueError, match=r"input 1 has shape \(2, 2, 4, 4\) but input 0 has shape \(2, 1, 3, 3\)"):
        twin("concat_channels", [np.ones((2, 1, 3, 3)), np.ones((2, 2, 4, 4))])
    with pytest.raises(ValueError, match="at least one"):
        twin("concat_channels", [])
    with pytest.raises(ValueError, match=r"sum to dY's 6 channels"):
        nops.concat_channels_backward(G, [1, 2])


# --- data augmentation ----------------------------------------------------------------------------

def _dot_images(n=60, size=9):
    X = np.zeros((n, 1, size, size), np.float32)
    X[:, 0, size // 2, size // 2] = 1
    return X


def _where(Y):
    flat = np.asarray(Y)[:, 0].reshape(len(Y), -1)
    size = Y.shape[-1]
    return flat.argmax(1) // size, flat.argmax(1) % size, flat.sum(1)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("fname, amount", [("random_crop", 2), ("random_shift", 2)])
def test_crop_and_shift_move_each_image_by_whole_pixels_within_the_bound(backend, fname, amount):
    X = _dot_images()
    gen = (lambda: np.random.default_rng(0)) if backend == "numpy" else (lambda: torch.Generator().manual_seed(0))
    Xb = X if backend == "numpy" else torch.from_numpy(X)
    Y = getattr(augment, fname)(Xb, amount, gen())
    assert type(Y) is type(Xb) and tuple(Y.shape) == X.shape
    Y = np.asarray(Y)
    rows, cols, mass = _where(Y)
    np.testing.assert_array_equal(mass, 1)  # the dot is never cut off: it is in the middle
    assert rows.min() >= 4 - amount and rows.max() <= 4 + amount and cols.min() >= 4 - amount and cols.max() <= 4 + amount
    assert len(set(zip(rows.tolist(), cols.tolist()))) > 5
    np.testing.assert_array_equal(Y, np.asarray(getattr(augment, fname)(Xb, amount, gen())))  # seeded


def test_random_crop_fills_with_zeros_and_random_shift_repeats_the_edge():
    X = np.ones((40, 1, 5, 5))
    crop = augment.random_crop(X, 2, np.random.default_rng(0))
    shift = augment.random_shift(X, 2, np.random.default_rng(0))
    assert crop.min() == 0 and (crop == 0).any(axis=(1, 2, 3)).mean() > 0.5
    np.testing.assert_array_equal(shift, X)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_random_hflip_mirrors_about_half_the_images(backend):
    X = np.zeros((400, 2, 3, 4), np.float32)
    X[..., 0] = 1
    Xb = X if backend == "numpy" else torch.from_numpy(X)
    gen = np.random.default_rng(1) if backend == "numpy" else torch.Generator().manual_seed(1)
    Y = np.asarray(augment.random_hflip(Xb, 0.5, gen))
    flipped = Y[:, 0, 0, -1] == 1
    assert 0.4 < flipped.mean() < 0.6
    np.testing.assert_array_equal(Y[flipped], X[flipped][..., ::-1])
    np.testing.assert_array_equal(Y[~flipped], X[~flipped])
    np.testing.assert_array_equal(np.asarray(augment.random_hflip(Xb, 0.0, gen)), X)


def test_augmenter_chains_and_leaves_flips_off_by_default():
    X = _dot_images(30)
    f = augment.augmenter(crop_padding=1, max_shift=1)
    Y = f(X, np.random.default_rng(0))
    np.testing.assert_array_equal(Y, f(X, np.random.default_rng(0)))
    rows, cols, _ = _where(Y)
    assert np.abs(rows - 4).max() <= 2 and np.abs(cols - 4).max() <= 2
    torch_Y = f(torch.from_numpy(X))  # dlcourse.train.train calls augment(X) on tensors
    assert isinstance(torch_Y, torch.Tensor) and torch_Y.shape == X.shape
    assert "hflip=False" in f.__doc__


def test_augmentation_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        augment.random_crop(np.ones((3, 3)), 1)
    with pytest.raises(ValueError, match="padding must be a non-negative int"):
        augment.random_crop(np.ones((1, 1, 3, 3)), -1)
    with pytest.raises(TypeError, match="np.random.Generator"):
        augment.random_hflip(np.ones((1, 1, 3, 3)), 0.5, torch.Generator())
    with pytest.raises(ValueError, match="flip probability"):
        augment.random_hflip(np.ones((1, 1, 3, 3)), 2)


# --- the registry: one list for both twins --------------------------------------------------------

def test_both_twins_are_built_from_the_one_registry():
    from dlcourse import _registry

    assert nops.__all__ == _registry.names("numpy_ops")
    assert tops.__all__ == _registry.names("torch_ops")
    assert set(nops.NUMPY_ONLY) == set(_registry.NUMPY_ONLY)
    for name in ("batch_norm", "dropout", "dropout_mask", "residual_add", "concat_channels"):
        assert name in tops.__all__ and name in nops.__all__
    for name in ("batch_norm_backward", "dropout_backward", "residual_add_backward", "concat_channels_backward"):
        assert name in nops.NUMPY_ONLY and name not in tops.__all__
    assert len(set(nops.__all__)) == len(nops.__all__)
