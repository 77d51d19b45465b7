"""NumPy twin: every operation written with NumPy alone.

Same names and signatures as :mod:`dlcourse.torch_ops`.  Inputs are anything ``np.asarray``
accepts; outputs are ``np.ndarray``.
"""
from dlcourse.shapes import conv_output_shape
from dlcourse.numpy_ops.conv import (
    conv1x1,
    conv2d,
    corr2d,
    corr2d_loops,
    corr2d_multi_in,
    corr2d_multi_in_out,
    pad2d,
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
    "max_pool2d",
    "avg_pool2d",
    "global_avg_pool2d",
    "max_pool2d_backward",
    "avg_pool2d_backward",
]
