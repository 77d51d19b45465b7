"""PyTorch twin: every operation written with PyTorch tensor operations.

Same names and signatures as :mod:`dlcourse.numpy_ops` (minus its NumPy-only backward passes;
the list lives once, in :mod:`dlcourse._registry`).  Inputs are tensors (anything else is
converted with ``torch.as_tensor``); the computation runs on the inputs' device, so moving the
inputs to :func:`dlcourse.device` is all it takes to run on a GPU.
"""
from dlcourse import _registry

__all__ = _registry.populate("torch_ops", globals())
