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


def _is_sequence(value):
    return isinstance(value, (tuple, list))


def _group_label(names):
    return ", ".join(n if isinstance(n, str) else f"({_group_label(n)})" for n in names)


def describe_mismatch(actual, expected, rtol=1e-5, atol=1e-8, reveal=True, check_dtype_kind=True,
                      names=None):
    """Return ``None`` when ``actual`` matches ``expected``, else a one-line explanation.

    The explanation says what is wrong first (type, shape, dtype kind, NaNs, values) and, for
    values, where the largest error is.  With ``reveal=False`` it never shows expected values.

    When ``expected`` is a tuple (or list) of arrays, nested at most one level (a backward pass's
    ``(dX, dW, db)``, an LSTM's ``(Y, (h_T, c_T))``), ``actual`` must be a tuple or list of the
    same structure and is compared element by element; the message names the first wrong
    element: ``element 2 of 3 (dW): wrong values ...``.  ``names`` mirrors that structure
    (``("Y", ("h_T", "c_T"))``); without it elements are named by position only.
    """
    if _is_sequence(expected):
        return _describe_tuple_mismatch(actual, expected, names, (), len(expected),
                                        dict(rtol=rtol, atol=atol, reveal=reveal,
                                             check_dtype_kind=check_dtype_kind))
    return _describe_array_mismatch(actual, expected, rtol, atol, reveal, check_dtype_kind)


def _describe_tuple_mismatch(actual, expected, names, path, top, options):
    names = tuple(names) if names else ()
    if len(names) != len(expected):
        names = names if not names else ()  # a spec whose names do not fit: positions only
    listed = f" ({_group_label(names)})" if names else ""
    where = f"element {'.'.join(map(str, path))} of {top}: " if path else ""
    count = f"{len(expected)} array{'s' if len(expected) != 1 else ''}"
    if actual is None:
        return f"{where}returned None: did you forget a `return` statement? Expected a tuple of {count}{listed}"
    if not _is_sequence(actual):
        what = "a single array" if hasattr(actual, "shape") else f"a {type(actual).__name__}"
        return f"{where}returned {what} where a tuple of {count}{listed} is expected"
    if len(actual) != len(expected):
        return f"{where}returned a tuple of {len(actual)} elements; expected {count}{listed}"
    for index, (got, want) in enumerate(zip(actual, expected), start=1):
        name = names[index - 1] if names else None
        here = path + (index,)
        if _is_sequence(want):
            problem = _describe_tuple_mismatch(got, want, name if isinstance(name, tuple) else None,
                                               here, top, options)
            if problem:
                return problem
            continue
        problem = _describe_array_mismatch(got, want, **options)
        if problem:
            label = f" ({name})" if isinstance(name, str) else ""
            return f"element {'.'.join(map(str, here))} of {top}{label}: {problem}"
    return None


def _describe_array_mismatch(actual, expected, rtol, atol, reveal, check_dtype_kind):
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


def assert_close(actual, expected, case="", rtol=1e-5, atol=1e-8, names=None):
    """Raise ``AssertionError`` naming ``case`` and what is wrong unless ``actual`` matches
    (tuples of arrays element by element, see :func:`describe_mismatch`)."""
    problem = describe_mismatch(actual, expected, rtol=rtol, atol=atol, reveal=True, names=names)
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
