"""Small pieces of the sandbox worker and of the grader's side of its checks, tested directly
(the batch tests and tests/test_autograder_guards.py run them for real)."""
import hashlib

import numpy as np

from autograder import grading, worker
from autograder.spec import Case


def _digest(array):
    return worker.input_digest(array, hashlib.sha256, np.ndarray.tobytes)


def test_an_input_digest_changes_with_any_value_dtype_or_shape():
    x = np.arange(6.0).reshape(2, 3)
    assert _digest(x) == _digest(x.copy())
    assert _digest(np.asfortranarray(x)) == _digest(x)  # the same values in another layout
    changed = x.copy()
    changed[1, 2] = -1
    assert _digest(changed) != _digest(x)
    assert _digest(x.astype(np.float32)) != _digest(x)
    assert _digest(x.reshape(3, 2)) != _digest(x)
    assert _digest(np.zeros((0, 3))) != _digest(np.zeros((3, 0)))


def test_the_worker_records_input_arrays_in_order_with_their_positions():
    arrays = {"a0": np.zeros(2), "a1": np.ones(3), "a2": np.eye(2)}
    record = []
    args = worker._decode([{"__array__": "a0"}, {"__tuple__": [5, {"__array__": "a1"}]}],
                          arrays, None, record)
    kwargs = worker._decode({"scale": {"__array__": "a2"}}, arrays, None, record)
    assert args[1][1] is arrays["a1"] and kwargs["scale"] is arrays["a2"]
    assert [worker.argument_label(p) for p, _ in record] == ["number 1", "number 2.2", "scale"]


def test_the_grader_names_the_modified_argument_inside_a_tuple():
    params = (np.zeros(3), np.ones((2, 2)))
    case = Case((np.arange(4.0), params, 5))
    reported = [d for _, d in grading.input_digests(case)]
    assert grading._changed_input(case, reported) is None
    modified = params[1].copy()
    modified[0, 0] = 7.0
    reported[2] = _digest(modified)
    assert "input argument number 2.2" in grading._changed_input(case, reported)


def test_a_report_without_the_inputs_digests_is_not_believed():
    case = Case((np.arange(4.0),))
    assert "does not say whether its inputs are unchanged" in grading._changed_input(case, None)
    assert "does not say" in grading._changed_input(case, [])


def test_nan_in_an_unchanged_input_is_not_a_change():
    case = Case((np.array([np.nan, 1.0]),))
    assert grading._changed_input(case, [_digest(np.array([np.nan, 1.0]))]) is None


def test_count_python_lines_tells_a_loop_from_array_code():
    from dlcourse.checks import count_python_lines

    def looped(x):
        total = 0.0
        for value in x:
            total += value
        return total

    x = np.arange(1000.0)
    assert count_python_lines(looped, x) > 1000
    assert count_python_lines(np.sum, x) == 0
    assert count_python_lines(lambda v: v.sum(), x) <= 2
