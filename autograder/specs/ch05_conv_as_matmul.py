"""Grading spec for chapter 5: im2col, convolution as one matrix product, col2im.

Every task has fixed cases (the same for every student) before its random ones: non-square
windows with a stride that leaves rows and columns no window reaches (a round instead of the
floor, or a swapped window pair, fails), several images and channels (a wrong column or row
order fails), a window as large as the input, 1x1 windows, integer inputs.
"""
import numpy as np

from autograder.spec import Case, Task, shape_label

# x_shape, kh, kw, stride, what: the same for every student.
FIXED_WINDOWS = (
    ((2, 3, 7, 8), 2, 3, 2, "non-square window, stride 2, rows and columns no window reaches"),
    ((3, 2, 6, 5), 3, 2, 1, "non-square window, stride 1 (overlapping windows)"),
    ((1, 1, 9, 10), 2, 2, 3, "stride 3, a remainder of one half"),
    ((2, 3, 4, 5), 4, 5, 1, "window as large as the input"),
    ((2, 3, 4, 5), 1, 1, 2, "1x1 window, stride 2"),
)


def _out(x_shape, kh, kw, stride):
    return (x_shape[2] - kh) // stride + 1, (x_shape[3] - kw) // stride + 1


def _random_window(rng):
    n, c = (int(v) for v in rng.integers(1, 4, size=2))
    h, w = (int(v) for v in rng.integers(1, 10, size=2))
    kh, kw = int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))
    stride = int(rng.integers(1, 4))
    return (n, c, h, w), kh, kw, stride


def _im2col_cases(rng):
    fixed = np.random.default_rng(5001)
    cases = []
    for x_shape, kh, kw, stride, what in FIXED_WINDOWS:
        X = fixed.standard_normal(x_shape)
        cases.append(Case((X, kh, kw, stride), label=f"{what}, {shape_label(X=X)}, window ({kh}, {kw}), stride {stride}"))
    X = fixed.integers(-9, 10, size=(2, 2, 6, 7))
    cases.append(Case((X, 3, 2, 2), label=f"integer input, {shape_label(X=X)}, window (3, 2), stride 2"))
    for _ in range(7):
        x_shape, kh, kw, stride = _random_window(rng)
        X = rng.standard_normal(x_shape)
        cases.append(Case((X, kh, kw, stride), label=f"{shape_label(X=X)}, window ({kh}, {kw}), stride {stride}"))
    # The visible test's counted call: a loop over the 2 x 32 x 32 windows runs far more than
    # the 299 lines the notebook allows.
    X = rng.standard_normal((2, 3, 34, 34))
    cases.append(Case((X, 3, 3, 1), count_lines=True,
                      label=f"no Python loop over the output, {shape_label(X=X)}, window (3, 3), stride 1"))
    return cases


def _gemm_cases(rng):
    fixed = np.random.default_rng(5002)
    cases = []
    for (n, c, h, w), kh, kw, stride, what in FIXED_WINDOWS:
        o = 3 if c != 3 else 2  # never as many outputs as inputs: swapped axes fail
        X, W, b = fixed.standard_normal((n, c, h, w)), fixed.standard_normal((o, c, kh, kw)), fixed.standard_normal(o)
        cases.append(Case((X, W, b, stride), label=f"{what}, {shape_label(X=X, W=W, b=b)}, stride {stride}"))
    X, W = fixed.standard_normal((2, 3, 6, 5)), fixed.standard_normal((4, 3, 2, 2))
    cases.append(Case((X, W, None, 2), label=f"no bias, {shape_label(X=X, W=W)}, stride 2"))
    X, W = fixed.integers(-9, 10, size=(2, 2, 6, 7)), fixed.integers(-3, 4, size=(3, 2, 3, 2))
    cases.append(Case((X, W, None, 2), label=f"integer input and kernel, {shape_label(X=X, W=W)}, stride 2"))
    for _ in range(7):
        (n, c, h, w), kh, kw, stride = _random_window(rng)
        o = int(rng.integers(1, 4))
        X, W = rng.standard_normal((n, c, h, w)), rng.standard_normal((o, c, kh, kw))
        b = None if rng.random() < 0.25 else rng.standard_normal(o)
        label = f"{shape_label(X=X, W=W)}, b {'None' if b is None else tuple(b.shape)}, stride {stride}"
        cases.append(Case((X, W, b, stride), label=label))
    # The visible test's counted call (at most 299 lines of Python, as the notebook says).
    X, W, b = rng.standard_normal((2, 3, 34, 34)), rng.standard_normal((8, 3, 3, 3)), rng.standard_normal(8)
    cases.append(Case((X, W, b, 1), count_lines=True,
                      label="one matrix product, " + shape_label(X=X, W=W, b=b) + ", stride 1"))
    return cases


def _col2im_cases(rng):
    fixed = np.random.default_rng(5003)
    cases = []
    for x_shape, kh, kw, stride, what in FIXED_WINDOWS:
        n, c = x_shape[:2]
        cols = fixed.standard_normal((c * kh * kw, n * int(np.prod(_out(x_shape, kh, kw, stride)))))
        cases.append(Case((cols, x_shape, kh, kw, stride),
                          label=f"{what}, {shape_label(cols=cols)}, x_shape={x_shape}, window ({kh}, {kw}), stride {stride}"))
    cols = fixed.integers(-9, 10, size=(12, 12))
    cases.append(Case((cols, (2, 2, 6, 7), 3, 2, 2), label=f"integer cols, {shape_label(cols=cols)}, x_shape=(2, 2, 6, 7)"))
    for _ in range(7):
        x_shape, kh, kw, stride = _random_window(rng)
        n, c, h, w = x_shape
        cols = rng.standard_normal((c * kh * kw, n * ((h - kh) // stride + 1) * ((w - kw) // stride + 1)))
        cases.append(Case((cols, x_shape, kh, kw, stride),
                          label=f"{shape_label(cols=cols)}, x_shape={x_shape}, window ({kh}, {kw}), stride {stride}"))
    return cases


TASKS = [
    Task("im2col", 3, _im2col_cases, max_python_lines=299, dtype_rule="exact", description="every window as a column, in the notebook's layout"),
    Task("conv2d_gemm", 4, _gemm_cases, max_python_lines=299, rtol=1e-5, atol=1e-6, description="convolution as one matrix product"),
    Task("col2im", 3, _col2im_cases, rtol=1e-5, atol=1e-6, dtype_rule="exact", description="the adjoint of im2col"),
]
