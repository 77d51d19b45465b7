"""Grading spec for chapter 6: backpropagation through a convolution, and a gradient check.

Every task has fixed cases (the same for every student) before its random ones: strides that
leave input rows and columns no window reaches (a shape worked out from ``dY`` instead of taken
from ``x_shape`` / ``w_shape`` fails, and those pixels must get zero gradient), non-square
kernels, padding, 1x1 kernels, a kernel as large as the padded input, integer inputs.
"""
import numpy as np

from autograder.spec import Case, Task, shape_label

# x_shape, w_shape, stride, padding, what: the same for every student.
FIXED_CONVS = (
    ((2, 2, 8, 7), (3, 2, 3, 2), 2, 1, "stride 2 and padding 1 leave a row and a column no window reaches"),
    ((1, 3, 10, 8), (2, 3, 2, 3), 3, 0, "stride 3 leaves two rows and two columns no window reaches"),
    ((2, 3, 5, 6), (4, 3, 1, 1), 1, 0, "1x1 kernel"),
    ((2, 3, 4, 5), (2, 3, 6, 7), 1, 1, "kernel as large as the padded input"),
    ((3, 1, 6, 6), (2, 1, 3, 3), 1, 2, "padding 2, stride 1"),
)


def _out(x_shape, w_shape, stride, padding):
    return tuple((x_shape[a] + 2 * padding - w_shape[a]) // stride + 1 for a in (2, 3))


def _random_conv(rng, max_size=9, max_kernel=None):
    """(N, C, H, W), (O, C, kh, kw), stride, padding and the output's (H', W')."""
    n, c, o = (int(v) for v in rng.integers(1, 4, size=3))
    h, w = (int(v) for v in rng.integers(1, max_size, size=2))
    padding, stride = int(rng.integers(0, 3)), int(rng.integers(1, 4))
    kh_max, kw_max = h + 2 * padding, w + 2 * padding
    if max_kernel is not None:
        kh_max, kw_max = min(kh_max, max_kernel), min(kw_max, max_kernel)
    kh, kw = int(rng.integers(1, kh_max + 1)), int(rng.integers(1, kw_max + 1))
    out = ((h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1)
    return (n, c, h, w), (o, c, kh, kw), stride, padding, out


def _input_cases(rng):
    fixed = np.random.default_rng(6001)
    cases = []
    for x_shape, w_shape, stride, padding, what in FIXED_CONVS:
        W = fixed.standard_normal(w_shape)
        dY = fixed.standard_normal((x_shape[0], w_shape[0], *_out(x_shape, w_shape, stride, padding)))
        cases.append(Case((dY, W, x_shape, stride, padding),
                          label=f"{what}, {shape_label(dY=dY, W=W)}, x_shape={x_shape}, stride={stride}, padding={padding}"))
    W, dY = fixed.integers(-3, 4, size=(3, 2, 3, 2)), fixed.integers(-3, 4, size=(2, 3, 4, 4))
    cases.append(Case((dY, W, (2, 2, 8, 7), 2, 1), label=f"integer dY and W, {shape_label(dY=dY, W=W)}, x_shape=(2, 2, 8, 7), stride=2, padding=1"))
    for _ in range(7):
        x_shape, w_shape, stride, padding, out = _random_conv(rng)
        W, dY = rng.standard_normal(w_shape), rng.standard_normal((x_shape[0], w_shape[0], *out))
        cases.append(Case((dY, W, x_shape, stride, padding),
                          label=f"{shape_label(dY=dY, W=W)}, x_shape={x_shape}, stride={stride}, padding={padding}"))
    return cases


def _weight_cases(rng):
    fixed = np.random.default_rng(6002)
    cases = []
    for x_shape, w_shape, stride, padding, what in FIXED_CONVS:
        X = fixed.standard_normal(x_shape)
        dY = fixed.standard_normal((x_shape[0], w_shape[0], *_out(x_shape, w_shape, stride, padding)))
        cases.append(Case((dY, X, w_shape, stride, padding),
                          label=f"{what}, {shape_label(dY=dY, X=X)}, w_shape={w_shape}, stride={stride}, padding={padding}"))
    X, dY = fixed.integers(-9, 10, size=(2, 2, 8, 7)), fixed.integers(-3, 4, size=(2, 3, 4, 4))
    cases.append(Case((dY, X, (3, 2, 3, 2), 2, 1), label=f"integer dY and X, {shape_label(dY=dY, X=X)}, w_shape=(3, 2, 3, 2), stride=2, padding=1"))
    for _ in range(7):
        x_shape, w_shape, stride, padding, out = _random_conv(rng)
        X, dY = rng.standard_normal(x_shape), rng.standard_normal((x_shape[0], w_shape[0], *out))
        cases.append(Case((dY, X, w_shape, stride, padding),
                          label=f"{shape_label(dY=dY, X=X)}, w_shape={w_shape}, stride={stride}, padding={padding}"))
    return cases


def _bias_cases(rng):
    fixed = np.random.default_rng(6003)
    cases = []
    for shape in ((3, 4, 2, 5), (1, 2, 1, 1), (2, 5, 3, 3)):
        dY = fixed.standard_normal(shape)
        cases.append(Case((dY,), label="fixed, " + shape_label(dY=dY)))
    for _ in range(5):
        dY = rng.standard_normal(tuple(int(v) for v in rng.integers(1, 6, size=4)))
        cases.append(Case((dY,), label=shape_label(dY=dY)))
    dY = fixed.integers(-9, 10, size=(2, 3, 4, 4))
    cases.append(Case((dY,), label="integer dY, " + shape_label(dY=dY)))
    return cases


def _numerical_cases(rng):
    fixed = np.random.default_rng(6004)
    cases = []
    for (x_shape, w_shape, stride, padding, what), eps in zip(FIXED_CONVS[:2], (1e-4, 1e-1)):
        X, W = fixed.standard_normal(x_shape), fixed.standard_normal(w_shape) / 2
        G = fixed.standard_normal((x_shape[0], w_shape[0], *_out(x_shape, w_shape, stride, padding)))
        cases.append(Case((X, W, G, stride, padding, eps),
                          label=f"{what}, {shape_label(X=X, W=W, G=G)}, stride={stride}, padding={padding}, eps={eps:g}"))
    for index in range(6):
        x_shape, w_shape, stride, padding, out = _random_conv(rng, max_size=7, max_kernel=3)
        X, W = rng.standard_normal(x_shape), rng.standard_normal(w_shape) / 2
        G = rng.standard_normal((x_shape[0], w_shape[0], *out))
        eps = (1e-5, 1e-3, 1e-1)[index % 3]  # at 1e-1 only the central difference itself passes
        cases.append(Case((X, W, G, stride, padding, eps),
                          label=f"{shape_label(X=X, W=W, G=G)}, stride={stride}, padding={padding}, eps={eps:g}"))
    X, W, G = fixed.integers(-3, 4, size=(1, 2, 4, 4)), fixed.integers(-1, 2, size=(2, 2, 2, 2)), fixed.integers(-5, 6, size=(1, 2, 3, 3))
    cases.append(Case((X, W, G, 1, 0, 0.25), label=f"integer inputs, {shape_label(X=X, W=W, G=G)}, eps=0.25"))
    return cases


TASKS = [
    Task("conv2d_backward_input", 3, _input_cases, rtol=1e-5, atol=1e-6, dtype_rule="floats", description="dL/dX"),
    Task("conv2d_backward_weight", 3, _weight_cases, rtol=1e-5, atol=1e-6, dtype_rule="floats", description="dL/dW"),
    Task("conv2d_backward_bias", 1, _bias_cases, rtol=1e-5, atol=1e-6, dtype_rule="floats", description="dL/db"),
    Task("numerical_gradient_of_conv", 3, _numerical_cases, rtol=1e-7, atol=1e-8, dtype_rule="exact",
         description="central differences of a convolution's loss"),
]
