"""Grading spec for chapter 4: max and average pooling, forward and backward.

Every task has fixed cases (the same for every student) before its random ones: asymmetric
window and stride pairs (a swapped pair fails), rows and columns no window reaches (a round
instead of the floor fails), ties in max pooling (the first maximum takes the gradient),
integer and float32 inputs (the dtype rules the notebook states).
"""
import numpy as np

from autograder.spec import Case, Task, shape_label


def _maybe_pair(rng, low, high):
    if rng.random() < 0.5:
        return int(rng.integers(low, high + 1))
    return tuple(int(v) for v in rng.integers(low, high + 1, size=2))


def _pair(value):
    return (value, value) if isinstance(value, int) else value


def _random_pooling(rng):
    """X, kernel_size, stride (None, an int or a pair) and the output's (H', W')."""
    n, c = (int(v) for v in rng.integers(1, 4, size=2))
    h, w = (int(v) for v in rng.integers(1, 10, size=2))
    kh, kw = int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))
    kernel = kh if kh == kw and rng.random() < 0.5 else (kh, kw)
    stride = None if rng.random() < 0.3 else _maybe_pair(rng, 1, 3)
    sh, sw = (kh, kw) if stride is None else _pair(stride)
    X = rng.standard_normal((n, c, h, w))
    return X, kernel, stride, ((h - kh) // sh + 1, (w - kw) // sw + 1)


def _label(arrays, kernel, stride):
    return f"{shape_label(**arrays)}, kernel_size={kernel!r}, stride={stride!r}"


# Fixed windows (the same for every student): X's shape, kernel_size, stride, and what they test.
FIXED_WINDOWS = (
    ((1, 2, 7, 6), (3, 2), (2, 1), "asymmetric window and stride pairs"),
    ((2, 1, 6, 7), (2, 3), (1, 2), "the pairs the other way round"),
    ((2, 1, 7, 5), 2, None, "rows and columns no window reaches"),
    ((1, 2, 8, 9), 3, (2, 3), "an int window, a stride pair, a remainder of one half"),
    ((2, 3, 5, 4), (5, 4), None, "window as large as the input"),
    ((2, 3, 5, 4), 1, 1, "1x1 window"),
)


def _fixed_forward_cases():
    fixed = np.random.default_rng(4001)
    cases = []
    for shape, kernel, stride, what in FIXED_WINDOWS:
        X = fixed.standard_normal(shape)
        cases.append(Case((X, kernel, stride), label=f"{what}, " + _label({"X": X}, kernel, stride)))
    X = fixed.integers(-3, 4, size=(2, 2, 7, 6))
    cases.append(Case((X, (3, 2), 2), label="integer input with ties, " + _label({"X": X}, (3, 2), 2)))
    X32 = fixed.standard_normal((1, 4, 8, 8)).astype("float32")
    cases.append(Case((X32, 2, None), label="float32 input, " + _label({"X": X32}, 2, None)))
    return cases


def _forward_cases(rng):
    cases = _fixed_forward_cases()
    for _ in range(6):
        X, kernel, stride, _ = _random_pooling(rng)
        cases.append(Case((X, kernel, stride), label=_label({"X": X}, kernel, stride)))
    return cases


def _output_shape(shape, kernel, stride):
    kh, kw = _pair(kernel)
    sh, sw = (kh, kw) if stride is None else _pair(stride)
    return ((shape[2] - kh) // sh + 1, (shape[3] - kw) // sw + 1)


def _fixed_backward_cases(ties):
    fixed = np.random.default_rng(4002)
    cases = []
    for shape, kernel, stride, what in FIXED_WINDOWS:
        X = fixed.standard_normal(shape)
        dY = fixed.standard_normal((shape[0], shape[1], *_output_shape(shape, kernel, stride)))
        cases.append(Case((dY, X, kernel, stride), label=f"{what}, " + _label({"dY": dY, "X": X}, kernel, stride)))
    X = fixed.integers(-2, 3, size=(2, 3, 8, 7)) if ties else fixed.standard_normal((2, 3, 8, 7))
    dY = fixed.standard_normal((2, 3, 6, 3))
    cases.append(Case((dY, X, 3, (1, 2)), label=("integer input with ties, " if ties else "")
                      + "overlapping windows, " + _label({"dY": dY, "X": X}, 3, (1, 2))))
    if ties:
        X = np.zeros((1, 2, 4, 6))  # every window is one big tie: the first entry takes it all
        dY = fixed.standard_normal((1, 2, 3, 3))
        cases.append(Case((dY, X, 2, (1, 2)), label="all entries equal (every window a tie), "
                          + _label({"dY": dY, "X": X}, 2, (1, 2))))
    dY32 = fixed.standard_normal((1, 4, 4, 4)).astype("float32")
    X32 = fixed.standard_normal((1, 4, 8, 8)).astype("float32")
    cases.append(Case((dY32, X32, 2, None), label="float32, " + _label({"dY": dY32, "X": X32}, 2, None)))
    return cases


def _backward_cases(rng, ties):
    cases = _fixed_backward_cases(ties)
    for _ in range(6):
        X, kernel, stride, (ho, wo) = _random_pooling(rng)
        dY = rng.standard_normal((X.shape[0], X.shape[1], ho, wo))
        cases.append(Case((dY, X, kernel, stride), label=_label({"dY": dY, "X": X}, kernel, stride)))
    return cases


TASKS = [
    Task("max_pool2d_forward", 3, _forward_cases, dtype_rule="exact", description="max pooling"),
    Task("avg_pool2d_forward", 2, _forward_cases, rtol=1e-5, atol=1e-6, description="average pooling"),
    Task("max_pool2d_backward", 3, lambda rng: _backward_cases(rng, ties=True), rtol=1e-5, atol=1e-6, dtype_rule="exact",
         description="max pooling backward: winners take the gradient, overlaps add"),
    Task("avg_pool2d_backward", 2, lambda rng: _backward_cases(rng, ties=False), rtol=1e-5, atol=1e-6, dtype_rule="exact",
         description="average pooling backward"),
]
