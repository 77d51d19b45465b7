"""Grading spec for chapter 1: 2-D cross-correlation and learning a kernel."""
from autograder.spec import Case, Task, shape_label


def _corr2d_cases(rng):
    cases = []
    for _ in range(6):
        h, w = (int(v) for v in rng.integers(1, 12, size=2))
        kh, kw = int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))
        X, K = rng.standard_normal((h, w)), rng.standard_normal((kh, kw))
        cases.append(Case((X, K), label=shape_label(X=X, K=K)))
    X = rng.integers(-5, 6, size=(5, 4)).astype(float)
    cases.append(Case((X, X.copy()), label="kernel as large as the input, " + shape_label(X=X, K=X)))
    X, K = rng.standard_normal((6, 9)), rng.standard_normal((1, 1))
    cases.append(Case((X, K), label="1x1 kernel, " + shape_label(X=X, K=K)))
    return cases


def _vectorized_cases(rng):
    # The last case is large and counted: a loop over the 149 x 237 outputs runs far more
    # than the allowed lines of Python.
    X, K = rng.standard_normal((150, 240)), rng.standard_normal((2, 4))
    big = Case((X, K), label="no Python loop over the output, " + shape_label(X=X, K=K), count_lines=True)
    return _corr2d_cases(rng) + [big]


def _kernel_gradient_cases(rng):
    cases = []
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
