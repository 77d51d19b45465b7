"""NumPy twin: every operation written with NumPy alone.

Same names and signatures as :mod:`dlcourse.torch_ops`, except the names in ``NUMPY_ONLY``
(im2col and the hand-written backward passes of convolution and the chapter-7 layers, which
PyTorch gets from autograd).
Inputs are anything ``np.asarray`` accepts; outputs are ``np.ndarray``.
"""
from dlcourse.shapes import conv_output_shape
from dlcourse.numpy_ops.conv import (
    conv1x1,
    conv2d,
    conv2d_backward,
    conv_transpose2d,
    corr2d,
    corr2d_loops,
    corr2d_multi_in,
    corr2d_multi_in_out,
    pad2d,
)
from dlcourse.numpy_ops.im2col import col2im, conv_matrix, im2col
from dlcourse.numpy_ops.layers import (
    linear,
    linear_backward,
    log_softmax,
    relu,
    relu_backward,
    sigmoid,
    sigmoid_backward,
    softmax,
    softmax_cross_entropy,
    tanh,
    tanh_backward,
)
from dlcourse.numpy_ops.pool import (
    avg_pool2d,
    avg_pool2d_backward,
    global_avg_pool2d,
    max_pool2d,
    max_pool2d_backward,
)

__all__ = [
    "conv_output_shape",
    "corr2d_loops",
    "corr2d",
    "corr2d_multi_in",
    "corr2d_multi_in_out",
    "conv1x1",
    "pad2d",
    "conv2d",
    "conv_transpose2d",
    "max_pool2d",
    "avg_pool2d",
    "global_avg_pool2d",
    "max_pool2d_backward",
    "avg_pool2d_backward",
    # chapter 7: a classifier's layers and loss
    "linear",
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "log_softmax",
    "softmax_cross_entropy",
    # NumPy only (chapters 5-6: the matrices and hand-written backward passes; the torch twin
    # gets these from autograd): see NUMPY_ONLY.
    "im2col",
    "col2im",
    "conv_matrix",
    "conv2d_backward",
    "linear_backward",
    "relu_backward",
    "sigmoid_backward",
    "tanh_backward",
]

NUMPY_ONLY = (
    "im2col", "col2im", "conv_matrix", "conv2d_backward",
    "linear_backward", "relu_backward", "sigmoid_backward", "tanh_backward",
)
