"""Chapter 7's layers, loss and optimizer: both twins against torch.nn.functional, the NumPy
backward passes against central differences, and the SGD rule against torch.optim.SGD."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import dlcourse.numpy_ops as nops
import dlcourse.torch_ops as tops
from dlcourse.gradcheck import gradcheck
from dlcourse.optim import SGD, sgd_step

TWINS = {"numpy_ops": nops, "torch_ops": tops}


def run(twin, fname, *arrays, **kw):
    """Call ``fname`` of a twin on NumPy inputs; return NumPy (tuples element-wise)."""
    ops = TWINS[twin]
    args = [torch.from_numpy(np.ascontiguousarray(a)) if twin == "torch_ops" and isinstance(a, np.ndarray) else a
            for a in arrays]
    out = getattr(ops, fname)(*args, **kw)

    def back(o):
        if isinstance(o, torch.Tensor):
            return o.detach().numpy()
        assert twin == "numpy_ops" or not isinstance(o, np.ndarray), f"{twin}.{fname} returned an ndarray"
        return o
    return tuple(back(o) for o in out) if isinstance(out, tuple) else back(out)


@pytest.fixture(params=list(TWINS))
def twin(request):
    return request.param


def t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


rng = np.random.default_rng(0)
finite = st.floats(-30, 30, allow_nan=False, width=64)


# --- forward agreement with torch.nn.functional ---------------------------------------------------

def test_linear_matches_F_linear_with_and_without_bias(twin):
    X, W, b = rng.standard_normal((5, 4)), rng.standard_normal((3, 4)), rng.standard_normal(3)
    np.testing.assert_allclose(run(twin, "linear", X, W, b), F.linear(t(X), t(W), t(b)).numpy(), rtol=1e-12)
    np.testing.assert_allclose(run(twin, "linear", X, W), F.linear(t(X), t(W)).numpy(), rtol=1e-12)


@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), elements=finite))
def test_activations_match_torch_on_any_shape(X):
    for twin in TWINS:
        np.testing.assert_allclose(run(twin, "relu", X), F.relu(t(X)).numpy(), rtol=0, atol=0)
        np.testing.assert_allclose(run(twin, "sigmoid", X), torch.sigmoid(t(X)).numpy(), rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(run(twin, "tanh", X), torch.tanh(t(X)).numpy(), rtol=1e-12, atol=1e-15)


@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 7)), elements=finite),
       st.sampled_from([0, 1, -1]))
def test_softmax_and_log_softmax_match_torch(X, axis):
    for twin in TWINS:
        np.testing.assert_allclose(run(twin, "softmax", X, axis=axis), F.softmax(t(X), dim=axis).numpy(),
                                   rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(run(twin, "log_softmax", X, axis=axis), F.log_softmax(t(X), dim=axis).numpy(),
                                   rtol=1e-12, atol=1e-12)


@given(st.integers(1, 8), st.integers(2, 6), st.data())
def test_softmax_cross_entropy_matches_F_cross_entropy_and_autograd(n, k, data):
    logits = data.draw(hnp.arrays(np.float64, (n, k), elements=finite))
    labels = np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)), dtype=np.int64)
    L = t(logits).requires_grad_()
    ref = F.cross_entropy(L, t(labels))
    ref.backward()
    for twin in TWINS:
        loss, dlogits = run(twin, "softmax_cross_entropy", logits, labels)
        np.testing.assert_allclose(float(loss), ref.item(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dlogits, L.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_torch_twin_loss_is_differentiable_by_autograd():
    logits = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 2, 1, 2])
    loss, dlogits = tops.softmax_cross_entropy(logits, labels)
    loss.backward()
    assert not dlogits.requires_grad
    torch.testing.assert_close(logits.grad, dlogits)


def test_twins_keep_float32():
    X = rng.standard_normal((3, 4)).astype(np.float32)
    for twin in TWINS:
        for fname in ("relu", "sigmoid", "tanh", "softmax", "log_softmax"):
            assert run(twin, fname, X).dtype == np.float32, (twin, fname)
        assert run(twin, "softmax_cross_entropy", X, np.array([0, 1, 2]))[1].dtype == np.float32


# --- numerical stability ----------------------------------------------------------------------------

def test_huge_logits_do_not_overflow(twin):
    logits = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 1e4], [0.0, 0.0, 0.0]])
    labels = np.array([0, 0, 2])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        p = run(twin, "softmax", logits)
        loss, dlogits = run(twin, "softmax_cross_entropy", logits, labels)
    assert np.isfinite(p).all() and np.isfinite(dlogits).all() and np.isfinite(loss)
    np.testing.assert_allclose(p[0], [1, 0, 0], atol=1e-300)
    np.testing.assert_allclose(p[1], [0, 0.5, 0.5], atol=1e-300)
    # row 0 right with certainty (loss 0), row 1 wrong by 2e4 (loss 2e4 + log 2), row 2 uniform (log 3)
    np.testing.assert_allclose(float(loss), (0 + 2e4 + np.log(2) + np.log(3)) / 3, rtol=1e-12)


def test_sigmoid_saturates_without_overflow(twin):
    X = np.array([-1e4, -800.0, -30.0, 0.0, 30.0, 800.0, 1e4])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = run(twin, "sigmoid", X)
    np.testing.assert_allclose(s, torch.sigmoid(t(X)).numpy(), rtol=1e-12, atol=0)
    assert s[0] == 0.0 and s[-1] == 1.0 and s[3] == 0.5


# --- backward passes: central differences in float64 ----------------------------------------------

def test_linear_backward_passes_gradcheck():
    X, W, b = rng.standard_normal((4, 5)), rng.standard_normal((3, 5)), rng.standard_normal(3)
    G = rng.standard_normal((4, 3))
    dX, dW, db = nops.linear_backward(G, X, W, b)
    err = gradcheck(lambda X, W, b: (nops.linear(X, W, b) * G).sum(), [X, W, b], [dX, dW, db])
    assert err < 1e-7, err
    assert nops.linear_backward(G, X, W)[2] is None


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_smooth_activation_backward_passes_gradcheck(name):
    X, G = rng.standard_normal((3, 4, 5)) * 3, rng.standard_normal((3, 4, 5))
    dX = getattr(nops, f"{name}_backward")(G, X)
    err = gradcheck(lambda X: (getattr(nops, name)(X) * G).sum(), [X], [dX])
    assert err < 1e-7, err


def test_relu_backward_passes_gradcheck_away_from_the_kink():
    # ReLU has a kink at 0 where no derivative exists: a central difference straddling it returns
    # about 1/2 instead of 0 or 1.  Keep every entry at least 1e-3 from 0 (eps is 1e-6), and the
    # function is linear on each side: the check is then as exact as for a smooth function.
    X = rng.standard_normal((4, 6))
    X = np.where(np.abs(X) < 1e-3, 1e-3 * np.sign(X + 1e-12), X)
    G = rng.standard_normal(X.shape)
    err = gradcheck(lambda X: (nops.relu(X) * G).sum(), [X], [nops.relu_backward(G, X)])
    assert err < 1e-7, err


def test_relu_backward_at_the_kink_is_zero_like_torch():
    X = t(np.array([-1.0, 0.0, 2.0])).requires_grad_()
    F.relu(X).sum().backward()
    np.testing.assert_array_equal(nops.relu_backward(np.ones(3), X.detach().numpy()), X.grad.numpy())


def test_softmax_cross_entropy_gradient_passes_gradcheck():
    logits, labels = rng.standard_normal((5, 4)) * 4, np.array([0, 3, 1, 1, 2])
    _, dlogits = nops.softmax_cross_entropy(logits, labels)
    err = gradcheck(lambda z: nops.softmax_cross_entropy(z, labels)[0], [logits], [dlogits])
    assert err < 1e-7, err


def test_backward_functions_agree_with_autograd():
    X, G = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    for name, fn in (("relu", F.relu), ("sigmoid", torch.sigmoid), ("tanh", torch.tanh)):
        Xt = t(X).requires_grad_()
        fn(Xt).backward(t(G))
        np.testing.assert_allclose(getattr(nops, f"{name}_backward")(G, X), Xt.grad.numpy(), rtol=1e-12, atol=1e-15)


# --- errors name the problem ---------------------------------------------------------------------

@pytest.mark.parametrize("fname, args, match", [
    ("linear", (np.ones((2, 3)), np.ones((4, 5))), r"X has 3 features but W expects D_in = 5"),
    ("linear", (np.ones(3), np.ones((4, 3))), r"X must be 2-D"),
    ("linear", (np.ones((2, 3)), np.ones((4, 3)), np.ones(3)), r"b must have shape \(4,\)"),
    ("softmax_cross_entropy", (np.ones((2, 3)), np.array([0, 3])), r"labels must lie in \[0, 3\)"),
    ("softmax_cross_entropy", (np.ones((2, 3)), np.array([0, 1, 2])), r"labels must have shape \(2,\)"),
    ("softmax_cross_entropy", (np.ones(3), np.array([0])), r"logits must be 2-D"),
])
def test_bad_shapes_raise_value_error_naming_them(twin, fname, args, match):
    with pytest.raises(ValueError, match=match):
        run(twin, fname, *args)


def test_float_labels_raise_type_error(twin):
    with pytest.raises(TypeError, match="integer class indices"):
        run(twin, "softmax_cross_entropy", np.ones((2, 3)), np.array([0.0, 1.0]))


def test_backward_with_wrong_dY_shape_raises():
    with pytest.raises(ValueError, match="dY shape"):
        nops.relu_backward(np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"dY shape \(2, 5\)"):
        nops.linear_backward(np.ones((2, 5)), np.ones((2, 3)), np.ones((4, 3)))


# --- SGD with momentum and weight decay ----------------------------------------------------------

def test_sgd_follows_the_lecture_rule_step_by_step():
    w0, g = np.array([1.0, -2.0]), np.array([0.5, 0.25])
    params = {"w": w0.copy()}
    opt = SGD(params, lr=0.01, momentum=0.9, weight_decay=0.0005)
    v = np.zeros(2)
    w = w0.copy()
    for _ in range(3):
        opt.step({"w": g})
        v = 0.9 * v - 0.0005 * 0.01 * w - 0.01 * g
        w = w + v
        np.testing.assert_allclose(params["w"], w, rtol=1e-15)
        np.testing.assert_allclose(opt.velocities["w"], v, rtol=1e-15)


def test_sgd_matches_torch_optim_sgd_with_a_constant_learning_rate():
    params = {"a": rng.standard_normal((3, 2)), "b": rng.standard_normal(4)}
    torch_params = {k: t(v.copy()).requires_grad_() for k, v in params.items()}
    ours = SGD(params, lr=0.1, momentum=0.9, weight_decay=0.01)
    theirs = torch.optim.SGD(list(torch_params.values()), lr=0.1, momentum=0.9, weight_decay=0.01)
    for _ in range(5):
        grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
        ours.step(grads)
        for k, p in torch_params.items():
            p.grad = t(grads[k])
        theirs.step()
    for k in params:
        np.testing.assert_allclose(params[k], torch_params[k].detach().numpy(), rtol=1e-12, atol=1e-14)


def test_sgd_updates_in_place_and_checks_its_inputs():
    w = np.zeros(3)
    SGD({"w": w}, lr=1.0).step({"w": np.ones(3)})
    np.testing.assert_array_equal(w, -np.ones(3))  # the caller's array moved
    with pytest.raises(ValueError, match="missing"):
        sgd_step({"w": w}, {}, {}, lr=0.1)
    with pytest.raises(ValueError, match="shape"):
        sgd_step({"w": w}, {"w": np.ones(2)}, {}, lr=0.1)
    with pytest.raises(ValueError, match="momentum"):
        SGD({"w": w}, lr=0.1, momentum=1.5)
    with pytest.raises(TypeError, match="floating np.ndarray"):
        SGD({"w": np.zeros(3, dtype=int)}, lr=0.1)


def test_numpy_layers_do_not_import_torch():
    import subprocess
    import sys

    code = "import sys, dlcourse.numpy_ops, dlcourse.optim, dlcourse.numpy_lenet, dlcourse.data; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0, "a NumPy module imported torch"
