"""NumPy twin: every operation written with NumPy alone.

Same names and signatures as :mod:`dlcourse.torch_ops`, except the names in ``NUMPY_ONLY``
(im2col and the hand-written backward passes, which PyTorch gets from autograd).  What is
exported is listed once, in :mod:`dlcourse._registry`.
Inputs are anything ``np.asarray`` accepts; outputs are ``np.ndarray``.
"""
from dlcourse import _registry

NUMPY_ONLY = _registry.NUMPY_ONLY
__all__ = _registry.populate("numpy_ops", globals())
