"""Grading spec for chapter 3: multiple input and output channels, 1x1 convolution.

The tasks are variants of what the chapter displays (the depthwise cross-correlation, a
minibatch, a 1x1 layer with its bias on a minibatch), never the chapter's own functions.
Every task has fixed cases (the same for every student) before its random ones: as many output
as input channels never, so that swapped channel axes fail; non-square inputs and kernels; one
channel; integer inputs.
"""
import numpy as np

from autograder.spec import Case, Task, shape_label

# Every ATen operator PyTorch's own convolutions dispatch to: a torch task that must build the
# convolution from tensor operations may call none of them, whichever Python path leads there.
CONVOLUTION_OPS = (
    "conv2d", "convolution", "_convolution", "conv1d", "conv3d", "cudnn_convolution",
    "mkldnn_convolution", "_nnpack_spatial_convolution", "_slow_conv2d_forward",
    "thnn_conv2d", "slow_conv_dilated2d", "conv_transpose2d", "convolution_overrideable",
    # Other operators that compute a convolution (found by the red-team tests): 3-D and
    # transposed kernels run on a depth-1 or flipped input, the time-batch-channel 1-D kernel,
    # oneDNN's fused kernels, and the backward kernels (a gradient is a correlation too).
    "slow_conv3d", "slow_conv3d_forward", "slow_conv_dilated3d", "slow_conv_transpose2d",
    "slow_conv_transpose3d", "conv_transpose1d", "conv_transpose3d", "conv_tbc", "_convolution_mode",
    "_conv_depthwise2d", "conv_depthwise3d", "_convolution_pointwise", "_convolution_transpose_pointwise",
    "conv2d_run", "convolution_backward", "convolution_backward_overrideable", "_slow_conv2d_backward",
    "conv_tbc_backward", "_convolution_double_backward", "mkldnn_convolution_backward",
)


def _depthwise_cases(rng):
    fixed = np.random.default_rng(3001)
    cases = []
    for (c, h, w), (kh, kw), what in (((3, 4, 6), (2, 3), "three channels, non-square input and kernel"),
                                      ((1, 5, 5), (2, 2), "one channel"),
                                      ((2, 3, 5), (3, 5), "kernel as large as the input")):
        X, K = fixed.standard_normal((c, h, w)), fixed.standard_normal((c, kh, kw))
        cases.append(Case((X, K), label=f"{what}, " + shape_label(X=X, K=K)))
    X, K = fixed.integers(-5, 6, size=(2, 5, 4)), fixed.integers(-3, 4, size=(2, 2, 3))
    cases.append(Case((X, K), label="integer input and kernel, " + shape_label(X=X, K=K)))
    for _ in range(6):
        c = int(rng.integers(1, 5))
        h, w = (int(v) for v in rng.integers(2, 9, size=2))
        X = rng.standard_normal((c, h, w))
        K = rng.standard_normal((c, int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))))
        cases.append(Case((X, K), label=shape_label(X=X, K=K)))
    return cases


def _batch_cases(rng):
    fixed = np.random.default_rng(3002)
    cases = []
    for (n, c, h, w), (o, kh, kw), what in (((2, 2, 5, 6), (3, 2, 3), "2 images, 3 outputs from 2 inputs"),
                                            ((1, 3, 4, 4), (1, 2, 2), "one image, one output channel"),
                                            ((3, 1, 6, 4), (4, 3, 1), "one input channel"),
                                            ((2, 2, 3, 4), (2, 3, 4), "kernel as large as the input")):
        X, K = fixed.standard_normal((n, c, h, w)), fixed.standard_normal((o, c, kh, kw))
        cases.append(Case((X, K), label=f"{what}, " + shape_label(X=X, K=K)))
    X, K = fixed.integers(-5, 6, size=(2, 2, 4, 5)), fixed.integers(-3, 4, size=(3, 2, 2, 2))
    cases.append(Case((X, K), label="integer input and kernels, " + shape_label(X=X, K=K)))
    for _ in range(6):
        n, c, o = (int(v) for v in rng.integers(1, 5, size=3))
        h, w = (int(v) for v in rng.integers(2, 9, size=2))
        X = rng.standard_normal((n, c, h, w))
        K = rng.standard_normal((o, c, int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))))
        cases.append(Case((X, K), label=shape_label(X=X, K=K)))
    return cases


def _conv1x1_cases(rng):
    fixed = np.random.default_rng(3003)
    cases = []
    for (n, c, h, w), o, what in (((2, 3, 4, 6), 2, "2 outputs from 3 inputs, non-square"),
                                  ((3, 2, 5, 3), 4, "4 outputs from 2 inputs"),
                                  ((1, 1, 3, 3), 1, "one image, one channel")):
        X, K, b = fixed.standard_normal((n, c, h, w)), fixed.standard_normal((o, c, 1, 1)), fixed.standard_normal(o)
        cases.append(Case((X, K, b), label=f"{what}, " + shape_label(X=X, K=K, b=b)))
    X, K, b = fixed.integers(-5, 6, size=(2, 3, 2, 4)), fixed.integers(-3, 4, size=(2, 3, 1, 1)), fixed.integers(-2, 3, size=2)
    cases.append(Case((X, K, b), label="integer input, weights and bias, " + shape_label(X=X, K=K, b=b)))
    for _ in range(5):
        n, c, o = (int(v) for v in rng.integers(1, 6, size=3))
        X = rng.standard_normal((n, c, *(int(v) for v in rng.integers(1, 9, size=2))))
        K, b = rng.standard_normal((o, c, 1, 1)), rng.standard_normal(o)
        cases.append(Case((X, K, b), label=shape_label(X=X, K=K, b=b)))
    X, K, b = rng.standard_normal((4, 48, 30, 20)), rng.standard_normal((96, 48, 1, 1)), rng.standard_normal(96)
    cases.append(Case((X, K, b), label="one matrix product, " + shape_label(X=X, K=K, b=b), count_lines=True))
    return cases


def _conv2d_cases(rng):
    fixed = np.random.default_rng(3004)
    cases = []
    for (n, c, h, w), (o, kh, kw), what in (((2, 3, 5, 7), (4, 2, 3), "4 outputs from 3 inputs, non-square"),
                                            ((1, 1, 4, 4), (2, 4, 4), "kernel as large as the input"),
                                            ((3, 2, 6, 5), (1, 1, 1), "1x1 kernel, one output")):
        X, W, b = fixed.standard_normal((n, c, h, w)), fixed.standard_normal((o, c, kh, kw)), fixed.standard_normal(o)
        cases.append(Case((X, W, b), label=f"{what}, " + shape_label(X=X, W=W, b=b)))
    for _ in range(5):
        n, c, o = (int(v) for v in rng.integers(1, 4, size=3))
        h, w = (int(v) for v in rng.integers(3, 9, size=2))
        X = rng.standard_normal((n, c, h, w))
        W = rng.standard_normal((o, c, int(rng.integers(1, 4)), int(rng.integers(1, 4))))
        b = rng.standard_normal(o)
        cases.append(Case((X, W, b), label=shape_label(X=X, W=W, b=b)))
    return cases


TASKS = [
    Task("corr2d_depthwise", 3, _depthwise_cases, description="each channel with its own kernel, no sum"),
    Task("corr2d_multi_in_out_batch", 3, _batch_cases, description="a minibatch, many output channels"),
    Task("conv1x1_batch", 2, _conv1x1_cases, max_python_lines=39,
         description="a 1x1 convolution layer on a minibatch as one matrix product"),
    Task("conv2d_torch", 2, _conv2d_cases, library="torch", forbidden_ops=CONVOLUTION_OPS, dtype_rule="exact",
         returns_tensor=True,
         rtol=1e-4, atol=1e-6, description="a convolution layer from PyTorch tensor operations"),
]
