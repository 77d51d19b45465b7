"""Array comparisons with messages a student can act on.

Used by the visible tests in the exercise notebooks (``assert_close``) and by the autograder
(``describe_mismatch`` with ``reveal=False``, which never prints expected values).
"""
from __future__ import annotations

import numpy as np

__all__ = ["describe_mismatch", "assert_close", "count_python_lines"]


def _to_numpy(value):
    # Tensors (on any device) and array-likes become arrays without importing torch here.
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def describe_mismatch(actual, expected, rtol=1e-5, atol=1e-8, reveal=True, check_dtype_kind=True):
    """Return ``None`` when ``actual`` matches ``expected``, else a one-line explanation.

    The explanation says what is wrong first (type, shape, dtype kind, NaNs, values) and, for
    values, where the largest error is.  With ``reveal=False`` it never shows expected values.
    """
    if actual is None:
        return "returned None: did you forget a `return` statement?"
    try:
        got = _to_numpy(actual)
    except Exception as err:  # noqa: BLE001 - any failure to convert is the student's type error
        return f"returned a {type(actual).__name__}, which is not an array ({err})"
    want = _to_numpy(expected)
    if got.dtype == object or not (np.issubdtype(got.dtype, np.number) or got.dtype == np.bool_):
        return f"returned an array of dtype {got.dtype}; expected numbers"
    if got.shape != want.shape:
        return f"wrong shape: got {got.shape}, expected {want.shape}"
    if check_dtype_kind and np.issubdtype(want.dtype, np.floating) and not np.issubdtype(got.dtype, np.inexact):
        return f"wrong dtype: got {got.dtype}, expected a floating-point array like {want.dtype}"
    if got.size == 0:
        return None
    got64, want64 = got.astype(np.float64), want.astype(np.float64)
    bad_nan = np.isnan(got64) & ~np.isnan(want64)
    if bad_nan.any():
        return f"{int(bad_nan.sum())} of {got.size} values are NaN"
    close = np.isclose(got64, want64, rtol=rtol, atol=atol, equal_nan=True)
    if close.all():
        return None
    err = np.where(close, 0.0, np.abs(got64 - want64))
    where = np.unravel_index(np.argmax(err), err.shape)
    where_text = "" if got.ndim == 0 else f" at index {tuple(int(i) for i in where)}"
    message = (
        f"wrong values: {int((~close).sum())} of {got.size} entries differ; "
        f"largest error {err[where]:.3g}{where_text}"
    )
    if reveal:
        message += f" (got {got64[where]:.6g}, expected {want64[where]:.6g})"
    return message


def assert_close(actual, expected, case="", rtol=1e-5, atol=1e-8):
    """Raise ``AssertionError`` naming ``case`` and what is wrong unless ``actual`` matches."""
    problem = describe_mismatch(actual, expected, rtol=rtol, atol=atol, reveal=True)
    if problem is not None:
        prefix = f"[{case}] " if case else ""
        raise AssertionError(prefix + problem)


def count_python_lines(fn, *args, **kwargs):
    """Call ``fn(*args, **kwargs)`` and count the lines of *your* Python code it runs.

    Library code (NumPy, PyTorch, the standard library, this course library) is not counted,
    so a vectorized function runs a handful of lines while a Python loop over every output
    pixel runs thousands: the exercises use this to check "no loop over the output".
    """
    import os
    import sys

    library = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(__file__)})
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        filename = frame.f_code.co_filename
        if filename.startswith(library) or "site-packages" in filename:
            return None
        if event == "line":
            count += 1
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        fn(*args, **kwargs)
    finally:
        sys.settrace(previous)
    return count
