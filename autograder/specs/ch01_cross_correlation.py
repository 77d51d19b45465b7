"""Grading spec for chapter 1: 2-D convolution and cross-correlation, and the input's gradient.

The tasks are variants of what the chapter displays (the true convolution with its flipped
kernel, a batch of images, the gradient with respect to the input), never the chapter's own
functions (``corr2d_loops``, ``corr2d`` and the kernel's gradient). Every task has fixed cases
(the same for every student: non-square inputs and kernels not symmetric in either axis, a
kernel as large as the input, a 1x1 kernel, integer inputs) before its random ones, so that a
bug is found whatever the per-student seed draws.
"""
import numpy as np

from autograder.spec import Case, Task, shape_label

# The lecture's 3x3 input and 2x2 kernel, convolved (kernel flipped in both axes). By hand: the
# flipped kernel is K[::-1, ::-1] = [[3, 2], [1, 0]], so
#   Y[0, 0] = 0*3 + 1*2 + 3*1 + 4*0 = 5      Y[0, 1] = 1*3 + 2*2 + 4*1 + 5*0 = 11
#   Y[1, 0] = 3*3 + 4*2 + 6*1 + 7*0 = 23     Y[1, 1] = 4*3 + 5*2 + 7*1 + 8*0 = 29.
# Without the flip (the cross-correlation) it is [[19, 25], [37, 43]]; with the rows flipped only
# (kernel [[2, 3], [0, 1]]) [[7, 13], [25, 31]]; with the columns flipped only (kernel
# [[1, 0], [3, 2]]) [[17, 23], [35, 41]]: the kernel is symmetric in neither axis, so each of
# those bugs fails this case. tests/test_autograder_fairness.py checks the solution against it.
LECTURE_X = np.arange(9).reshape(3, 3)
LECTURE_K = np.arange(4).reshape(2, 2)
LECTURE_CONVOLVED = np.array([[5, 11], [23, 29]])


def _corr2d(X, K):
    """The cross-correlation, for building perfect-fit targets here (the grader's process)."""
    windows = np.lib.stride_tricks.sliding_window_view(X, K.shape)
    return np.tensordot(windows, K, axes=([2, 3], [0, 1]))


def _convolve_cases(rng):
    fixed = np.random.default_rng(1001)  # fixed: the same values for every student
    cases = [Case((LECTURE_X.copy(), LECTURE_K.copy()),
                  label="the lecture's example, " + shape_label(X=LECTURE_X, K=LECTURE_K))]
    for (h, w), (kh, kw), what in (((4, 7), (2, 3), "non-square input and kernel"),
                                   ((7, 4), (3, 2), "the same, transposed"),
                                   ((1, 6), (1, 3), "a single row"),
                                   ((5, 1), (3, 1), "a single column")):
        X, K = fixed.standard_normal((h, w)), fixed.standard_normal((kh, kw))
        cases.append(Case((X, K), label=f"{what}, " + shape_label(X=X, K=K)))
    # A kernel symmetric in neither axis, with its weights far apart: forgetting the flip, or
    # flipping one axis only, moves the big weight to another corner.
    X, K = fixed.standard_normal((6, 5)), np.array([[10.0, 1.0, 0.0], [0.0, 0.0, -3.0]])
    cases.append(Case((X, K), label="one corner of the kernel dominates, " + shape_label(X=X, K=K)))
    X = fixed.integers(-5, 6, size=(5, 4)).astype(float)
    K = fixed.standard_normal((5, 4))
    cases.append(Case((X, K), label="kernel as large as the input, " + shape_label(X=X, K=K)))
    X, K = fixed.standard_normal((6, 9)), fixed.standard_normal((1, 1))
    cases.append(Case((X, K), label="1x1 kernel, " + shape_label(X=X, K=K)))
    X, K = fixed.integers(-9, 10, size=(6, 5)), fixed.integers(-3, 4, size=(2, 3))
    cases.append(Case((X, K), label="integer input and kernel, " + shape_label(X=X, K=K)))
    X, K = fixed.integers(0, 10, size=(5, 6)), fixed.standard_normal((3, 2))
    cases.append(Case((X, K), label="integer input, float kernel, " + shape_label(X=X, K=K)))
    for _ in range(6):
        h, w = (int(v) for v in rng.integers(1, 12, size=2))
        kh, kw = int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))
        X, K = rng.standard_normal((h, w)), rng.standard_normal((kh, kw))
        cases.append(Case((X, K), label=shape_label(X=X, K=K)))
    return cases


def _batch_cases(rng):
    fixed = np.random.default_rng(1002)
    cases = []
    for (n, h, w), (kh, kw), what in (((3, 4, 7), (2, 3), "non-square images and kernel"),
                                      ((1, 5, 6), (3, 2), "a batch of one image"),
                                      # N == H: windows slid along the batch axis instead of an
                                      # image axis give an output of the right shape, wrong values.
                                      ((5, 5, 7), (2, 3), "as many images as rows"),
                                      ((4, 3, 5), (3, 5), "kernel as large as the images"),
                                      ((2, 6, 9), (1, 1), "1x1 kernel")):
        X, K = fixed.standard_normal((n, h, w)), fixed.standard_normal((kh, kw))
        cases.append(Case((X, K), label=f"{what}, " + shape_label(X=X, K=K)))
    X, K = fixed.integers(-9, 10, size=(3, 6, 5)), fixed.integers(-3, 4, size=(2, 3))
    cases.append(Case((X, K), label="integer images and kernel, " + shape_label(X=X, K=K)))
    X, K = fixed.integers(0, 10, size=(2, 5, 6)), fixed.standard_normal((3, 2))
    cases.append(Case((X, K), label="integer images, float kernel, " + shape_label(X=X, K=K)))
    for _ in range(6):
        n, h, w = (int(v) for v in rng.integers(1, 10, size=3))
        kh, kw = int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))
        X, K = rng.standard_normal((n, h, w)), rng.standard_normal((kh, kw))
        cases.append(Case((X, K), label=shape_label(X=X, K=K)))
    # The last case is the visible test's counted call: 300 images of 20x20 and a 3x3 kernel, where
    # a loop over the images runs at least 600 lines and one over the 300 * 18 * 18 output pixels
    # about 200,000; the notebook allows fewer than 200 (a loop over the 9 kernel entries runs ~30).
    X, K = rng.standard_normal((300, 20, 20)), rng.standard_normal((3, 3))
    cases.append(Case((X, K), label="no Python loop over images or output pixels, " + shape_label(X=X, K=K),
                      count_lines=True))
    return cases


def _input_gradient_cases(rng):
    fixed = np.random.default_rng(1003)
    cases = []
    X, K = fixed.standard_normal((5, 6)), fixed.standard_normal((2, 3))
    cases.append(Case((X, K, _corr2d(X, K)), label="a perfect fit, " + shape_label(X=X, K=K, Y=_corr2d(X, K))))
    # By hand (the notebook's visible test): zero image, the lecture's kernel, a target of ones:
    # dL/dX = [[0, -2, -2], [-4, -12, -8], [-4, -10, -6]].
    X, K, Y = np.zeros((3, 3)), LECTURE_K.copy(), np.ones((2, 2))
    cases.append(Case((X, K, Y), label="zero image, the lecture's kernel, " + shape_label(X=X, K=K, Y=Y)))
    for (h, w), (kh, kw), what in (((4, 7), (2, 3), "non-square input and kernel"),
                                   ((7, 4), (3, 2), "the same, transposed"),
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
    Task("convolve2d_loops", 3, _convolve_cases, description="the true convolution (kernel flipped), with loops"),
    Task("corr2d_batch", 3, _batch_cases, max_python_lines=199,
         description="a batch of images, no loop over images or pixels"),
    Task("input_gradient", 4, _input_gradient_cases,
         description="gradient of the squared loss with respect to the input"),
]
