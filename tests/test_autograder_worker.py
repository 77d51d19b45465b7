"""Small pieces of the sandbox worker, tested directly (the batch tests run them for real)."""
import numpy as np

from autograder import worker


def test_an_array_modified_inside_a_tuple_argument_is_found():
    params = (np.zeros(3), np.ones((2, 2)))
    args = [np.arange(4.0), params, 5]
    snapshot = worker._snapshot(args)
    assert worker._modified(args, snapshot, np) is None
    params[1][0, 0] = 7.0
    assert worker._modified(args, snapshot, np) == "2.2"


def test_a_modified_top_level_array_is_named_by_its_position():
    args = [np.arange(4.0), np.arange(3)]
    snapshot = worker._snapshot(args)
    args[0][1] = -1
    assert worker._modified(args, snapshot, np) == "1"


def test_nan_in_an_unchanged_input_is_not_a_change():
    args = [np.array([np.nan, 1.0])]
    assert worker._modified(args, worker._snapshot(args), np) is None


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
