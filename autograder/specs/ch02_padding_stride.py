"""Grading spec for chapter 2: padding and stride.

Every task has fixed cases (the same for every student) before its random ones, chosen so that
the usual slips fail whatever the per-student seed draws: ``round`` or ``ceil`` instead of the
floor (sizes whose division leaves a remainder of one half or more), a padding counted once
instead of on both sides, a ``(height, width)`` pair of padding or stride used the wrong way
round (asymmetric pairs on non-square inputs), and rows or columns that no window reaches.
"""
import numpy as np

from autograder.spec import Case, Task, shape_label

# (n, k, padding, stride): floor differs from round / ceil / true division in most of these.
FIXED_SIZES = ((32, 5, 0, 1), (7, 2, 0, 2), (7, 3, 0, 3), (9, 2, 0, 4), (8, 3, 1, 2), (6, 4, 1, 3),
               (11, 4, 2, 5), (5, 1, 0, 10), (3, 2, 1, 3), (224, 11, 2, 4), (10, 3, 3, 4), (1, 1, 0, 1))


def _maybe_pair(rng, low, high):
    if rng.random() < 0.5:
        return int(rng.integers(low, high))
    return tuple(int(v) for v in rng.integers(low, high, size=2))


def _output_size_cases(rng):
    cases = [Case(args, label="n={}, k={}, padding={}, stride={}".format(*args)) for args in FIXED_SIZES]
    for _ in range(12):
        n = int(rng.integers(1, 40))
        padding = int(rng.integers(0, 4))
        k = int(rng.integers(1, n + 2 * padding + 1))
        stride = int(rng.integers(1, 5))
        cases.append(Case((n, k, padding, stride), label=f"n={n}, k={k}, padding={padding}, stride={stride}"))
    return cases


def _pad_cases(rng):
    fixed = np.random.default_rng(2002)
    cases = []
    for shape, padding, what in (((3, 5), (2, 1), "a (height, width) pair"), ((5, 3), (0, 2), "no padding in height"),
                                 ((4, 4), 3, "one int"), ((2, 6), 0, "no padding")):
        X = fixed.standard_normal(shape)
        cases.append(Case((X, padding), label=f"{what}, {shape_label(X=X)}, padding={padding!r}"))
    X = fixed.integers(-9, 10, size=(3, 4))
    cases.append(Case((X, (1, 2)), label=f"integer input, {shape_label(X=X)}, padding=(1, 2)"))
    X = fixed.standard_normal((2, 3)).astype(np.float32)
    cases.append(Case((X, 1), label=f"float32 input, {shape_label(X=X)}, padding=1"))
    for _ in range(6):
        X = rng.standard_normal(tuple(int(v) for v in rng.integers(1, 8, size=2)))
        padding = _maybe_pair(rng, 0, 4)
        cases.append(Case((X, padding), label=f"{shape_label(X=X)}, padding={padding!r}"))
    return cases


def _strided_cases(rng):
    fixed = np.random.default_rng(2003)
    cases = []
    for (h, w), (kh, kw), padding, stride, what in (
        ((7, 8), (2, 3), 0, (2, 3), "rows and columns no window reaches"),
        ((8, 7), (3, 2), (2, 0), (1, 3), "asymmetric padding and stride pairs"),
        ((6, 9), (2, 2), (0, 1), (3, 2), "asymmetric pairs, the other way round"),
        ((7, 7), (2, 2), 1, 3, "padding and stride as ints, a remainder of one half"),
        ((5, 6), (5, 6), 0, 1, "kernel as large as the input"),
        ((4, 5), (3, 3), 2, 4, "padding wider than the stride leaves"),
    ):
        X, K = fixed.standard_normal((h, w)), fixed.standard_normal((kh, kw))
        cases.append(Case((X, K), {"padding": padding, "stride": stride},
                          label=f"{what}, {shape_label(X=X, K=K)}, padding={padding!r}, stride={stride!r}"))
    X, K = fixed.integers(-9, 10, size=(7, 6)), fixed.integers(-3, 4, size=(3, 2))
    cases.append(Case((X, K), {"padding": (1, 0), "stride": (2, 1)},
                      label=f"integer input and kernel, {shape_label(X=X, K=K)}, padding=(1, 0), stride=(2, 1)"))
    for _ in range(8):
        X = rng.standard_normal(tuple(int(v) for v in rng.integers(3, 12, size=2)))
        K = rng.standard_normal(tuple(int(v) for v in rng.integers(1, 4, size=2)))
        padding, stride = _maybe_pair(rng, 0, 3), _maybe_pair(rng, 1, 4)
        cases.append(
            Case((X, K), {"padding": padding, "stride": stride},
                 label=f"{shape_label(X=X, K=K)}, padding={padding!r}, stride={stride!r}")
        )
    return cases


TASKS = [
    Task("conv_output_size", 2, _output_size_cases, dtype_rule="kind", description="output-size formula"),
    Task("pad2d", 3, _pad_cases, dtype_rule="exact", description="zero padding"),
    Task("corr2d_strided", 5, _strided_cases, description="padded, strided cross-correlation"),
]
