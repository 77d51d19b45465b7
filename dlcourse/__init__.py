"""dlcourse: the library the course book teaches, one operation at a time.

Every operation exists twice, with the same name and signature:

* :mod:`dlcourse.numpy_ops` -- written with NumPy only, to show the arithmetic;
* :mod:`dlcourse.torch_ops` -- written with PyTorch tensor operations, running on whatever
  device its inputs live on (see :func:`device`).

Both are tested against ``torch.nn.functional``.  The twins are imported lazily so that
``import dlcourse`` stays cheap and does not pull in PyTorch until it is needed.
"""
from __future__ import annotations

import importlib

from dlcourse.shapes import conv_output_shape

__all__ = ["device", "conv_output_shape", "numpy_ops", "torch_ops", "gradcheck"]
__version__ = "0.1.0"


def device():
    """Return the best available ``torch.device``: CUDA, else Apple's MPS, else the CPU."""
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def __getattr__(name):
    if name in ("numpy_ops", "torch_ops", "gradcheck"):
        return importlib.import_module(f"dlcourse.{name}")
    # So that a book page can show_source(dlcourse.models.ResNet.small) without importing it.
    if name in ("models", "numpy_lenet", "regularization", "transfer"):
        return importlib.import_module(f"dlcourse.{name}")
    raise AttributeError(f"module 'dlcourse' has no attribute {name!r}")
