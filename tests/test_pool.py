"""Pooling (chapter 4) and its backward pass (chapter 6), in both twins.

Forward: both twins against ``torch.nn.functional.max_pool2d`` / ``avg_pool2d`` /
``adaptive_avg_pool2d(X, 1)`` on the lectures' examples and on hypothesis-generated cases.
Backward: ``max_pool2d_backward`` / ``avg_pool2d_backward`` against torch autograd (ties
included) and against central-difference numerical gradients in float64.
"""
from __future__ import annotations

import inspect
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from twins import as_pair, pool_cases

import dlcourse.numpy_ops
import dlcourse.torch_ops

POOL_FUNCTIONS = ("max_pool2d", "avg_pool2d", "global_avg_pool2d", "max_pool2d_backward", "avg_pool2d_backward")
TWINS = (dlcourse.numpy_ops, dlcourse.torch_ops)
TWIN_IDS = ("numpy_ops", "torch_ops")


def native(ops, value):
    """The twin's native input: numeric NumPy arrays become tensors for torch_ops."""
    if ops is dlcourse.torch_ops and isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return torch.from_numpy(np.ascontiguousarray(value))
    return value


def call(ops, fname, *args, **kwargs):
    """Run ``ops.fname`` on NumPy inputs; check the result's type and return it as NumPy."""
    out = getattr(ops, fname)(*(native(ops, a) for a in args), **kwargs)
    expected_type = np.ndarray if ops is dlcourse.numpy_ops else torch.Tensor
    assert isinstance(out, expected_type), f"{ops.__name__}.{fname} returned {type(out).__name__}"
    return out.detach().cpu().numpy() if isinstance(out, torch.Tensor) else out


@pytest.fixture(params=TWINS, ids=TWIN_IDS)
def ops(request):
    return request.param


def torch_forward(fname, X, **kwargs):
    """The torch.nn.functional reference on NumPy input, as NumPy."""
    Xt = torch.from_numpy(np.ascontiguousarray(X))
    if fname == "global_avg_pool2d":
        return F.adaptive_avg_pool2d(Xt, 1).numpy()
    return getattr(F, fname)(Xt, **kwargs).numpy()


def torch_backward(fname, dY, X, **kwargs):
    """dX from torch autograd through F.max_pool2d / F.avg_pool2d."""
    Xt = torch.tensor(X, requires_grad=True)
    getattr(F, fname)(Xt, **kwargs).backward(torch.from_numpy(dY))
    return Xt.grad.numpy()


def test_both_twins_export_the_pooling_functions_with_the_same_signatures():
    for name in POOL_FUNCTIONS:
        assert name in dlcourse.numpy_ops.__all__ and name in dlcourse.torch_ops.__all__, name
        np_fn, t_fn = getattr(dlcourse.numpy_ops, name), getattr(dlcourse.torch_ops, name)
        assert inspect.signature(np_fn) == inspect.signature(t_fn), name
    assert str(inspect.signature(dlcourse.numpy_ops.max_pool2d)) == "(X, kernel_size, stride=None, padding=0)"


# --- the lectures' examples --------------------------------------------------------------------

def test_lecture_3x3_example_max_is_4_and_average_is_2(ops):
    # Lecture 001: the top-left 2x2 window of [[0,1,2],[3,4,5],[6,7,8]] gives max(0,1,3,4) = 4.
    X = np.arange(9.0).reshape(1, 1, 3, 3)
    np.testing.assert_array_equal(call(ops, "max_pool2d", X, 2, stride=1), [[[[4, 5], [7, 8]]]])
    np.testing.assert_array_equal(call(ops, "avg_pool2d", X, 2, stride=1), [[[[2, 3], [5, 6]]]])


@pytest.mark.parametrize(
    "kwargs, expected_max",
    [
        (dict(kernel_size=3), [[10]]),  # stride defaults to the kernel size: one window fits
        (dict(kernel_size=2), [[5, 7], [13, 15]]),
        (dict(kernel_size=3, stride=2, padding=1), [[5, 7], [13, 15]]),
        (dict(kernel_size=(2, 3), stride=(2, 3), padding=(0, 1)), [[5, 7], [13, 15]]),
    ],
)
def test_4x4_example_with_padding_and_stride_matches_torch(ops, kwargs, expected_max):
    X = np.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(call(ops, "max_pool2d", X, **kwargs)[0, 0], expected_max)
    np.testing.assert_array_equal(call(ops, "max_pool2d", X, **kwargs), torch_forward("max_pool2d", X, **kwargs))
    np.testing.assert_allclose(call(ops, "avg_pool2d", X, **kwargs), torch_forward("avg_pool2d", X, **kwargs))


def test_average_pooling_counts_the_zero_padding(ops):
    # torch's default count_include_pad=True: a corner window of ones holds one real 1 of 4 cells.
    out = call(ops, "avg_pool2d", np.ones((1, 1, 2, 2)), 2, stride=1, padding=1)
    np.testing.assert_array_equal(out[0, 0], [[0.25, 0.5, 0.25], [0.5, 1, 0.5], [0.25, 0.5, 0.25]])


# Lecture 002's max-pooling slide: a 7x7 feature map, 2x2 windows, stride 2.
SLIDE_X = np.array([
    [0.77, -0.11, 0.11, 0.33, 0.55, -0.11, 0.33],
    [-0.11, 1.00, -0.11, 0.33, -0.11, 0.11, -0.11],
    [0.11, -0.11, 1.00, -0.33, 0.11, -0.11, 0.55],
    [0.33, 0.33, -0.33, 0.55, -0.33, 0.33, 0.33],
    [0.55, -0.11, 0.11, -0.33, 1.00, -0.11, 0.11],
    [-0.11, 0.11, -0.11, 0.33, -0.11, 1.00, -0.11],
    [0.33, -0.11, 0.55, 0.33, 0.11, -0.11, 0.77],
])
SLIDE_Y = np.array([
    [1.00, 0.33, 0.55, 0.33],
    [0.33, 1.00, 0.33, 0.55],
    [0.55, 0.33, 1.00, 0.11],
    [0.33, 0.55, 0.11, 0.77],
])


def test_slide_7x7_example_floor_mode_and_the_slides_ragged_last_window(ops):
    X = SLIDE_X[None, None]
    # Like torch's default (ceil_mode=False), the last, half-empty window is dropped: 3x3 out.
    np.testing.assert_array_equal(call(ops, "max_pool2d", X, 2)[0, 0], SLIDE_Y[:3, :3])
    # The slide keeps it (4x4, torch's ceil_mode=True): the same as padding the bottom and
    # right edges with -inf, which can never be the maximum.
    ragged = np.pad(X, [(0, 0), (0, 0), (0, 1), (0, 1)], constant_values=-np.inf)
    np.testing.assert_array_equal(call(ops, "max_pool2d", ragged, 2)[0, 0], SLIDE_Y)
    np.testing.assert_array_equal(SLIDE_Y, torch_forward("max_pool2d", X, kernel_size=2, ceil_mode=True)[0, 0])


def test_pooling_keeps_the_number_of_channels_and_pools_each_on_its_own(ops):
    X = np.arange(16.0).reshape(1, 1, 4, 4)
    X2 = np.concatenate([X, X + 1], axis=1)  # (1, 2, 4, 4), as d2l
    for fname in ("max_pool2d", "avg_pool2d"):
        out = call(ops, fname, X2, 3, padding=1, stride=2)
        assert out.shape == (1, 2, 2, 2), f"{fname} must keep 2 channels, got shape {out.shape}"
        np.testing.assert_array_equal(out[:, 1:], call(ops, fname, X + 1, 3, padding=1, stride=2))
        np.testing.assert_array_equal(out[:, :1], call(ops, fname, X, 3, padding=1, stride=2))
    out = call(ops, "global_avg_pool2d", X2)
    np.testing.assert_array_equal(out, [[[[7.5]], [[8.5]]]])


def test_max_pooling_tolerates_a_one_pixel_shift_of_a_vertical_edge(ops):
    # Lecture 001 / d2l: the edge detector [1, -1] on a white-black-white image fires exactly at
    # the edges, so moving the image by one pixel moves every response by one pixel too.
    def edges(first_black):
        X = np.ones((6, 8))
        X[:, first_black : first_black + 4] = 0
        return call(ops, "corr2d", X, np.array([[1.0, -1.0]]))[None, None]  # (1, 1, 6, 7)

    Y, Y_shifted = edges(2), edges(3)
    assert (Y[..., 1] == 1).all() and (Y_shifted[..., 2] == 1).all()
    assert not np.any((Y == 1) & (Y_shifted == 1)), "the raw responses never coincide"
    # After 2x2 max pooling (stride 1) both images respond at column 1, at full strength ...
    P, P_shifted = call(ops, "max_pool2d", Y, 2, stride=1), call(ops, "max_pool2d", Y_shifted, 2, stride=1)
    assert (P[..., 1] == 1).all() and (P_shifted[..., 1] == 1).all()
    # ... while average pooling also sees both, but halves the signal.
    A, A_shifted = call(ops, "avg_pool2d", Y, 2, stride=1), call(ops, "avg_pool2d", Y_shifted, 2, stride=1)
    assert (A[..., 1] == 0.5).all() and (A_shifted[..., 1] == 0.5).all()


# --- hypothesis: agreement with torch.nn.functional -------------------------------------------

@given(case=pool_cases())
def test_max_and_avg_pool2d_match_torch_float32(case):
    shape, kwargs, seed = case
    X = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    expected_max, expected_avg = torch_forward("max_pool2d", X, **kwargs), torch_forward("avg_pool2d", X, **kwargs)
    for ops in TWINS:
        out = call(ops, "max_pool2d", X, **kwargs)
        assert out.dtype == np.float32 and out.shape == expected_max.shape, (out.dtype, out.shape)
        np.testing.assert_array_equal(out, expected_max)  # a maximum is exact
        out = call(ops, "avg_pool2d", X, **kwargs)
        assert out.dtype == np.float32 and out.shape == expected_avg.shape, (out.dtype, out.shape)
        np.testing.assert_allclose(out, expected_avg, rtol=1e-5, atol=1e-6)


@given(n=st.integers(1, 3), c=st.integers(1, 4), h=st.integers(1, 9), w=st.integers(1, 9), seed=st.integers(0, 2**32 - 1))
def test_global_avg_pool2d_matches_adaptive_avg_pool2d_to_1(n, c, h, w, seed):
    X = np.random.default_rng(seed).standard_normal((n, c, h, w)).astype(np.float32)
    expected = torch_forward("global_avg_pool2d", X)
    for ops in TWINS:
        out = call(ops, "global_avg_pool2d", X)
        assert out.shape == (n, c, 1, 1) and out.dtype == np.float32
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_input_gives_integer_output_as_torch(ops, dtype):
    # Max pooling is exact; torch's integer average pooling rounds the mean toward zero
    # (-5 / 4 -> -1, 5 / 4 -> 1), and so do both twins.
    X = np.array([[[[-1, -2, 1, 2], [-1, -1, 1, 1], [7, 0, 3, 3], [0, 0, 3, 3]]]], dtype=dtype)
    for fname, expected in [("max_pool2d", [[-1, 2], [7, 3]]), ("avg_pool2d", [[-1, 1], [1, 3]])]:
        out = call(ops, fname, X, 2)
        assert out.dtype == dtype, f"{fname} turned {np.dtype(dtype)} into {out.dtype}"
        np.testing.assert_array_equal(out[0, 0], expected)
        np.testing.assert_array_equal(out, torch_forward(fname, X.astype(np.int64), kernel_size=2))
    np.testing.assert_array_equal(call(ops, "max_pool2d", X, 3, stride=1, padding=1),
                                  torch_forward("max_pool2d", X.astype(np.int64), kernel_size=3, stride=1, padding=1))
    np.testing.assert_array_equal(call(ops, "global_avg_pool2d", X)[0, 0], [[1]])  # 19 / 16


def test_boolean_input_is_pooled_as_0_and_1(ops):
    X = np.eye(4, dtype=bool)[None, None]
    np.testing.assert_array_equal(call(ops, "max_pool2d", X, 2)[0, 0], [[1, 0], [0, 1]])
    np.testing.assert_array_equal(call(ops, "avg_pool2d", X.astype(float), 2)[0, 0], [[0.5, 0], [0, 0.5]])


def test_empty_batch_gives_empty_output(ops):
    for fname in ("max_pool2d", "avg_pool2d"):
        assert call(ops, fname, np.zeros((0, 3, 5, 5)), 2).shape == (0, 3, 2, 2)
    for fname in ("max_pool2d_backward", "avg_pool2d_backward"):
        assert call(ops, fname, np.zeros((0, 3, 2, 2)), np.zeros((0, 3, 5, 5)), 2).shape == (0, 3, 5, 5)


# --- backward: against torch autograd ---------------------------------------------------------

@given(case=pool_cases(), ties=st.booleans())
def test_max_pool2d_backward_matches_torch_autograd_ties_included(case, ties):
    shape, kwargs, seed = case
    rng = np.random.default_rng(seed)
    # Small integers make ties common: the gradient must go where torch sends it (first max).
    X = rng.integers(-2, 3, shape).astype(np.float64) if ties else rng.standard_normal(shape)
    dY = rng.standard_normal(torch_forward("max_pool2d", X, **kwargs).shape)
    expected = torch_backward("max_pool2d", dY, X, **kwargs)
    for ops in TWINS:
        np.testing.assert_allclose(call(ops, "max_pool2d_backward", dY, X, **kwargs), expected, rtol=1e-12, atol=1e-12)
    # The torch twin's forward is differentiable and routes the gradient the same way.
    Xt = torch.tensor(X, requires_grad=True)
    dlcourse.torch_ops.max_pool2d(Xt, **kwargs).backward(torch.from_numpy(dY))
    np.testing.assert_allclose(Xt.grad.numpy(), expected, rtol=1e-12, atol=1e-12)


@given(case=pool_cases())
def test_avg_pool2d_backward_matches_torch_autograd(case):
    shape, kwargs, seed = case
    rng = np.random.default_rng(seed)
    X = rng.standard_normal(shape)
    dY = rng.standard_normal(torch_forward("avg_pool2d", X, **kwargs).shape)
    expected = torch_backward("avg_pool2d", dY, X, **kwargs)
    for ops in TWINS:
        np.testing.assert_allclose(call(ops, "avg_pool2d_backward", dY, X, **kwargs), expected, rtol=1e-12, atol=1e-12)
    Xt = torch.tensor(X, requires_grad=True)
    dlcourse.torch_ops.avg_pool2d(Xt, **kwargs).backward(torch.from_numpy(dY))
    np.testing.assert_allclose(Xt.grad.numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "X, kwargs, expected_dX",
    [
        # every entry ties: the whole window's gradient goes to its first (top-left) entry
        (np.ones((2, 2)), dict(kernel_size=2), [[1, 0], [0, 0]]),
        # overlapping windows that tie: each takes its own first maximum
        (np.array([[1.0, 3, 3], [3, 1, 3]]), dict(kernel_size=2, stride=1), [[0, 2, 0], [0, 0, 0]]),
        # NaN wins, and torch keeps the last NaN of the window
        (np.array([[np.nan, 1], [np.nan, 2]]), dict(kernel_size=2), [[0, 0], [1, 0]]),
        # all -inf: the -inf padding never takes the gradient; the window's first real entry does
        (np.full((2, 2), -np.inf), dict(kernel_size=2, stride=1, padding=1), [[4, 2], [2, 1]]),
    ],
    ids=["all-equal", "overlapping-ties", "nan", "minus-inf-and-padding"],
)
def test_max_pool2d_backward_picks_the_same_winner_as_torch(ops, X, kwargs, expected_dX):
    X = X[None, None]
    dY = np.ones(torch_forward("max_pool2d", X, **kwargs).shape)
    dX = call(ops, "max_pool2d_backward", dY, X, **kwargs)
    np.testing.assert_array_equal(dX[0, 0], expected_dX)
    np.testing.assert_array_equal(dX, torch_backward("max_pool2d", dY, X, **kwargs))
    np.testing.assert_array_equal(call(ops, "max_pool2d", X, **kwargs), torch_forward("max_pool2d", X, **kwargs))


def test_overlapping_windows_add_their_gradients(ops):
    # Lecture 004: when windows overlap, an input that feeds several outputs collects their sum.
    X = np.array([[1.0, 2, 3], [4, 9, 5], [6, 7, 8]])[None, None]  # 9 is the max of all 4 windows
    dY = np.array([[1.0, 10], [100, 1000]])[None, None]
    dX = call(ops, "max_pool2d_backward", dY, X, 2, stride=1)
    np.testing.assert_array_equal(dX[0, 0], [[0, 0, 0], [0, 1111, 0], [0, 0, 0]])
    dX = call(ops, "avg_pool2d_backward", np.ones((1, 1, 2, 2)), X, 2, stride=1)
    np.testing.assert_array_equal(dX[0, 0], np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 4)
    # Non-overlapping windows (stride = kernel) never add: each entry belongs to one window.
    dX = call(ops, "avg_pool2d_backward", np.ones((1, 1, 1, 1)), X, 2)
    np.testing.assert_array_equal(dX[0, 0], [[0.25, 0.25, 0], [0.25, 0.25, 0], [0, 0, 0]])


# --- backward: against central differences in float64 -----------------------------------------

def numerical_gradient(f, X, dY, eps=1e-5):
    """Central differences of ``L(X) = sum(f(X) * dY)``, one entry of ``X`` at a time."""
    X = X.copy()
    grad = np.zeros_like(X)
    for index in np.ndindex(X.shape):
        saved = X[index]
        X[index] = saved + eps
        plus = np.sum(f(X) * dY)
        X[index] = saved - eps
        minus = np.sum(f(X) * dY)
        X[index] = saved
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def relative_error(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


GRAD_CASES = [
    ((2, 2, 4, 4), dict(kernel_size=2)),
    ((1, 3, 5, 6), dict(kernel_size=3, stride=1, padding=1)),
    ((2, 1, 6, 5), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0))),
    ((1, 2, 5, 5), dict(kernel_size=2, stride=3)),
    ((1, 1, 7, 7), dict(kernel_size=(4, 3), stride=(1, 2), padding=(2, 1))),
]


@pytest.mark.parametrize("fname", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("shape, kwargs", GRAD_CASES, ids=[str(c[1]) for c in GRAD_CASES])
def test_backward_matches_central_differences_float64(fname, shape, kwargs):
    rng = np.random.default_rng(0)
    if fname == "max_pool2d":
        # Max pooling is piecewise linear: its derivative jumps (a kink) wherever two entries of
        # a window tie, and a central difference that straddles a kink averages the two sides.
        # Distinct values 0.1 apart, with steps of 1e-5, keep every difference on one linear
        # piece, so the numerical gradient is exact up to rounding, as for average pooling.
        X = rng.permutation(np.prod(shape)).reshape(shape) * 0.1
    else:
        X = rng.standard_normal(shape)
    forward = getattr(dlcourse.numpy_ops, fname)
    dY = rng.standard_normal(forward(X, **kwargs).shape)
    numerical = numerical_gradient(lambda Z: forward(Z, **kwargs), X, dY)
    for ops in TWINS:
        analytic = call(ops, f"{fname}_backward", dY, X, **kwargs)
        assert analytic.dtype == np.float64
        error = relative_error(analytic, numerical)
        assert error <= 1e-7, f"{ops.__name__}.{fname}_backward: relative error {error:.2e} > 1e-7"


@pytest.mark.parametrize("fname", ["max_pool2d", "avg_pool2d", "global_avg_pool2d"])
def test_torch_twin_forward_passes_gradcheck(fname):
    gen = torch.Generator().manual_seed(0)
    # distinct values (no ties, so no kink near the point max pooling is checked at)
    X = (torch.randperm(2 * 3 * 5 * 5, generator=gen).reshape(2, 3, 5, 5) * 0.1).double().requires_grad_()
    fn = getattr(dlcourse.torch_ops, fname)
    kwargs = {} if fname == "global_avg_pool2d" else dict(kernel_size=3, stride=(1, 2), padding=1)
    assert torch.autograd.gradcheck(lambda t: fn(t, **kwargs), (X,), eps=1e-6, atol=1e-7, rtol=1e-7)


def test_float32_stays_float32_and_torch_stays_on_its_device():
    X = torch.randn(2, 3, 6, 6)
    for fname in ("max_pool2d", "avg_pool2d"):
        Y = getattr(dlcourse.torch_ops, fname)(X, 2)
        assert (Y.dtype, Y.device, tuple(Y.shape)) == (torch.float32, X.device, (2, 3, 3, 3))
        dX = getattr(dlcourse.torch_ops, f"{fname}_backward")(torch.ones_like(Y), X, 2)
        assert (dX.dtype, dX.device, dX.shape) == (torch.float32, X.device, X.shape)
        dX = getattr(dlcourse.numpy_ops, f"{fname}_backward")(np.ones(Y.shape, np.float32), X.numpy(), 2)
        assert dX.dtype == np.float32
    assert dlcourse.torch_ops.global_avg_pool2d(X).dtype == torch.float32


def test_torch_twin_backward_refuses_inputs_on_different_devices():
    X, dY = torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 2, 2, device="meta")
    for fname in ("max_pool2d_backward", "avg_pool2d_backward"):
        with pytest.raises(ValueError, match=r"one device.*dY on meta.*X on cpu"):
            getattr(dlcourse.torch_ops, fname)(dY, X, 2)


# --- errors -----------------------------------------------------------------------------------

Z = np.zeros
ERROR_CASES = [
    # (function, args, kwargs, error, fragments the message must contain)
    ("max_pool2d", (Z((2, 3, 3)), 2), {}, ValueError, ["X must be 4-D", "(2, 3, 3)"]),
    ("avg_pool2d", (Z((3, 3)), 2), {}, ValueError, ["X must be 4-D", "(3, 3)"]),
    ("avg_pool2d", (Z((1, 1, 3, 3)), 0), {}, ValueError, ["kernel_size", "0"]),
    ("max_pool2d", (Z((1, 1, 3, 3)), 2.0), {}, TypeError, ["kernel_size", "2.0"]),
    ("avg_pool2d", (Z((1, 1, 3, 3)), (2, 2, 2)), {}, TypeError, ["kernel_size", "(2, 2, 2)"]),
    ("max_pool2d", (Z((1, 1, 3, 3)), 2), dict(stride=0), ValueError, ["stride", "0"]),
    ("avg_pool2d", (Z((1, 1, 3, 3)), 2), dict(stride=True), TypeError, ["stride", "True"]),
    ("max_pool2d", (Z((1, 1, 3, 3)), 2), dict(padding=-1), ValueError, ["padding", "-1"]),
    ("max_pool2d", (Z((1, 1, 5, 5)), 3), dict(padding=2), ValueError, ["padding (2, 2)", "half of kernel_size (3, 3)"]),
    ("avg_pool2d", (Z((1, 1, 5, 5)), (3, 1)), dict(padding=(1, 1)), ValueError, ["padding (1, 1)", "kernel_size (3, 1)"]),
    ("max_pool2d", (Z((1, 1, 3, 3)), 4), {}, ValueError, ["X shape (1, 1, 3, 3)", "kernel_size (4, 4)", "larger"]),
    ("avg_pool2d", (Z((1, 1, 3, 3)), (2, 6)), dict(padding=(0, 1)), ValueError, ["(1, 1, 3, 3)", "padded input of size 5"]),
    ("max_pool2d", (np.full((1, 1, 2, 2), "x"), 1), {}, TypeError, ["X"]),
    ("max_pool2d", (Z((1, 1, 2, 2), dtype=complex), 1), {}, TypeError, ["real", "complex"]),
    ("global_avg_pool2d", (Z((3, 3)),), {}, ValueError, ["X must be 4-D", "(3, 3)"]),
    ("global_avg_pool2d", (Z((1, 1, 0, 3)),), {}, ValueError, ["(1, 1, 0, 3)"]),
    ("global_avg_pool2d", (np.full((1, 1, 2, 2), "x"),), {}, TypeError, ["X"]),
    ("max_pool2d_backward", (Z((1, 1, 2, 2)), Z((1, 1, 4, 4)), 2), dict(stride=1), ValueError,
     ["dY shape (1, 1, 2, 2)", "(1, 1, 3, 3)", "X shape (1, 1, 4, 4)"]),
    ("max_pool2d_backward", (Z((1, 1, 2, 2)), Z((1, 4, 4)), 2), {}, ValueError, ["X must be 4-D", "(1, 4, 4)"]),
    ("max_pool2d_backward", (np.full((1, 1, 2, 2), "g"), Z((1, 1, 4, 4)), 2), {}, TypeError, ["dY"]),
    ("avg_pool2d_backward", (Z((1, 2, 2)), Z((1, 1, 4, 4)), 2), {}, ValueError, ["dY shape (1, 2, 2)", "(1, 1, 2, 2)"]),
    ("avg_pool2d_backward", (Z((1, 1, 2, 2)), Z((1, 1, 4, 4)), 2), dict(padding=3), ValueError, ["padding", "half"]),
]


@pytest.mark.parametrize(
    "fname, args, kwargs, error, fragments", ERROR_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(ERROR_CASES)],
)
def test_bad_input_raises_clear_error_naming_shapes_and_values(ops, fname, args, kwargs, error, fragments):
    with pytest.raises(error) as info:
        getattr(ops, fname)(*(native(ops, a) for a in args), **kwargs)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{ops.__name__}.{fname}: {fragment!r} missing from {message!r}"
    assert not re.search(r"broadcast|operands could not|unfold", message), message


def test_every_pooling_function_has_error_cases():
    assert {case[0] for case in ERROR_CASES} == set(POOL_FUNCTIONS)


# --- GPU --------------------------------------------------------------------------------------

@pytest.mark.gpu
def test_torch_twin_pools_on_cuda_like_F():
    X = torch.randn(4, 8, 15, 13, device="cuda", requires_grad=True)
    kwargs = dict(kernel_size=3, stride=2, padding=1)
    for fname in ("max_pool2d", "avg_pool2d"):
        Y = getattr(dlcourse.torch_ops, fname)(X, **kwargs)
        assert Y.device.type == "cuda"
        torch.testing.assert_close(Y, getattr(F, fname)(X, **kwargs))
        (dX,) = torch.autograd.grad(Y.sum(), X)
        (ref,) = torch.autograd.grad(getattr(F, fname)(X, **kwargs).sum(), X)
        torch.testing.assert_close(dX, ref)
        torch.testing.assert_close(getattr(dlcourse.torch_ops, f"{fname}_backward")(torch.ones_like(Y), X.detach(), **kwargs), ref)
    torch.testing.assert_close(dlcourse.torch_ops.global_avg_pool2d(X), F.adaptive_avg_pool2d(X, 1))
