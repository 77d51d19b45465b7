"""The NumPy and PyTorch twins of chapters 1-3, run on the same cases and against F.conv2d.

Every test that takes the ``twin`` fixture runs once per twin.  A twin adapter turns the NumPy
inputs of a case into the twin's native type (``np.ndarray`` or ``torch.Tensor``), checks that
the result comes back in that type, and hands it back as an ``np.ndarray`` for comparison.
"""
from __future__ import annotations

import inspect
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from twins import TWIN_NAMES, Twin, twin  # noqa: F401  (twin is a fixture)

import dlcourse.numpy_ops
import dlcourse.torch_ops

FUNCTIONS = ("corr2d_loops", "corr2d", "corr2d_multi_in", "corr2d_multi_in_out", "conv1x1", "pad2d", "conv2d")




def reference_conv2d(X, W, b=None, **kwargs):
    """torch.nn.functional.conv2d on numpy inputs, as numpy."""
    t = lambda a: None if a is None else torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    return F.conv2d(t(X), t(W), t(b), **kwargs).numpy()


def assert_matches(actual, expected, dtype):
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"dtype {actual.dtype} != {expected.dtype}"
    if dtype == np.float32:
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4)
    else:
        np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-10)


# --- the twins rule ----------------------------------------------------------------------------

def test_twins_export_the_same_names_with_the_same_signatures():
    # The only exception: the NumPy twin's im2col and hand-written backward passes, which the
    # torch twin gets from autograd.  They must be declared, documented and really NumPy-only.
    numpy_only = set(dlcourse.numpy_ops.NUMPY_ONLY)
    assert numpy_only <= set(dlcourse.numpy_ops.__all__)
    assert not numpy_only & set(dlcourse.torch_ops.__all__)
    for name in numpy_only:
        assert getattr(dlcourse.numpy_ops, name).__doc__, f"{name} needs a docstring"
    shared = [name for name in dlcourse.numpy_ops.__all__ if name not in numpy_only]
    assert shared == dlcourse.torch_ops.__all__
    for name in shared:
        np_fn, t_fn = getattr(dlcourse.numpy_ops, name), getattr(dlcourse.torch_ops, name)
        assert inspect.signature(np_fn) == inspect.signature(t_fn), name
        assert np_fn.__doc__ and t_fn.__doc__, f"{name} needs a docstring in both twins"


def test_numpy_twin_does_not_import_torch():
    code = "import sys, dlcourse.numpy_ops; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0, "numpy_ops imported torch"


# --- fixed cases from the lectures -------------------------------------------------------------

LECTURE_X = np.arange(9).reshape(3, 3)
LECTURE_K = np.arange(4).reshape(2, 2)
LECTURE_Y = np.array([[19, 25], [37, 43]])

D2L_X = np.array([[[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[1, 2, 3], [4, 5, 6], [7, 8, 9]]])
D2L_K = np.array([[[0, 1], [2, 3]], [[1, 2], [3, 4]]])


@pytest.mark.parametrize("fname", ["corr2d_loops", "corr2d"])
def test_corr2d_lecture_worked_example(twin, fname):
    np.testing.assert_array_equal(twin(fname, LECTURE_X, LECTURE_K), LECTURE_Y)
    np.testing.assert_array_equal(twin(fname, LECTURE_X.astype(float), LECTURE_K.astype(float)), LECTURE_Y)


@pytest.mark.parametrize("fname", ["corr2d_loops", "corr2d"])
def test_corr2d_detects_vertical_edges(twin, fname):
    X = np.ones((6, 8))
    X[:, 2:6] = 0
    expected = np.zeros((6, 7))
    expected[:, 1], expected[:, 5] = 1, -1
    np.testing.assert_array_equal(twin(fname, X, np.array([[1.0, -1.0]])), expected)
    np.testing.assert_array_equal(twin(fname, X.T, np.array([[1.0, -1.0]])), np.zeros((8, 5)))


@pytest.mark.parametrize(
    "fname, args",
    [
        ("corr2d_loops", (LECTURE_X, LECTURE_K)),
        ("corr2d", (LECTURE_X, LECTURE_K)),
        ("corr2d_multi_in", (D2L_X, D2L_K)),
        ("corr2d_multi_in_out", (D2L_X, np.stack([D2L_K, D2L_K + 1]))),
        ("conv1x1", (D2L_X, np.arange(6).reshape(3, 2, 1, 1))),
        ("pad2d", (LECTURE_X, 1)),
        ("conv2d", (D2L_X[None], D2L_K[None], np.array([3]))),
    ],
)
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_inputs_give_exact_integer_results(twin, fname, args, dtype):
    arrays = [a.astype(dtype) if isinstance(a, np.ndarray) else a for a in args]
    if fname == "conv2d":
        out = twin(fname, arrays[0], arrays[1], b=arrays[2])
    else:
        out = twin(fname, *arrays)
    assert np.issubdtype(out.dtype, np.integer), f"{twin}.{fname} turned {dtype.__name__} into {out.dtype}"
    floats = [a.astype(np.float64) if isinstance(a, np.ndarray) else a for a in args]
    if fname == "conv2d":
        expected = twin(fname, floats[0], floats[1], b=floats[2])
    else:
        expected = twin(fname, *floats)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("fname", ["corr2d_loops", "corr2d"])
def test_boolean_inputs_count_matches_instead_of_saturating(twin, fname):
    X = np.ones((3, 3), dtype=bool)
    out = twin(fname, X, np.ones((2, 2), dtype=bool))
    np.testing.assert_array_equal(out, np.full((2, 2), 4))


def test_corr2d_multi_in_d2l_example(twin):
    np.testing.assert_array_equal(twin("corr2d_multi_in", D2L_X, D2L_K), [[56, 72], [104, 120]])


def test_corr2d_multi_in_out_d2l_example_with_stacked_kernels(twin):
    K = np.stack([D2L_K, D2L_K + 1, D2L_K + 2])  # (3, 2, 2, 2)
    out = twin("corr2d_multi_in_out", D2L_X, K)
    expected = [[[56, 72], [104, 120]], [[76, 100], [148, 172]], [[96, 128], [192, 224]]]
    np.testing.assert_array_equal(out, expected)
    for o in range(3):
        np.testing.assert_array_equal(out[o], twin("corr2d_multi_in", D2L_X, K[o]))


@given(c=st.integers(1, 4), o=st.integers(1, 4), h=st.integers(1, 6), w=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_conv1x1_equals_corr2d_multi_in_out_with_1x1_kernels(c, o, h, w, seed):
    rng = np.random.default_rng(seed)
    X, K = rng.standard_normal((c, h, w)), rng.standard_normal((o, c, 1, 1))
    for twin in map(Twin, TWIN_NAMES):
        expected = twin("corr2d_multi_in_out", X, K)
        np.testing.assert_allclose(twin("conv1x1", X, K), expected, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(twin("conv1x1", X, K[:, :, 0, 0]), expected, rtol=1e-12, atol=1e-12)


@given(h=st.integers(1, 7), w=st.integers(1, 7), kh=st.integers(1, 7), kw=st.integers(1, 7), seed=st.integers(0, 2**32 - 1))
def test_corr2d_loops_equals_corr2d_and_conv2d(h, w, kh, kw, seed):
    kh, kw = min(kh, h), min(kw, w)
    rng = np.random.default_rng(seed)
    X, K = rng.standard_normal((h, w)), rng.standard_normal((kh, kw))
    expected = reference_conv2d(X[None, None], K[None, None])[0, 0]
    for twin in map(Twin, TWIN_NAMES):
        loops, vectorized = twin("corr2d_loops", X, K), twin("corr2d", X, K)
        np.testing.assert_allclose(loops, vectorized, rtol=1e-12, atol=1e-12)
        assert_matches(vectorized, expected, np.float64)
        assert_matches(twin("conv2d", X[None, None], K[None, None])[0, 0], expected, np.float64)


@given(c=st.integers(1, 4), o=st.integers(1, 4), h=st.integers(1, 7), w=st.integers(1, 7),
       kh=st.integers(1, 4), kw=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_multi_channel_corr2d_matches_torch_conv2d(c, o, h, w, kh, kw, seed):
    kh, kw = min(kh, h), min(kw, w)
    rng = np.random.default_rng(seed)
    X, K = rng.standard_normal((c, h, w)), rng.standard_normal((o, c, kh, kw))
    expected = reference_conv2d(X[None], K)[0]
    for twin in map(Twin, TWIN_NAMES):
        assert_matches(twin("corr2d_multi_in_out", X, K), expected, np.float64)
        assert_matches(twin("corr2d_multi_in", X, K[0]), expected[0], np.float64)


@pytest.mark.parametrize("padding", [0, 1, 2, (0, 3), (2, 0)])
def test_pad2d_adds_zeros_on_each_side_like_F_pad(twin, padding):
    X = np.arange(1, 2 * 3 * 4 + 1, dtype=np.float32).reshape(2, 3, 4)
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    out = twin("pad2d", X, padding)
    expected = F.pad(torch.from_numpy(X), (pw, pw, ph, ph)).numpy()
    assert_matches(out, expected, np.float32)
    assert out.dtype == np.float32


# --- property-based agreement with torch.nn.functional.conv2d ------------------------------

def int_or_pair(values):
    return st.one_of(values, st.tuples(values, values))


@st.composite
def conv2d_cases(draw):
    groups = draw(st.integers(1, 3))
    c = groups * draw(st.integers(1, 3))
    o = groups * draw(st.integers(1, 3))
    n = draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = draw(int_or_pair(st.integers(1, 3)))
    padding = draw(int_or_pair(st.integers(0, 2)))
    dilation = draw(int_or_pair(st.integers(1, 3)))
    as_pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    (ph, pw), (dh, dw) = as_pair(padding), as_pair(dilation)
    h = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 10))
    w = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 10))
    bias = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    return dict(shapes=((n, c, h, w), (o, c // groups, kh, kw), (o,) if bias else None),
                kwargs=dict(stride=stride, padding=padding, dilation=dilation, groups=groups), seed=seed)


def _draw_arrays(case, dtype):
    rng = np.random.default_rng(case["seed"])
    return [None if s is None else rng.standard_normal(s).astype(dtype) for s in case["shapes"]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@given(case=conv2d_cases())
def test_conv2d_matches_torch_conv2d(dtype, case):
    X, W, b = _draw_arrays(case, dtype)
    expected = reference_conv2d(X, W, b, **case["kwargs"])
    for twin in map(Twin, TWIN_NAMES):
        assert_matches(twin("conv2d", X, W, b=b, **case["kwargs"]), expected, dtype)


def test_conv2d_accepts_lists_and_mixed_pair_arguments(twin):
    X = np.arange(2 * 2 * 5 * 6, dtype=np.float64).reshape(2, 2, 5, 6)
    W = np.linspace(-1, 1, 4 * 1 * 3 * 2).reshape(4, 1, 3, 2)
    kwargs = dict(stride=[2, 1], padding=(1, 0), dilation=(1, 2), groups=2)
    out = twin("conv2d", X, W, b=np.arange(4.0), **kwargs)
    assert_matches(out, reference_conv2d(X, W, np.arange(4.0), **kwargs), np.float64)


def test_conv2d_with_empty_batch_gives_empty_output(twin):
    out = twin("conv2d", np.zeros((0, 2, 5, 5)), np.zeros((3, 2, 3, 3)), padding=1)
    assert out.shape == (0, 3, 5, 5)


# --- error cases: every function, both twins ---------------------------------------------------

Z = np.zeros
ERROR_CASES = [
    # (function, args, kwargs, error, fragments the message must contain)
    ("corr2d_loops", (Z((2, 3, 3)), Z((2, 2))), {}, ValueError, ["X must be 2-D", "(2, 3, 3)"]),
    ("corr2d_loops", (Z((3, 3)), Z(2)), {}, ValueError, ["K must be 2-D", "(2,)"]),
    ("corr2d_loops", (Z((3, 3)), Z((4, 2))), {}, ValueError, ["(4, 2)", "(3, 3)", "larger"]),
    ("corr2d_loops", (Z((3, 3)), Z((0, 2))), {}, ValueError, ["(0, 2)"]),
    ("corr2d_loops", (np.array([["a", "b"], ["c", "d"]]), Z((1, 1))), {}, TypeError, ["X"]),
    ("corr2d", (Z((2, 3, 3)), Z((2, 2))), {}, ValueError, ["X must be 2-D", "(2, 3, 3)"]),
    ("corr2d", (Z((3, 3)), Z((1, 2, 2))), {}, ValueError, ["K must be 2-D", "(1, 2, 2)"]),
    ("corr2d", (Z((3, 3)), Z((2, 5))), {}, ValueError, ["(2, 5)", "(3, 3)", "larger"]),
    ("corr2d", (Z((3, 3)), Z((2, 0))), {}, ValueError, ["(2, 0)"]),
    ("corr2d", (np.array([[None, 1]], dtype=object), Z((1, 1))), {}, TypeError, ["X"]),
    ("corr2d", (Z((3, 3)), "kernel"), {}, TypeError, ["K"]),
    ("corr2d_multi_in", (Z((3, 3)), Z((1, 2, 2))), {}, ValueError, ["X must be 3-D", "(3, 3)"]),
    ("corr2d_multi_in", (Z((2, 3, 3)), Z((2, 2))), {}, ValueError, ["K must be 3-D", "(2, 2)"]),
    ("corr2d_multi_in", (Z((2, 3, 3)), Z((3, 2, 2))), {}, ValueError, ["channel mismatch", "(2, 3, 3)", "(3, 2, 2)"]),
    ("corr2d_multi_in", (Z((2, 3, 3)), Z((2, 4, 2))), {}, ValueError, ["(2, 4, 2)", "(2, 3, 3)", "larger"]),
    ("corr2d_multi_in", (Z((2, 3, 3)), np.full((2, 2, 2), "x")), {}, TypeError, ["K"]),
    ("corr2d_multi_in_out", (Z((1, 2, 3, 3)), Z((1, 2, 2, 2))), {}, ValueError, ["X must be 3-D", "(1, 2, 3, 3)"]),
    ("corr2d_multi_in_out", (Z((2, 3, 3)), Z((2, 2, 2))), {}, ValueError, ["K must be 4-D", "(2, 2, 2)"]),
    ("corr2d_multi_in_out", (Z((2, 3, 3)), Z((4, 3, 2, 2))), {}, ValueError, ["channel mismatch", "(2, 3, 3)", "(4, 3, 2, 2)"]),
    ("corr2d_multi_in_out", (Z((2, 3, 3)), Z((4, 2, 2, 4))), {}, ValueError, ["(4, 2, 2, 4)", "(2, 3, 3)", "larger"]),
    ("conv1x1", (Z((3, 3)), Z((1, 3))), {}, ValueError, ["X must be 3-D", "(3, 3)"]),
    ("conv1x1", (Z((2, 3, 3)), Z((1, 2, 3, 3))), {}, ValueError, ["1x1", "(1, 2, 3, 3)"]),
    ("conv1x1", (Z((2, 3, 3)), Z((1, 2, 1))), {}, ValueError, ["K must be 2-D", "(1, 2, 1)"]),
    ("conv1x1", (Z((2, 3, 3)), Z((4, 3))), {}, ValueError, ["channel mismatch", "(2, 3, 3)", "3"]),
    ("conv1x1", (Z((2, 3, 3)), np.array([["a", "b"]])), {}, TypeError, ["K"]),
    ("pad2d", (Z(3), 1), {}, ValueError, ["(3,)"]),
    ("pad2d", (Z((3, 3)), -1), {}, ValueError, ["padding", "-1"]),
    ("pad2d", (Z((3, 3)), (1, -2)), {}, ValueError, ["padding", "-2"]),
    ("pad2d", (Z((3, 3)), 1.5), {}, TypeError, ["padding", "1.5"]),
    ("pad2d", (np.array(["a", "b"]), 1), {}, TypeError, ["X"]),
    ("conv2d", (Z((2, 3, 3)), Z((1, 2, 2, 2))), {}, ValueError, ["X must be 4-D", "(2, 3, 3)"]),
    ("conv2d", (Z((1, 2, 3, 3)), Z((2, 2, 2))), {}, ValueError, ["W must be 4-D", "(2, 2, 2)"]),
    ("conv2d", (Z((1, 2, 3, 3)), Z((1, 3, 2, 2))), {}, ValueError, ["channel mismatch", "(1, 2, 3, 3)", "(1, 3, 2, 2)"]),
    ("conv2d", (Z((1, 2, 3, 3)), Z((1, 2, 4, 2))), {}, ValueError, ["(1, 2, 3, 3)", "(1, 2, 4, 2)", "larger"]),
    ("conv2d", (Z((1, 2, 3, 3)), Z((1, 2, 6, 2))), dict(padding=1), ValueError, ["(1, 2, 6, 2)", "padding 1", "larger"]),
    ("conv2d", (Z((1, 2, 5, 5)), Z((1, 2, 3, 3))), dict(dilation=3), ValueError, ["(1, 2, 3, 3)", "footprint 7", "larger"]),
    ("conv2d", (Z((1, 2, 3, 3)), Z((1, 2, 2, 2))), dict(stride=0), ValueError, ["stride", "0"]),
    ("conv2d", (Z((1, 2, 3, 3)), Z((1, 2, 2, 2))), dict(stride=(1, -1)), ValueError, ["stride", "-1"]),
    ("conv2d", (Z((1, 2, 3, 3)), Z((1, 2, 2, 2))), dict(stride=1.0), TypeError, ["stride", "1.0"]),
    ("conv2d", (Z((1, 2, 3, 3)), Z((1, 2, 2, 2))), dict(padding=-1), ValueError, ["padding", "-1"]),
    ("conv2d", (Z((1, 2, 3, 3)), Z((1, 2, 2, 2))), dict(padding=(0, 0, 0)), TypeError, ["padding", "(0, 0, 0)"]),
    ("conv2d", (Z((1, 2, 3, 3)), Z((1, 2, 2, 2))), dict(dilation=0), ValueError, ["dilation", "0"]),
    ("conv2d", (Z((1, 2, 3, 3)), Z((3, 2, 2, 2)), Z(2)), {}, ValueError, ["(3,)", "(2,)"]),
    ("conv2d", (Z((1, 2, 3, 3)), Z((3, 2, 2, 2)), Z((3, 1))), {}, ValueError, ["(3,)", "(3, 1)"]),
    ("conv2d", (Z((1, 4, 3, 3)), Z((3, 2, 2, 2))), dict(groups=2), ValueError, ["groups=2", "(3, 2, 2, 2)"]),
    ("conv2d", (Z((1, 3, 3, 3)), Z((2, 1, 2, 2))), dict(groups=2), ValueError, ["groups=2", "(1, 3, 3, 3)"]),
    ("conv2d", (Z((1, 4, 3, 3)), Z((2, 1, 2, 2))), dict(groups=2), ValueError, ["channel mismatch", "(2, 1, 2, 2)"]),
    ("conv2d", (Z((1, 2, 3, 3)), Z((1, 2, 2, 2))), dict(groups=0), ValueError, ["groups", "0"]),
    ("conv2d", (Z((1, 2, 3, 3)), Z((2, 1, 2, 2))), dict(groups=2.0), TypeError, ["groups", "2.0"]),
    ("conv2d", (np.full((1, 2, 3, 3), "x"), Z((1, 2, 2, 2))), {}, TypeError, ["X"]),
    ("conv2d", (Z((1, 2, 3, 3)), Z((1, 2, 2, 2)), np.array(["b"])), {}, TypeError, ["b"]),
]


@pytest.mark.parametrize(
    "fname, args, kwargs, error, fragments", ERROR_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(ERROR_CASES)],
)
def test_bad_input_raises_clear_error_naming_shapes_and_values(twin, fname, args, kwargs, error, fragments):
    native = [twin.array(a) if isinstance(a, np.ndarray) else a for a in args]
    if fname == "conv2d" and len(native) == 3:
        native, kwargs = native[:2], dict(kwargs, b=native[2])
    with pytest.raises(error) as info:
        getattr(twin.ops, fname)(*native, **kwargs)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{twin}.{fname}: {fragment!r} missing from {message!r}"
    assert not re.search(r"broadcast|einsum|operands could not", message), message


def test_every_function_has_error_cases():
    assert {case[0] for case in ERROR_CASES} == set(FUNCTIONS)


# --- torch twin: device, dtype, autograd -------------------------------------------------------

def test_torch_twin_returns_tensor_on_input_device_and_dtype():
    X = torch.randn(2, 3, 6, 6, dtype=torch.float32)
    W = torch.randn(4, 3, 3, 3, dtype=torch.float32)
    Y = dlcourse.torch_ops.conv2d(X, W, torch.zeros(4), padding=1)
    assert isinstance(Y, torch.Tensor)
    assert (Y.device, Y.dtype, tuple(Y.shape)) == (X.device, torch.float32, (2, 4, 6, 6))
    for fname, args in [
        ("corr2d", (X[0, 0], W[0, 0])),
        ("corr2d_loops", (X[0, 0], W[0, 0])),
        ("corr2d_multi_in", (X[0], W[0])),
        ("corr2d_multi_in_out", (X[0], W)),
        ("conv1x1", (X[0], W[:, :, :1, :1])),
        ("pad2d", (X, 1)),
    ]:
        out = getattr(dlcourse.torch_ops, fname)(*args)
        assert isinstance(out, torch.Tensor) and out.device == X.device and out.dtype == X.dtype, fname


def test_torch_twin_converts_numpy_and_lists_to_tensors():
    out = dlcourse.torch_ops.corr2d(LECTURE_X.tolist(), LECTURE_K)
    assert isinstance(out, torch.Tensor)
    assert out.tolist() == LECTURE_Y.tolist()


def test_torch_twin_refuses_inputs_on_different_devices():
    # The meta device stands in for a second device on a CPU-only machine; tests/test_gpu.py
    # repeats this with CUDA.
    X, W = torch.zeros(1, 2, 4, 4), torch.zeros(3, 2, 3, 3, device="meta")
    with pytest.raises(ValueError, match=r"one device.*X on cpu.*W on meta"):
        dlcourse.torch_ops.conv2d(X, W)
    with pytest.raises(ValueError, match=r"one device.*b on meta"):
        dlcourse.torch_ops.conv2d(X, torch.zeros(3, 2, 3, 3), torch.zeros(3, device="meta"))
    for fname, args in [
        ("corr2d", (X[0, 0], W[0, 0])),
        ("corr2d_loops", (X[0, 0], W[0, 0])),
        ("corr2d_multi_in", (X[0], W[0])),
        ("corr2d_multi_in_out", (X[0], W)),
        ("conv1x1", (X[0], W[:, :, :1, :1])),
    ]:
        with pytest.raises(ValueError, match=r"X on cpu.*K on meta"):
            getattr(dlcourse.torch_ops, fname)(*args)


def test_autograd_flows_through_torch_conv2d():
    X = torch.randn(2, 4, 7, 6, requires_grad=True)
    W = torch.randn(6, 2, 3, 2, requires_grad=True)
    b = torch.randn(6, requires_grad=True)
    kwargs = dict(stride=(2, 1), padding=1, dilation=(1, 2), groups=2)
    dlcourse.torch_ops.conv2d(X, W, b, **kwargs).square().sum().backward()
    ours = [t.grad.clone() for t in (X, W, b)]
    for t in (X, W, b):
        t.grad = None
    F.conv2d(X, W, b, **kwargs).square().sum().backward()
    for name, g, ref in zip("XWb", ours, (X.grad, W.grad, b.grad)):
        torch.testing.assert_close(g, ref, rtol=1e-4, atol=1e-4, msg=f"gradient of {name}")


GRADCHECK_CASES = [
    ("conv2d", [(1, 2, 5, 4), (2, 2, 2, 3), (2,)], {}),
    ("conv2d", [(2, 4, 6, 5), (4, 2, 2, 2), (4,)], dict(stride=(2, 1), padding=(1, 2), dilation=(2, 1), groups=2)),
    ("conv2d", [(1, 3, 5, 5), (3, 1, 3, 3)], dict(stride=2, padding=1, groups=3)),
    ("corr2d", [(4, 5), (2, 3)], {}),
    ("corr2d_loops", [(4, 4), (2, 2)], {}),
    ("corr2d_multi_in", [(2, 4, 4), (2, 2, 3)], {}),
    ("corr2d_multi_in_out", [(2, 4, 4), (3, 2, 2, 2)], {}),
    ("conv1x1", [(3, 3, 2), (2, 3, 1, 1)], {}),
    ("pad2d", [(2, 3, 2)], dict(padding=(1, 2))),
]


@pytest.mark.parametrize("fname, shapes, kwargs", GRADCHECK_CASES, ids=[c[0] for c in GRADCHECK_CASES])
def test_torch_twin_gradcheck_float64(fname, shapes, kwargs):
    gen = torch.Generator().manual_seed(0)
    inputs = [torch.randn(s, dtype=torch.float64, generator=gen, requires_grad=True) for s in shapes]
    fn = getattr(dlcourse.torch_ops, fname)
    assert torch.autograd.gradcheck(lambda *t: fn(*t, **kwargs), inputs, eps=1e-6, atol=1e-7, rtol=1e-7)
