"""What the twin tests share: one adapter that runs a case on either twin, and the hypothesis
strategies for convolution, pooling and normalization cases.

``Twin("torch_ops")("conv2d", X, W, b=b, stride=2)`` converts NumPy inputs (also inside lists and
tuples, and keyword arguments) to the twin's native type, calls the function, checks every array
that comes back has the twin's type (``np.ndarray`` or ``torch.Tensor``), and returns NumPy
(tuples and lists element-wise).  Test modules import the ``twin`` fixture from here::

    from twins import TWIN_NAMES, Twin, twin  # noqa: F401  (twin is a fixture)
"""
from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
from hypothesis import strategies as st

TWIN_NAMES = ("numpy_ops", "torch_ops")


def t(a):
    """A NumPy array as a tensor sharing its memory (None stays None)."""
    return None if a is None else torch.from_numpy(np.ascontiguousarray(a))


class Twin:
    """Small adapter so one test body runs on either twin."""

    def __init__(self, name):
        self.name = name
        self.ops = importlib.import_module(f"dlcourse.{name}")
        self.native = np.ndarray if name == "numpy_ops" else torch.Tensor

    def array(self, value, dtype=None):
        """The twin's native input: numeric arrays become tensors for torch_ops; anything else
        (strings, objects, None) is passed through untouched so error handling can be tested."""
        arr = np.asarray(value, dtype=dtype) if not isinstance(value, torch.Tensor) else value
        if self.name == "torch_ops" and isinstance(arr, np.ndarray) and arr.dtype.kind in "biuf":
            return torch.from_numpy(np.ascontiguousarray(arr))
        if self.name == "torch_ops" and isinstance(arr, np.ndarray):
            return value
        return arr

    def native_args(self, value):
        """NumPy arrays -> native, recursing into lists and tuples; everything else unchanged."""
        if isinstance(value, np.ndarray):
            return self.array(value)
        if isinstance(value, (list, tuple)):
            return type(value)(self.native_args(v) for v in value)
        return value

    def to_numpy(self, out, fname="?"):
        """A result back as NumPy, checking each array has the twin's native type."""
        if isinstance(out, (list, tuple)):
            return type(out)(self.to_numpy(o, fname) for o in out)
        if isinstance(out, (np.ndarray, torch.Tensor)):
            assert isinstance(out, self.native), f"{self.name}.{fname} returned {type(out).__name__}"
            return out.detach().cpu().numpy() if isinstance(out, torch.Tensor) else out
        return out

    def __call__(self, fname, *arrays, **kwargs):
        """Call ``fname`` with NumPy inputs converted to native ones; return NumPy results."""
        args = self.native_args(list(arrays))
        kwargs = {k: self.native_args(v) for k, v in kwargs.items()}
        return self.to_numpy(getattr(self.ops, fname)(*args, **kwargs), fname)

    def __repr__(self):
        return self.name


@pytest.fixture(params=TWIN_NAMES)
def twin(request):
    return Twin(request.param)


# --- hypothesis strategies -----------------------------------------------------------------------

seeds = st.integers(0, 2**32 - 1)
finite = st.floats(-30, 30, allow_nan=False, width=64)


def as_pair(value):
    return value if isinstance(value, tuple) else (value, value)


def int_or_pair(values):
    return st.one_of(values, st.tuples(values, values))


@st.composite
def conv2d_cases(draw, max_groups=3, max_size=10, max_batch=3):
    """``dict(shapes=(X, W, b or None), kwargs=conv2d keywords, seed)`` that torch accepts."""
    groups = draw(st.integers(1, max_groups))
    c, o = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    n = draw(st.integers(1, max_batch))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride, padding = draw(int_or_pair(st.integers(1, 3))), draw(int_or_pair(st.integers(0, 2)))
    dilation = draw(int_or_pair(st.integers(1, 3)))
    (ph, pw), (dh, dw) = as_pair(padding), as_pair(dilation)
    lo_h, lo_w = max(1, dh * (kh - 1) + 1 - 2 * ph), max(1, dw * (kw - 1) + 1 - 2 * pw)
    h, w = draw(st.integers(lo_h, max(lo_h, max_size))), draw(st.integers(lo_w, max(lo_w, max_size)))
    bias = draw(st.booleans())
    return dict(shapes=((n, c, h, w), (o, c // groups, kh, kw), (o,) if bias else None),
                kwargs=dict(stride=stride, padding=padding, dilation=dilation, groups=groups), seed=draw(seeds))


def draw_arrays(case, dtype=np.float64):
    """Standard-normal arrays for a case's ``shapes`` (None stays None), from its seed."""
    rng = np.random.default_rng(case["seed"])
    return [None if s is None else rng.standard_normal(s).astype(dtype) for s in case["shapes"]]


@st.composite
def pool_cases(draw):
    """``(shape, pooling keywords, seed)``: NCHW shapes with int-or-pair kernel/stride/padding torch accepts."""
    kernel = draw(st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4))))
    kh, kw = as_pair(kernel)
    stride = draw(st.one_of(st.none(), st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = draw(st.one_of(
        st.integers(0, min(kh, kw) // 2),
        st.tuples(st.integers(0, kh // 2), st.integers(0, kw // 2)),
    ))
    ph, pw = as_pair(padding)
    shape = (
        draw(st.integers(1, 3)),
        draw(st.integers(1, 3)),
        draw(st.integers(max(1, kh - 2 * ph), 9)),
        draw(st.integers(max(1, kw - 2 * pw), 9)),
    )
    kwargs = dict(kernel_size=kernel, padding=padding)
    if stride is not None or draw(st.booleans()):
        kwargs["stride"] = stride  # sometimes stride=None explicitly, sometimes left out
    return shape, kwargs, draw(seeds)


@st.composite
def batch_norm_shapes(draw, min_values=2):
    """``(N, C)`` or ``(N, C, H, W)`` with at least ``min_values`` values per channel."""
    four_d = draw(st.booleans())
    c = draw(st.integers(1, 4))
    if four_d:
        n, h, w = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
        if n * h * w < min_values:
            n = min_values
        return (n, c, h, w)
    return (draw(st.integers(min_values, 6)), c)
