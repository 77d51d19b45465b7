"""Messages from the sandbox are checked before the grader uses them: a forged or malformed one
is ignored, and a forged ``.npy`` header cannot make the grader allocate what it claims."""
from __future__ import annotations

import io

import numpy as np
import pytest

from autograder.sandbox import _load_npy, _well_formed


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize("array", [np.arange(6.0).reshape(2, 3), np.float64(3), np.array([True, False]),
                                   np.zeros((0, 4), np.float32), np.arange(12).reshape(3, 4).T])
def test_honest_npy_bytes_load_as_they_were_saved(array):
    got = _load_npy(_npy(array))
    assert got.dtype == np.asarray(array).dtype and np.array_equal(got, array)


def test_a_header_claiming_a_terabyte_is_refused_without_allocating_it():
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,), }"
    header += b" " * (118 - len(header)) + b"\n"
    raw = np.lib.format.magic(1, 0) + len(header).to_bytes(2, "little") + header + b"\0" * 8
    with pytest.raises(ValueError, match="does not match"):
        _load_npy(raw)


def test_truncated_npy_bytes_are_refused():
    with pytest.raises(ValueError):
        _load_npy(_npy(np.arange(10.0))[:-8])


@pytest.mark.parametrize("message", [
    [1, 2], "done", {"event": "nope"}, {"event": "cell_start", "cell": "0"},
    {"event": "cell_start", "cell": True}, {"event": "cell_start", "cell": -1},
    {"event": "cell_start", "cell": 10**9}, {"event": "call_start", "task": 3, "case": 0},
    {"event": "call_done", "task": "f", "case": 0, "npy": 5},
    {"event": "call_done", "task": "f", "case": 0, "forbidden": [1]},
    {"event": "cell_done", "cell": 0, "error": {"a": 1}},
])
def test_malformed_messages_are_rejected(message):
    assert not _well_formed(message)


@pytest.mark.parametrize("message", [
    {"event": "cell_start", "cell": 0}, {"event": "cell_done", "cell": 3, "error": None},
    {"event": "cells_done"}, {"event": "call_start", "task": "f", "case": 2},
    {"event": "call_done", "task": "f", "case": 0, "npy": "AA==", "error": None, "forbidden": None},
    {"event": "done"},
])
def test_the_workers_own_messages_are_accepted(message):
    assert _well_formed(message)
