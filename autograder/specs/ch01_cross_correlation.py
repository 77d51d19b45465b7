"""Grading spec for chapter 1: 2-D cross-correlation and learning a kernel.

Every task has fixed cases (the same for every student: non-square inputs and kernels, a kernel
as large as the input, a 1x1 kernel, integer inputs) before its random ones, so that a bug is
found whatever the per-student seed draws.
"""
import numpy as np

from autograder.spec import Case, Task, shape_label


def _fixed_corr2d_cases():
    rng = np.random.default_rng(1001)  # fixed: the same values for every student
    cases = []
    for (h, w), (kh, kw), what in (((4, 7), (2, 3), "non-square input and kernel"),
                                   ((7, 4), (3, 2), "the same, transposed"),
                                   ((1, 6), (1, 2), "a single row"),
                                   ((5, 1), (2, 1), "a single column")):
        X, K = rng.standard_normal((h, w)), rng.standard_normal((kh, kw))
        cases.append(Case((X, K), label=f"{what}, " + shape_label(X=X, K=K)))
    X = rng.integers(-5, 6, size=(5, 4)).astype(float)
    cases.append(Case((X, X[::-1].copy()), label="kernel as large as the input, " + shape_label(X=X, K=X)))
    X, K = rng.standard_normal((6, 9)), rng.standard_normal((1, 1))
    cases.append(Case((X, K), label="1x1 kernel, " + shape_label(X=X, K=K)))
    X, K = rng.integers(-9, 10, size=(6, 5)), rng.integers(-3, 4, size=(2, 3))
    cases.append(Case((X, K), label="integer input and kernel, " + shape_label(X=X, K=K)))
    X, K = rng.integers(0, 10, size=(5, 6)), rng.standard_normal((3, 2))
    cases.append(Case((X, K), label="integer input, float kernel, " + shape_label(X=X, K=K)))
    return cases


def _corr2d_cases(rng):
    cases = []
    for _ in range(6):
        h, w = (int(v) for v in rng.integers(1, 12, size=2))
        kh, kw = int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))
        X, K = rng.standard_normal((h, w)), rng.standard_normal((kh, kw))
        cases.append(Case((X, K), label=shape_label(X=X, K=K)))
    return _fixed_corr2d_cases() + cases


def _vectorized_cases(rng):
    # The last case is the visible test's counted call: a 200x200 input and a 3x3 kernel, where a
    # loop over the 198 x 198 outputs runs far more than the 1,999 lines the notebook allows.
    X, K = rng.standard_normal((200, 200)), rng.standard_normal((3, 3))
    big = Case((X, K), label="no Python loop over the output, " + shape_label(X=X, K=K), count_lines=True)
    return _corr2d_cases(rng) + [big]


def _kernel_gradient_cases(rng):
    fixed = np.random.default_rng(1003)
    cases = []
    for (h, w), (kh, kw), what in (((4, 7), (2, 3), "non-square input and kernel"),
                                   ((5, 5), (5, 5), "kernel as large as the input"),
                                   ((3, 6), (1, 1), "1x1 kernel")):
        X, K = fixed.standard_normal((h, w)), fixed.standard_normal((kh, kw))
        Y = fixed.standard_normal((h - kh + 1, w - kw + 1))
        cases.append(Case((X, K, Y), label=f"{what}, " + shape_label(X=X, K=K, Y=Y)))
    X, K, Y = fixed.integers(-3, 4, size=(5, 4)), fixed.integers(-2, 3, size=(2, 2)), fixed.integers(-5, 6, size=(4, 3))
    cases.append(Case((X, K, Y), label="integer X, K and Y, " + shape_label(X=X, K=K, Y=Y)))
    for _ in range(5):
        h, w = (int(v) for v in rng.integers(2, 10, size=2))
        kh, kw = int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))
        X, K = rng.standard_normal((h, w)), rng.standard_normal((kh, kw))
        Y = rng.standard_normal((h - kh + 1, w - kw + 1))
        cases.append(Case((X, K, Y), label=shape_label(X=X, K=K, Y=Y)))
    return cases


TASKS = [
    Task("corr2d_loops", 3, _corr2d_cases, description="cross-correlation with loops"),
    Task("corr2d_vectorized", 3, _vectorized_cases, max_python_lines=1999,
         description="vectorized cross-correlation"),
    Task("kernel_gradient", 4, _kernel_gradient_cases, description="gradient of the squared loss"),
]
