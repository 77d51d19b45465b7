"""Chapters 5-6: convolution as matrix multiplication, its variants, and its backward pass.

im2col/col2im (layout, adjointness), the lecture's two matmul examples, conv2d as one GEMM and
conv_transpose2d against ``torch.nn.functional`` (dilation, groups, depthwise-separable), the
transposed convolution as the input gradient of a convolution, the separable-convolution cost
formulas counted from the GEMMs actually run, and ``conv2d_backward`` against autograd and
against central differences (``dlcourse.gradcheck``).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from twins import as_pair, int_or_pair

import dlcourse
import dlcourse.numpy_ops as nops
import dlcourse.torch_ops as tops
from dlcourse.gradcheck import gradcheck, numerical_gradient, relative_error
from dlcourse.numpy_ops import col2im, conv2d_backward, conv_matrix, im2col

t = lambda a: None if a is None else torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731



@st.composite
def conv_cases(draw, max_groups=3, max_size=9):
    """A random conv2d call that fits: shapes, stride, padding, dilation, groups, bias."""
    groups = draw(st.integers(1, max_groups))
    c, o = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    n = draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride, padding = draw(int_or_pair(st.integers(1, 3))), draw(int_or_pair(st.integers(0, 2)))
    dilation = draw(int_or_pair(st.integers(1, 3)))
    (ph, pw), (dh, dw) = as_pair(padding), as_pair(dilation)
    lo_h, lo_w = max(1, dh * (kh - 1) + 1 - 2 * ph), max(1, dw * (kw - 1) + 1 - 2 * pw)
    h, w = draw(st.integers(lo_h, max(lo_h, max_size))), draw(st.integers(lo_w, max(lo_w, max_size)))
    return dict(
        X=(n, c, h, w), W=(o, c // groups, kh, kw), b=(o,) if draw(st.booleans()) else None,
        kwargs=dict(stride=stride, padding=padding, dilation=dilation, groups=groups),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


def draw_arrays(case, dtype=np.float64):
    rng = np.random.default_rng(case["seed"])
    return [None if case[k] is None else rng.standard_normal(case[k]).astype(dtype) for k in ("X", "W", "b")]


# --- im2col / col2im ---------------------------------------------------------------------------

@given(case=conv_cases())
def test_im2col_follows_its_documented_layout(case):
    X, W, _ = draw_arrays(case)
    kw_ = case["kwargs"]
    (sh, sw), (ph, pw), (dh, dw) = (as_pair(kw_[k]) for k in ("stride", "padding", "dilation"))
    kh, kw = W.shape[2:]
    ho, wo = dlcourse.conv_output_shape(X.shape[2:], (kh, kw), (ph, pw), (sh, sw), (dh, dw))
    cols = im2col(X, (kh, kw), stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw))
    n, c = X.shape[:2]
    assert cols.shape == (n, c * kh * kw, ho * wo)
    Xp = np.pad(X, [(0, 0), (0, 0), (ph, ph), (pw, pw)])
    expected = np.empty_like(cols)
    for ch in range(c):
        for i in range(kh):
            for j in range(kw):
                for p in range(ho):
                    for q in range(wo):
                        expected[:, (ch * kh + i) * kw + j, p * wo + q] = Xp[:, ch, p * sh + i * dh, q * sw + j * dw]
    np.testing.assert_array_equal(cols, expected)


@given(case=conv_cases())
def test_col2im_is_the_adjoint_of_im2col(case):
    X, W, _ = draw_arrays(case)
    kw_ = {k: v for k, v in case["kwargs"].items() if k != "groups"}
    cols = im2col(X, W.shape[2:], **kw_)
    C = np.random.default_rng(case["seed"] + 1).standard_normal(cols.shape)
    back = col2im(C, X.shape, W.shape[2:], **kw_)
    assert back.shape == X.shape
    np.testing.assert_allclose(np.vdot(cols, C), np.vdot(X, back), rtol=1e-10, atol=1e-10)


def test_col2im_of_im2col_counts_the_windows_that_see_each_pixel():
    X = np.ones((1, 1, 4, 4))
    counts = col2im(im2col(X, 3), X.shape, 3)[0, 0]
    np.testing.assert_array_equal(counts, [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])


# --- the lecture's examples --------------------------------------------------------------------

LECTURE_K = np.array([[1, 2], [2, 1]])
LECTURE_CONV_MATRIX = np.array([
    [1, 2, 0, 2, 1, 0, 0, 0, 0],
    [0, 1, 2, 0, 2, 1, 0, 0, 0],
    [0, 0, 0, 1, 2, 0, 2, 1, 0],
    [0, 0, 0, 0, 1, 2, 0, 2, 1],
])
LECTURE_TRANSPOSED_MATRIX = np.array([
    [1, 0, 0, 0], [2, 1, 0, 0], [0, 2, 0, 0], [2, 0, 1, 0], [1, 2, 2, 1],
    [0, 1, 0, 2], [0, 0, 2, 0], [0, 0, 1, 2], [0, 0, 0, 1],
])
LECTURE_T_INPUT = np.array([[1, 2], [2, 4]])
LECTURE_T_OUTPUT = np.array([[1, 4, 4], [4, 13, 10], [4, 10, 4]])


def test_lecture_convolution_as_matmul_3x3_input_2x2_kernel_4x9_matrix():
    M = conv_matrix((3, 3), LECTURE_K)
    np.testing.assert_array_equal(M, LECTURE_CONV_MATRIX)
    X = np.arange(9).reshape(3, 3)
    expected = nops.corr2d(X, LECTURE_K)
    np.testing.assert_array_equal((M @ X.ravel()).reshape(2, 2), expected)
    # im2col writes the same product the other way round: kernel row times window columns.
    cols = im2col(X[None, None], 2)[0]  # (4 taps, 4 windows)
    np.testing.assert_array_equal(LECTURE_K.reshape(1, 4) @ cols, expected.reshape(1, 4))
    np.testing.assert_array_equal(nops.conv2d(X[None, None], LECTURE_K[None, None])[0, 0], expected)


def test_lecture_transposed_convolution_as_matmul_9x4_matrix(twin_name=None):
    M = conv_matrix((3, 3), LECTURE_K)
    np.testing.assert_array_equal(M.T, LECTURE_TRANSPOSED_MATRIX)
    np.testing.assert_array_equal((M.T @ LECTURE_T_INPUT.ravel()).reshape(3, 3), LECTURE_T_OUTPUT)
    for ops in (nops, tops):
        out = ops.conv_transpose2d(LECTURE_T_INPUT[None, None], LECTURE_K[None, None])
        out = out.numpy() if isinstance(out, torch.Tensor) else out
        np.testing.assert_array_equal(out[0, 0], LECTURE_T_OUTPUT)
    ref = F.conv_transpose2d(t(LECTURE_T_INPUT[None, None] * 1.0), t(LECTURE_K[None, None] * 1.0))
    np.testing.assert_array_equal(ref[0, 0].numpy(), LECTURE_T_OUTPUT)


@given(h=st.integers(1, 6), w=st.integers(1, 6), kh=st.integers(1, 4), kw=st.integers(1, 4),
       seed=st.integers(0, 2**32 - 1))
def test_conv_matrix_computes_conv_and_its_transpose_the_transposed_conv(h, w, kh, kw, seed):
    kh, kw = min(kh, h), min(kw, w)
    rng = np.random.default_rng(seed)
    X, K = rng.standard_normal((h, w)), rng.standard_normal((kh, kw))
    M = conv_matrix((h, w), K)
    assert M.shape == ((h - kh + 1) * (w - kw + 1), h * w)
    np.testing.assert_allclose((M @ X.ravel()).reshape(h - kh + 1, w - kw + 1), nops.corr2d(X, K), atol=1e-12)
    Y = rng.standard_normal((h - kh + 1, w - kw + 1))
    np.testing.assert_allclose((M.T @ Y.ravel()).reshape(h, w),
                               nops.conv_transpose2d(Y[None, None], K[None, None])[0, 0], atol=1e-12)


# --- conv2d as one GEMM, conv_transpose2d: agreement with torch ---------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@settings(max_examples=40)
@given(case=conv_cases(max_groups=4))
def test_gemm_conv2d_matches_F_conv2d_with_dilation_and_groups(dtype, case):
    X, W, b = draw_arrays(case, dtype)
    out = nops.conv2d(X, W, b, **case["kwargs"])
    expected = F.conv2d(t(X), t(W), t(b), **case["kwargs"]).numpy()
    assert out.dtype == dtype and out.shape == expected.shape and out.flags.c_contiguous
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)


@st.composite
def transpose_cases(draw):
    n, c_in, c_out = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w, kh, kw = (draw(st.integers(1, 5)) for _ in range(4))
    stride, padding = draw(int_or_pair(st.integers(1, 3))), draw(int_or_pair(st.integers(0, 2)))
    (sh, sw), (ph, pw) = as_pair(stride), as_pair(padding)
    # keep the output non-empty: (H - 1)*s - 2p + k >= 1
    if (h - 1) * sh - 2 * ph + kh < 1 or (w - 1) * sw - 2 * pw + kw < 1:
        padding = 0
    return dict(X=(n, c_in, h, w), W=(c_in, c_out, kh, kw), b=(c_out,) if draw(st.booleans()) else None,
                kwargs=dict(stride=stride, padding=padding), seed=draw(st.integers(0, 2**32 - 1)))


@pytest.mark.parametrize("ops", [nops, tops], ids=["numpy_ops", "torch_ops"])
@given(case=transpose_cases())
def test_conv_transpose2d_matches_F_conv_transpose2d(ops, case):
    X, W, b = draw_arrays(case)
    expected = F.conv_transpose2d(t(X), t(W), t(b), **case["kwargs"]).numpy()
    args = (X, W, b) if ops is nops else (t(X), t(W), t(b))
    out = ops.conv_transpose2d(*args, **case["kwargs"])
    out = out.numpy() if isinstance(out, torch.Tensor) else out
    assert out.shape == expected.shape and out.dtype == expected.dtype
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("ops", [nops, tops], ids=["numpy_ops", "torch_ops"])
@settings(max_examples=25)
@given(c=st.integers(1, 4), mult=st.integers(1, 2), o=st.integers(1, 4), k=st.sampled_from([1, 3, 5]),
       size=st.integers(5, 9), seed=st.integers(0, 2**32 - 1))
def test_depthwise_separable_conv_is_depthwise_groups_C_then_pointwise_1x1(ops, c, mult, o, k, size, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((2, c, size, size))
    Wd = rng.standard_normal((c * mult, 1, k, k))  # one (or `mult`) k x k filter per input channel
    Wp = rng.standard_normal((o, c * mult, 1, 1))  # then a 1x1 conv mixes the channels
    conv = (lambda *a, **kw: ops.conv2d(*a, **kw)) if ops is nops else (lambda *a, **kw: ops.conv2d(*map(t, a), **kw).numpy())
    out = conv(conv(X, Wd, padding=k // 2, groups=c), Wp)
    expected = F.conv2d(F.conv2d(t(X), t(Wd), padding=k // 2, groups=c), t(Wp)).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@given(case=conv_cases())
def test_transposed_convolution_is_the_gradient_of_convolution_wrt_its_input(case):
    """``conv_transpose2d(dY, W, stride, padding)`` is ``dL/dX`` for ``Y = conv2d(X, W, ...)``.

    Only for groups=1 and dilation=1 (the signature of conv_transpose2d); note that ``W`` is used
    as is: conv2d's ``(O, C, kh, kw)`` is conv_transpose2d's ``(C_in, C_out, kh, kw)`` with
    ``C_in = O``.  ``output_padding``: when ``(H + 2p - k) % s = r > 0``, the last ``r`` rows of
    the *padded* input are never read, so a conv with stride ``s`` maps ``s`` different input sizes
    to the same output size, and the transposed conv (which only knows the output) returns the
    smallest, ``H - r`` rows: the first ``H - r`` rows of ``dX``.  The remaining ``r`` rows of ``dX``
    (zero only where they are never read, i.e. when ``r > p``) are what torch's
    ``output_padding=r`` appends; our ``conv_transpose2d`` keeps the lecture's signature without it.
    """
    kw_ = dict(case["kwargs"], dilation=1, groups=1)
    X, W, _ = draw_arrays(dict(case, W=(case["W"][0], case["X"][1], *case["W"][2:])))
    (ph, pw), (sh, sw) = as_pair(kw_["padding"]), as_pair(kw_["stride"])
    kh, kw = W.shape[2:]
    h, w = X.shape[2:]
    if h + 2 * ph < kh or w + 2 * pw < kw:
        return  # this kernel does not fit without dilation's relaxed bounds
    Xt = t(X).requires_grad_()
    Y = F.conv2d(Xt, t(W), stride=kw_["stride"], padding=kw_["padding"])
    dY = np.random.default_rng(case["seed"]).standard_normal(tuple(Y.shape))
    Y.backward(t(dY))
    dX = Xt.grad.numpy()
    rh, rw = (h + 2 * ph - kh) % sh, (w + 2 * pw - kw) % sw  # rows/cols no window reads
    for ops in (nops, tops):
        try:
            Z = ops.conv_transpose2d(dY if ops is nops else t(dY), W if ops is nops else t(W),
                                     stride=kw_["stride"], padding=kw_["padding"])
        except ValueError:
            assert h - rh < 1 or w - rw < 1
            continue
        Z = Z.numpy() if isinstance(Z, torch.Tensor) else Z
        assert Z.shape == (X.shape[0], X.shape[1], h - rh, w - rw)
        np.testing.assert_allclose(Z, dX[:, :, : h - rh, : w - rw], rtol=1e-12, atol=1e-12)
    ref = F.conv_transpose2d(t(dY), t(W), stride=kw_["stride"], padding=kw_["padding"], output_padding=(rh, rw))
    np.testing.assert_allclose(ref.numpy(), dX, rtol=1e-12, atol=1e-12)


# --- the lecture's cost formulas, counted from the GEMMs that run -------------------------------

class MultiplicationCounter:
    """Wraps ``np.matmul`` and adds up the scalar multiplications of every product it performs."""

    def __init__(self):
        self.count = 0
        self._matmul = np.matmul

    def __call__(self, A, B, *args, **kwargs):
        out = self._matmul(A, B, *args, **kwargs)
        m, k = A.shape[-2:]
        n = B.shape[-1]
        self.count += int(np.prod(out.shape[:-2], dtype=np.int64)) * m * k * n
        return out


@pytest.mark.parametrize("D_K, M, N, D_F", [(3, 8, 16, 10), (5, 4, 6, 7), (3, 32, 64, 14)])
def test_separable_convolution_costs_the_lectures_formulas(monkeypatch, D_K, M, N, D_F):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1, M, D_F, D_F))
    same = D_K // 2  # 'same' padding: the output is D_F x D_F too
    counter = MultiplicationCounter()
    monkeypatch.setattr(np, "matmul", counter)

    counter.count = 0
    standard = nops.conv2d(X, rng.standard_normal((N, M, D_K, D_K)), padding=same)
    standard_cost = counter.count

    counter.count = 0
    depthwise = nops.conv2d(X, rng.standard_normal((M, 1, D_K, D_K)), padding=same, groups=M)
    depthwise_cost = counter.count
    counter.count = 0
    nops.conv2d(depthwise, rng.standard_normal((N, M, 1, 1)))
    pointwise_cost = counter.count

    assert standard.shape == (1, N, D_F, D_F)
    assert standard_cost == D_K * D_K * M * N * D_F * D_F
    assert depthwise_cost == D_K * D_K * M * D_F * D_F
    assert pointwise_cost == M * N * D_F * D_F
    ratio = (depthwise_cost + pointwise_cost) / standard_cost
    assert ratio == pytest.approx(1 / N + 1 / D_K**2)


# --- backward ----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@given(case=conv_cases(max_groups=3))
def test_conv2d_backward_matches_torch_autograd(dtype, case):
    X, W, b = draw_arrays(case, dtype)
    Xt, Wt = t(X).requires_grad_(), t(W).requires_grad_()
    bt = None if b is None else t(b).requires_grad_()
    Y = F.conv2d(Xt, Wt, bt, **case["kwargs"])
    dY = np.random.default_rng(case["seed"] + 7).standard_normal(tuple(Y.shape)).astype(dtype)
    Y.backward(t(dY))
    dX, dW, db = conv2d_backward(dY, X, W, b, **case["kwargs"])
    tol = 1e-4 if dtype == np.float32 else 1e-12
    for name, ours, ref in (("dX", dX, Xt.grad), ("dW", dW, Wt.grad)):
        assert ours.shape == tuple(ref.shape) and ours.dtype == dtype, name
        np.testing.assert_allclose(ours, ref.numpy(), rtol=tol, atol=tol, err_msg=name)
    if b is None:
        assert db is None
    else:
        np.testing.assert_allclose(db, bt.grad.numpy(), rtol=tol, atol=tol, err_msg="db")


@settings(max_examples=15)
@given(case=conv_cases(max_groups=2, max_size=7))
def test_conv2d_backward_passes_a_float64_central_difference_gradcheck(case):
    X, W, b = draw_arrays(case)
    G = np.random.default_rng(case["seed"] + 3).standard_normal(nops.conv2d(X, W, b, **case["kwargs"]).shape)
    dX, dW, db = conv2d_backward(G, X, W, b, **case["kwargs"])
    if b is None:
        loss = lambda X, W: np.sum(nops.conv2d(X, W, **case["kwargs"]) * G)  # noqa: E731
        err = gradcheck(loss, [X, W], [dX, dW])
    else:
        loss = lambda X, W, b: np.sum(nops.conv2d(X, W, b, **case["kwargs"]) * G)  # noqa: E731
        err = gradcheck(loss, [X, W, b], [dX, dW, db])
    assert err <= 1e-7, f"relative error {err:.2e} for {case}"


def test_gradcheck_catches_a_wrong_gradient_and_passes_a_right_one():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    f = lambda x: np.sum(np.sin(x) * x)  # noqa: E731
    grad = np.cos(x) * x + np.sin(x)
    np.testing.assert_allclose(numerical_gradient(f, x), grad, rtol=1e-8, atol=1e-9)
    assert gradcheck(f, [x], [grad]) < 1e-8
    assert gradcheck(f, [x], [grad * 1.01]) > 1e-3
    wrong = grad.copy()
    wrong[1, 2] += 0.1
    assert gradcheck(f, [x], [wrong]) > 1e-2
    assert gradcheck(lambda x, y: np.sum(x * y), [x, x], [x, None]) < 1e-8  # None skips an input
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert dlcourse.gradcheck.gradcheck is gradcheck


def test_gradcheck_rejects_bad_calls_with_clear_errors():
    x = np.zeros((2, 2))
    with pytest.raises(ValueError, match=r"scalar.*\(2, 2\)"):
        numerical_gradient(lambda x: x, x)
    with pytest.raises(ValueError, match=r"shape \(3,\).*\(2, 2\)"):
        gradcheck(lambda x: x.sum(), [x], [np.zeros(3)])
    with pytest.raises(ValueError, match="1 inputs but 2"):
        gradcheck(lambda x: x.sum(), [x], [x, x])
    with pytest.raises(ValueError, match="eps"):
        numerical_gradient(lambda x: x.sum(), x, eps=0)


# --- torch twin: device, autograd --------------------------------------------------------------

def test_torch_conv_transpose2d_is_differentiable_and_keeps_dtype():
    X = torch.randn(1, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    W = torch.randn(2, 3, 2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda X, W: tops.conv_transpose2d(X, W, stride=2, padding=1), (X, W))
    assert tops.conv_transpose2d(X.float(), W.float()).dtype == torch.float32


@pytest.mark.gpu
def test_torch_conv_transpose2d_runs_on_the_gpu():
    X, W = torch.randn(2, 3, 5, 5, device="cuda"), torch.randn(3, 4, 3, 3, device="cuda")
    out = tops.conv_transpose2d(X, W, stride=2, padding=1)
    assert out.device.type == "cuda"
    torch.testing.assert_close(out, F.conv_transpose2d(X, W, stride=2, padding=1), rtol=1e-4, atol=1e-4)


# --- errors ------------------------------------------------------------------------------------

Z = np.zeros
ERRORS = [
    (lambda: im2col(Z((3, 5, 5)), 3), ValueError, ["X must be 4-D", "(3, 5, 5)"]),
    (lambda: im2col(Z((1, 1, 2, 2)), 3), ValueError, ["(1, 1, 2, 2)", "larger"]),
    (lambda: im2col(Z((1, 1, 5, 5)), 3, stride=0), ValueError, ["stride", "0"]),
    (lambda: im2col(np.array([[[["a"]]]]), 1), TypeError, ["X"]),
    (lambda: col2im(Z((1, 9, 4)), (1, 1, 5, 5), 3), ValueError, ["(1, 9, 4)", "(1, 9, 9)"]),
    (lambda: col2im(Z((1, 9, 9)), (1, 5, 5), 3), ValueError, ["X_shape", "(1, 5, 5)"]),
    (lambda: conv_matrix((2, 2), Z((3, 3))), ValueError, ["(3, 3)", "(2, 2)"]),
    (lambda: conv_matrix((3, 3), Z(3)), ValueError, ["K must be 2-D"]),
    (lambda: nops.conv2d(Z((1, 4, 5, 5)), Z((2, 3, 3, 3))), ValueError, ["channel mismatch", "(1, 4, 5, 5)", "(2, 3, 3, 3)"]),
    (lambda: conv2d_backward(Z((1, 2, 4, 4)), Z((1, 3, 5, 5)), Z((2, 3, 3, 3))), ValueError,
     ["dY shape (1, 2, 4, 4)", "(1, 2, 3, 3)"]),
    (lambda: conv2d_backward(Z((1, 2, 3, 3)), Z((1, 3, 5, 5)), Z((2, 3, 3, 3)), b=Z(3)), ValueError, ["b must have shape (2,)"]),
]
for ops in (nops, tops):
    ERRORS += [
        (lambda ops=ops: ops.conv_transpose2d(Z((1, 3, 2, 2)), Z((2, 4, 3, 3))), ValueError,
         ["channel mismatch", "(1, 3, 2, 2)", "(2, 4, 3, 3)"]),
        (lambda ops=ops: ops.conv_transpose2d(Z((1, 2, 2, 2)), Z((2, 4, 3, 3)), Z(2)), ValueError, ["b must have shape (4,)"]),
        (lambda ops=ops: ops.conv_transpose2d(Z((1, 2, 1, 1)), Z((2, 4, 2, 2)), padding=1), ValueError, ["not positive"]),
        (lambda ops=ops: ops.conv_transpose2d(Z((1, 2, 3)), Z((2, 4, 2, 2))), ValueError, ["X must be 4-D", "(1, 2, 3)"]),
        (lambda ops=ops: ops.conv_transpose2d(Z((1, 2, 3, 3)), Z((2, 4, 2, 2)), stride=0), ValueError, ["stride", "0"]),
        (lambda ops=ops: ops.conv_transpose2d(Z((1, 2, 3, 3)), Z((2, 4, 2, 2)), padding=1.5), TypeError, ["padding", "1.5"]),
    ]


@pytest.mark.parametrize("call, error, fragments", ERRORS)
def test_bad_input_raises_clear_error_naming_shapes(call, error, fragments):
    with pytest.raises(error) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value), f"{fragment!r} not in {info.value}"
