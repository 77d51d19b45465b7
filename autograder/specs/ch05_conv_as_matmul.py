"""Grading spec for chapter 5: im2col, convolution as one matrix product, col2im."""
from autograder.spec import Case, Task, shape_label


def _random_window(rng):
    n, c = (int(v) for v in rng.integers(1, 4, size=2))
    h, w = (int(v) for v in rng.integers(1, 10, size=2))
    kh, kw = int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))
    stride = int(rng.integers(1, 4))
    return (n, c, h, w), kh, kw, stride


def _im2col_cases(rng):
    cases = []
    for _ in range(7):
        x_shape, kh, kw, stride = _random_window(rng)
        X = rng.standard_normal(x_shape)
        cases.append(Case((X, kh, kw, stride), label=f"{shape_label(X=X)}, window ({kh}, {kw}), stride {stride}"))
    X = rng.standard_normal((2, 3, 4, 5))
    cases.append(Case((X, 4, 5, 1), label=f"window as large as the input, {shape_label(X=X)}"))
    cases.append(Case((X, 1, 1, 2), label=f"1x1 window, stride 2, {shape_label(X=X)}"))
    X = rng.integers(-9, 10, size=(2, 2, 6, 7))
    cases.append(Case((X, 3, 2, 2), label=f"integer input, {shape_label(X=X)}, window (3, 2), stride 2"))
    X = rng.standard_normal((3, 4, 40, 30))
    cases.append(Case((X, 2, 3, 1), count_lines=True,
                      label=f"no Python loop over the output, {shape_label(X=X)}, window (2, 3), stride 1"))
    return cases


def _gemm_cases(rng):
    cases = []
    for _ in range(7):
        (n, c, h, w), kh, kw, stride = _random_window(rng)
        o = int(rng.integers(1, 4))
        X, W = rng.standard_normal((n, c, h, w)), rng.standard_normal((o, c, kh, kw))
        b = None if rng.random() < 0.25 else rng.standard_normal(o)
        label = f"{shape_label(X=X, W=W)}, b {'None' if b is None else tuple(b.shape)}, stride {stride}"
        cases.append(Case((X, W, b, stride), label=label))
    X, W, b = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((6, 3, 4, 5)), rng.standard_normal(6)
    cases.append(Case((X, W, b, 1), label="kernel as large as the input, " + shape_label(X=X, W=W, b=b)))
    W = rng.standard_normal((2, 3, 1, 1))
    cases.append(Case((X, W, None, 2), label=f"1x1 kernel, stride 2, no bias, {shape_label(X=X, W=W)}"))
    X, W = rng.integers(-9, 10, size=(2, 2, 6, 7)), rng.integers(-3, 4, size=(3, 2, 3, 2))
    cases.append(Case((X, W, None, 2), label=f"integer input and kernel, {shape_label(X=X, W=W)}, stride 2"))
    X, W, b = rng.standard_normal((3, 4, 40, 30)), rng.standard_normal((5, 4, 2, 3)), rng.standard_normal(5)
    cases.append(Case((X, W, b, 1), count_lines=True,
                      label="one matrix product, " + shape_label(X=X, W=W, b=b) + ", stride 1"))
    return cases


def _col2im_cases(rng):
    cases = []
    for _ in range(7):
        x_shape, kh, kw, stride = _random_window(rng)
        n, c, h, w = x_shape
        cols = rng.standard_normal((c * kh * kw, n * ((h - kh) // stride + 1) * ((w - kw) // stride + 1)))
        cases.append(Case((cols, x_shape, kh, kw, stride),
                          label=f"{shape_label(cols=cols)}, x_shape={x_shape}, window ({kh}, {kw}), stride {stride}"))
    cols = rng.standard_normal((60, 2))
    cases.append(Case((cols, (2, 3, 4, 5), 4, 5, 1), label=f"window as large as the input, {shape_label(cols=cols)}"))
    cols = rng.standard_normal((3, 2 * 2 * 3))
    cases.append(Case((cols, (2, 3, 4, 5), 1, 1, 2), label=f"1x1 window, stride 2, {shape_label(cols=cols)}"))
    cols = rng.integers(-9, 10, size=(12, 12))
    cases.append(Case((cols, (2, 2, 6, 7), 3, 2, 2), label=f"integer cols, {shape_label(cols=cols)}, x_shape=(2, 2, 6, 7)"))
    return cases


TASKS = [
    Task("im2col", 3, _im2col_cases, max_python_lines=299, description="every window as a column, in the notebook's layout"),
    Task("conv2d_gemm", 4, _gemm_cases, max_python_lines=299, rtol=1e-5, atol=1e-6, description="convolution as one matrix product"),
    Task("col2im", 3, _col2im_cases, rtol=1e-5, atol=1e-6, description="the adjoint of im2col"),
]
