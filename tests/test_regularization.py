"""Chapter 19: weight decay twins (NumPy == torch twin == torch.optim.SGD / autograd), the early
stopping rule, and the curve-recording training loop."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import dlcourse.numpy_ops as nops
import dlcourse.torch_ops as tops
from dlcourse.gradcheck import gradcheck
from dlcourse.optim import sgd_step
from dlcourse.regularization import accuracy_standard_error, early_stopping_epoch, fit_curves, overfit_mlp
from twins import Twin, twin  # noqa: F401  (twin is a fixture)

shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5)


def torch_sgd_steps(W, grads, lr, momentum, weight_decay):
    """Weights after torch.optim.SGD takes the given sequence of gradients."""
    w = torch.nn.Parameter(torch.tensor(W))
    opt = torch.optim.SGD([w], lr=lr, momentum=momentum, weight_decay=weight_decay)
    for g in grads:
        w.grad = torch.tensor(g)
        opt.step()
    return w.detach().numpy()


def test_l2_penalty_fixed_value(twin):
    W = np.array([[1.0, -2.0], [3.0, 0.0]])
    assert float(twin("l2_penalty", W, 0.1)) == pytest.approx(0.05 * 14)


def test_l2_penalty_of_integers_is_float64(twin):
    out = twin("l2_penalty", np.array([1, 2, 3]), 2.0)
    assert np.asarray(out).dtype == np.float64 and float(out) == pytest.approx(14.0)


@given(shape=shapes, seed=st.integers(0, 2**31), lam=st.floats(0, 1))
@settings(max_examples=25)
def test_l2_penalty_twins_agree(shape, seed, lam):
    W = np.random.default_rng(seed).standard_normal(shape)
    expected = lam / 2 * np.sum(W**2)
    np.testing.assert_allclose(nops.l2_penalty(W, lam), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(tops.l2_penalty(torch.tensor(W), lam).numpy(), expected, rtol=1e-12, atol=1e-15)


def test_l2_penalty_backward_matches_central_differences_and_autograd():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((3, 4))
    analytic = nops.l2_penalty_backward(W, 0.3)
    assert gradcheck(lambda w: float(nops.l2_penalty(w, 0.3)), [W], [analytic]) < 1e-7
    Wt = torch.tensor(W, requires_grad=True)
    tops.l2_penalty(Wt, 0.3).backward()
    np.testing.assert_allclose(analytic, Wt.grad.numpy(), rtol=1e-12)


@given(shape=shapes, seed=st.integers(0, 2**31), lr=st.floats(1e-3, 1.0), momentum=st.floats(0, 0.99),
       weight_decay=st.floats(0, 0.1), steps=st.integers(1, 4))
@settings(max_examples=25)
def test_sgd_update_twins_equal_torch_optim_sgd_over_several_steps(shape, seed, lr, momentum, weight_decay, steps):
    rng = np.random.default_rng(seed)
    W0, grads = rng.standard_normal(shape), [rng.standard_normal(shape) for _ in range(steps)]
    expected = torch_sgd_steps(W0, grads, lr, momentum, weight_decay)
    for name in ("numpy_ops", "torch_ops"):
        tw = Twin(name)
        W, V = W0, np.zeros(shape)
        for g in grads:
            W, V = tw("sgd_update", W, g, V, lr, momentum=momentum, weight_decay=weight_decay)
        np.testing.assert_allclose(W, expected, rtol=1e-10, atol=1e-12, err_msg=name)


def test_sgd_update_is_the_library_rule_and_modifies_nothing(twin):
    rng = np.random.default_rng(1)
    W, g, V = rng.standard_normal((2, 3)), rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    copies = [a.copy() for a in (W, g, V)]
    W_new, V_new = twin("sgd_update", W, g, V, 0.1, momentum=0.9, weight_decay=5e-4)
    params, vel = {"w": W.copy()}, {"w": V.copy()}
    sgd_step(params, {"w": g}, vel, 0.1, 0.9, 5e-4)
    np.testing.assert_allclose(W_new, params["w"], rtol=1e-14)
    np.testing.assert_allclose(V_new, vel["w"], rtol=1e-14)
    for a, c in zip((W, g, V), copies):
        np.testing.assert_array_equal(a, c)


def test_weight_decay_alone_shrinks_weights_geometrically(twin):
    W = np.array([2.0, -4.0])
    W_new, _ = twin("sgd_update", W, np.zeros(2), np.zeros(2), 0.5, weight_decay=0.1)
    np.testing.assert_allclose(W_new, W * (1 - 0.05))


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=0.0), "lr"), (dict(lr=0.1, momentum=1.0), "momentum"), (dict(lr=0.1, weight_decay=-1.0), "weight_decay"),
])
def test_sgd_update_rejects_bad_rates(twin, kwargs, match):
    with pytest.raises(ValueError, match=match):
        twin("sgd_update", np.ones(2), np.ones(2), np.zeros(2), **kwargs)


def test_sgd_update_names_mismatched_shapes(twin):
    with pytest.raises(ValueError, match=r"W \(2, 3\), dW \(3, 2\)"):
        twin("sgd_update", np.ones((2, 3)), np.ones((3, 2)), np.zeros((2, 3)), 0.1)


def test_l2_penalty_rejects_negative_weight_decay(twin):
    with pytest.raises(ValueError, match="weight_decay"):
        twin("l2_penalty", np.ones(2), -0.1)


def test_early_stopping_keeps_the_best_epoch_and_stops_after_patience():
    losses = [1.0, 0.8, 0.7, 0.75, 0.72, 0.71, 0.9, 0.6]
    assert early_stopping_epoch(losses) == (8, 8)
    assert early_stopping_epoch(losses, patience=3) == (3, 6)
    assert early_stopping_epoch(losses, patience=5) == (8, 8)


def test_early_stopping_min_delta_ignores_tiny_improvements():
    assert early_stopping_epoch([1.0, 0.999, 0.998, 0.5], patience=2, min_delta=0.01) == (1, 3)


def test_early_stopping_ties_do_not_count_as_improvement():
    assert early_stopping_epoch([0.5, 0.5, 0.5], patience=2) == (1, 3)


@pytest.mark.parametrize("args", [([],), ([1.0], 0), ([1.0], 1.5), ([1.0], True)])
def test_early_stopping_rejects_bad_arguments(args):
    with pytest.raises(ValueError):
        early_stopping_epoch(*args)


def test_accuracy_standard_error():
    assert accuracy_standard_error(0.9, 10000) == pytest.approx(0.003)
    assert accuracy_standard_error(1.0, 50) == 0.0


def test_overfit_mlp_shapes_and_dropout_layers():
    net = overfit_mlp(hidden=(8, 6), dropout=0.5)
    assert net(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert sum(isinstance(m, torch.nn.Dropout) for m in net) == 2
    assert not any(isinstance(m, torch.nn.Dropout) for m in overfit_mlp(hidden=(8,)))


def _tiny_data(rng, n):
    X = rng.standard_normal((n, 1, 4, 4)).astype(np.float32)
    y = (X[:, 0, 0, 0] > 0).astype(np.int64)
    return X, y


def test_fit_curves_records_three_sets_and_restores_the_best_epoch():
    rng = np.random.default_rng(0)
    train, val, test = _tiny_data(rng, 16), _tiny_data(rng, 8), _tiny_data(rng, 8)
    torch.manual_seed(0)
    net = overfit_mlp(hidden=(32,), in_features=16, num_classes=2)
    h = fit_curves(net, train, val, test, epochs=30, lr=0.5, patience=3, device="cpu", progress=False)
    n = len(h["val_loss"])
    assert all(len(h[k]) == n for k in ("train_loss", "train_acc", "val_acc", "test_loss", "test_acc", "time"))
    assert h["stop_epoch"] == n and (h["best_epoch"] == n or n - h["best_epoch"] == 3)
    from dlcourse.train import evaluate
    val_loss, val_acc = evaluate(net, val, device="cpu")  # the restored weights are the best epoch's
    assert val_loss == pytest.approx(min(h["val_loss"]), rel=1e-5)
    assert h["final"]["val_acc"] == val_acc
