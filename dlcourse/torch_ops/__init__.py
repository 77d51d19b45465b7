"""PyTorch twin: every operation written with PyTorch tensor operations.

Same names and signatures as :mod:`dlcourse.numpy_ops`.  Inputs are tensors (anything else is
converted with ``torch.as_tensor``); the computation runs on the inputs' device, so moving the
inputs to :func:`dlcourse.device` is all it takes to run on a GPU.
"""
from dlcourse.shapes import conv_output_shape
from dlcourse.torch_ops.conv import (
    conv1x1,
    conv2d,
    conv_transpose2d,
    corr2d,
    corr2d_loops,
    corr2d_multi_in,
    corr2d_multi_in_out,
    pad2d,
)
from dlcourse.torch_ops.layers import (
    linear,
    log_softmax,
    relu,
    sigmoid,
    softmax,
    softmax_cross_entropy,
    tanh,
)
from dlcourse.torch_ops.pool import (
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
]
