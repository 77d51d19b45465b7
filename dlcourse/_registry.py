"""What each twin exports: ONE list that both ``numpy_ops/__init__.py`` and
``torch_ops/__init__.py`` are built from.

Every row names a submodule of the twins (or an absolute module both re-export), the public names
it contributes in order, and which of those are NumPy only (the hand-written backward passes and
the im2col matrices, which the torch twin gets from autograd).  A twin's ``__all__`` is the rows'
names in order, minus the NumPy-only ones for the torch twin, so the two lists can never drift
apart; ``tests/test_conv_twins.py`` checks the signatures match.  Adding an operation: write it in
both ``numpy_ops/<topic>.py`` and ``torch_ops/<topic>.py`` and add its name here.
"""
from __future__ import annotations

import importlib

# (module, names, NumPy-only names among them).  A module starting with "." is the twin's own
# submodule; rows whose names are all NumPy-only need no torch module.
EXPORTS = (
    ("dlcourse.shapes", ("conv_output_shape",), ()),
    # chapters 1-3: cross-correlation, channels, padding, the convolution layer
    (".conv", ("corr2d_loops", "corr2d", "corr2d_multi_in", "corr2d_multi_in_out", "conv1x1", "pad2d",
               "conv2d", "conv_transpose2d"), ()),
    # chapter 4 (and 6): pooling with its backward, in both twins
    (".pool", ("max_pool2d", "avg_pool2d", "global_avg_pool2d", "max_pool2d_backward", "avg_pool2d_backward"), ()),
    # chapter 7: a classifier's layers and loss
    (".layers", ("linear", "relu", "sigmoid", "tanh", "softmax", "log_softmax", "softmax_cross_entropy",
                 "linear_backward", "relu_backward", "sigmoid_backward", "tanh_backward"),
     ("linear_backward", "relu_backward", "sigmoid_backward", "tanh_backward")),
    # chapters 5-6: the matrices and convolution's hand-written backward
    (".im2col", ("im2col", "col2im", "conv_matrix"), ("im2col", "col2im", "conv_matrix")),
    (".conv", ("conv2d_backward",), ("conv2d_backward",)),
    # chapters 8-13: dropout, batch normalization, residual addition, channel concatenation
    (".dropout", ("dropout", "dropout_mask", "dropout_backward"), ("dropout_backward",)),
    (".norm", ("batch_norm", "batch_norm_backward"), ("batch_norm_backward",)),
    (".merge", ("residual_add", "concat_channels", "residual_add_backward", "concat_channels_backward"),
     ("residual_add_backward", "concat_channels_backward")),
    # chapters 14-16: recurrent cells and sequences (torch's weight layout); NumPy: forward with cache
    (".rnn", ("rnn_cell", "lstm_cell", "gru_cell", "rnn", "lstm", "gru", "rnn_forward", "lstm_forward", "gru_forward"),
     ("rnn_forward", "lstm_forward", "gru_forward")),
    (".rnn", ("rnn_backward", "lstm_backward", "gru_backward"), ("rnn_backward", "lstm_backward", "gru_backward")),
    (".rnn", ("rnn_state_gradient_norms", "lstm_state_gradient_norms"),
     ("rnn_state_gradient_norms", "lstm_state_gradient_norms")),
    # chapter 17: more activations (sigmoid, tanh, ReLU are chapter 7's, in .layers)
    (".activations", ("leaky_relu", "gelu", "leaky_relu_backward", "gelu_backward"),
     ("leaky_relu_backward", "gelu_backward")),
    # chapter 18: weight initialization (new arrays / tensors of a given shape)
    (".init", ("fan_in_and_fan_out", "calculate_gain", "normal_init", "xavier_uniform", "xavier_normal",
               "kaiming_uniform", "kaiming_normal"), ()),
    # chapters 20-21: reconstruction losses, denoising corruptions, the GAN losses (in the logits)
    (".generative", ("mse_loss", "bce_with_logits", "gaussian_noise", "masking_noise", "gan_discriminator_loss",
                     "gan_generator_loss_minimax", "gan_generator_loss_nonsaturating"), ()),
    (".generative", ("mse_loss_backward", "bce_with_logits_backward", "gan_discriminator_loss_backward",
                     "gan_generator_loss_minimax_backward", "gan_generator_loss_nonsaturating_backward"),
     ("mse_loss_backward", "bce_with_logits_backward", "gan_discriminator_loss_backward",
      "gan_generator_loss_minimax_backward", "gan_generator_loss_nonsaturating_backward")),
    # chapter 19: weight decay (the L2 penalty and lecture 004's SGD step on one array)
    (".regularization", ("l2_penalty", "sgd_update", "l2_penalty_backward"), ("l2_penalty_backward",)),
)

TWINS = ("numpy_ops", "torch_ops")

NUMPY_ONLY = tuple(name for _, _, only in EXPORTS for name in only)
"""Names only :mod:`dlcourse.numpy_ops` has (autograd computes them in the torch twin)."""


def names(twin):
    """The public names of ``twin`` (``"numpy_ops"`` or ``"torch_ops"``), in export order."""
    if twin not in TWINS:
        raise ValueError(f"twin must be one of {TWINS}, got {twin!r}")
    return [n for _, row, _ in EXPORTS for n in row if twin == "numpy_ops" or n not in NUMPY_ONLY]


def populate(twin, namespace):
    """Import every exported name of ``twin`` into ``namespace`` (a package's ``globals()``).

    Sets ``__all__`` there too; returns it.  Called once by each twin's ``__init__``.
    """
    exported = set(names(twin))
    for module, row, _ in EXPORTS:
        wanted = [n for n in row if n in exported]
        if not wanted:
            continue
        mod = importlib.import_module(f"dlcourse.{twin}{module}" if module.startswith(".") else module)
        for name in wanted:
            namespace[name] = getattr(mod, name)
    namespace["__all__"] = names(twin)
    return namespace["__all__"]
