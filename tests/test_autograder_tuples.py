"""Tasks whose answer is a tuple of arrays (a backward pass's ``(dX, dW, db)``, an LSTM's
``(Y, (h_T, c_T))``): each element travels as its own ``.npy``, the sandbox's message schema
checks the structure, and the grader compares element by element as ONE task whose message names
the wrong element.  The reference side receives its arguments exactly as the worker does."""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest

from autograder import grading, sandbox
from autograder.sandbox import CallResult, RunReport, _load_result, _well_formed
from autograder.spec import Case, Task
from dlcourse.checks import describe_mismatch

NAMES = ("dX", "dW", "db")


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array))
    return base64.b64encode(buffer.getvalue()).decode()


# ---------------------------------------------------------------- comparison and its messages

def test_a_tuple_that_matches_element_by_element_passes():
    a, b = np.arange(3.0), np.ones((2, 2))
    assert describe_mismatch((a, b, 1.5), (a.copy(), b.copy(), np.float64(1.5)), names=NAMES) is None
    assert describe_mismatch([a, (b, a)], (a, (b, a)), names=("Y", ("h_T", "c_T"))) is None


def test_the_wrong_element_is_named_by_position_and_name():
    a = np.arange(3.0)
    message = describe_mismatch((a, a, a), (a, a + 1, a), names=NAMES, reveal=False)
    assert message.startswith("element 2 of 3 (dW): wrong values")
    assert "expected" not in message  # hidden side: no expected values


def test_an_element_inside_a_nested_tuple_is_named():
    a = np.zeros(2)
    message = describe_mismatch((a, (a, a + 1)), (a, (a, a)), names=("Y", ("h_T", "c_T")))
    assert message.startswith("element 2.2 of 2 (c_T): wrong values")


@pytest.mark.parametrize("got, expected_text", [
    (np.zeros(3), "returned a single array where a tuple of 3 arrays (dX, dW, db) is expected"),
    ((np.zeros(3),) * 4, "returned a tuple of 4 elements; expected 3 arrays (dX, dW, db)"),
    ((np.zeros(3),) * 2, "returned a tuple of 2 elements; expected 3 arrays (dX, dW, db)"),
    (None, "returned None"),
    ("abc", "returned a str where a tuple of 3 arrays"),
])
def test_wrong_arity_or_a_non_tuple_gets_a_clear_message(got, expected_text):
    message = describe_mismatch(got, (np.zeros(3),) * 3, names=NAMES)
    assert expected_text in message


def test_a_nested_element_that_is_not_a_tuple_is_named():
    a = np.zeros(2)
    message = describe_mismatch((a, a), (a, (a, a)), names=("Y", ("h_T", "c_T")))
    assert message == "element 2 of 2: returned a single array where a tuple of 2 arrays (h_T, c_T) is expected"


def test_a_task_declares_its_tuple_with_output_names():
    assert Task("f", 1, cases=lambda rng: [], output_names=("Y", ("h_T", "c_T"))).returns_tuple
    assert not Task("f", 1, cases=lambda rng: []).returns_tuple
    with pytest.raises(ValueError, match="output_names"):
        Task("f", 1, cases=lambda rng: [], output_names=(("a", 3),))


# ---------------------------------------------------------------- the sandbox message schema

@pytest.mark.parametrize("npy", [["AA==", "AA=="], ["AA==", ["AA==", "AA=="]], []])
def test_tuple_results_nested_one_level_are_well_formed(npy):
    assert _well_formed({"event": "call_done", "task": "f", "case": 0, "npy": npy, "error": None,
                         "forbidden": None})


@pytest.mark.parametrize("npy", [
    ["AA==", [["AA=="]]],              # nested two levels
    ["AA==", None],                     # a hole
    ["AA==", 3],                        # not .npy text
    ["AA=="] * (sandbox.MAX_PARTS + 1),  # a forged element count beyond any task's
    ["AA==", ["AA=="] * (sandbox.MAX_PARTS + 1)],
    {"0": "AA=="},
])
def test_forged_tuple_structures_are_rejected_by_the_schema(npy):
    assert not _well_formed({"event": "call_done", "task": "f", "case": 0, "npy": npy,
                             "error": None, "forbidden": None})


def test_a_tuple_result_decodes_to_a_tuple_of_arrays_as_nested():
    got = _load_result([_npy(np.arange(3)), [_npy(np.eye(2)), _npy(np.float32(2))]])
    assert isinstance(got, tuple) and isinstance(got[1], tuple)
    assert np.array_equal(got[0], np.arange(3)) and np.array_equal(got[1][0], np.eye(2))
    assert got[1][1].dtype == np.float32


# ---------------------------------------------------------------- reference side = worker side

def test_the_reference_gets_nested_arguments_converted_as_the_worker_does():
    torch = pytest.importorskip("torch")
    params = (np.ones((2, 3)), np.zeros(2), [np.eye(2), 3])
    case = Case((np.arange(4.0), params, np.int64(2)), kwargs={"scale": np.float64(0.5)})
    args, kwargs = grading.arguments_as_sent(case, "torch")
    assert isinstance(args[0], torch.Tensor)
    assert isinstance(args[1], tuple) and all(isinstance(p, torch.Tensor) for p in args[1][:2])
    assert isinstance(args[1][2], list) and isinstance(args[1][2][0], torch.Tensor) and args[1][2][1] == 3
    assert type(args[2]) is int and type(kwargs["scale"]) is float  # NumPy scalars travel as JSON
    np_args, _ = grading.arguments_as_sent(case, "numpy")
    assert isinstance(np_args[1][0], np.ndarray) and np.array_equal(np_args[1][0], params[0])
    assert np_args[1][0] is not params[0]  # a copy: a reference that writes cannot touch the case


def test_a_reference_returning_a_tuple_without_output_names_is_a_spec_error():
    case = Case((np.ones(2),))
    with pytest.raises(ValueError, match="output_names"):
        grading._reference_output(lambda x: (x, x), case, "numpy")


# ---------------------------------------------------------------- graded through the sandbox

def _linear_backward(dY, X, W):
    """Reference: the gradients of Y = X @ W.T + b."""
    return dY @ W, dY.T @ X, dY.sum(axis=0)


def _cases(rng):
    cases = []
    for n, d, k in ((3, 4, 2), (5, 2, 3)):
        dY, X, W = rng.standard_normal((n, k)), rng.standard_normal((n, d)), rng.standard_normal((k, d))
        cases.append(Case((dY, X, W), label=f"n={n}"))
    return cases


NUMPY_STUDENT = '''
import numpy as np
def right(dY, X, W):
    return dY @ W, dY.T @ X, dY.sum(axis=0)
def right_as_list(dY, X, W):
    return [dY @ W, dY.T @ X, dY.sum(axis=0)]
def wrong_db(dY, X, W):
    return dY @ W, dY.T @ X, dY.mean(axis=0)
def four_elements(dY, X, W):
    return dY @ W, dY.T @ X, dY.sum(axis=0), dY
def one_array(dY, X, W):
    return dY @ W
'''

TORCH_STUDENT = '''
import torch
def right(dY, X, W):
    return dY @ W, (dY.T @ X, dY.sum(dim=0))
def wrong_c(dY, X, W):
    return dY @ W, (dY.T @ X, dY.sum(dim=0) + 1)
def flat(dY, X, W):
    return dY @ W, dY.T @ X, dY.sum(dim=0)
'''


def _grade(student_source, functions, library, output_names, reference):
    tasks = [Task(name, 2, _cases, library=library, output_names=output_names) for name in functions]
    rng = np.random.default_rng(7)
    cases = {t.function: t.cases(rng) for t in tasks}
    report = sandbox.run_in_sandbox([{"label": "answers", "source": student_source}],
                                    [(t, cases[t.function]) for t in tasks], library, sandbox.Limits(),
                                    require_isolation=False)
    references = {name: reference for name in functions}
    return {t.function: grading._judge(t, cases[t.function], report, references, {}) for t in tasks}


@pytest.mark.slow
def test_numpy_task_returning_a_tuple_is_graded_element_by_element_as_one_task():
    got = _grade(NUMPY_STUDENT, ["right", "right_as_list", "wrong_db", "four_elements", "one_array"],
                 "numpy", NAMES, _linear_backward)
    assert got["right"].points == 2 and got["right_as_list"].points == 2
    assert got["wrong_db"].points == 0
    assert "element 3 of 3 (db): wrong values" in got["wrong_db"].message
    assert got["four_elements"].points == 0
    assert "returned a tuple of 4 elements; expected 3 arrays (dX, dW, db)" in got["four_elements"].message
    assert got["one_array"].points == 0
    assert "returned a single array where a tuple of 3 arrays (dX, dW, db) is expected" in got["one_array"].message


def _lstm_like(dY, X, W):
    """Reference returning a nested tuple, with tensors (a torch task)."""
    return dY @ W, (dY.T @ X, dY.sum(dim=0))


@pytest.mark.slow
def test_torch_task_returning_a_nested_tuple_is_graded_element_by_element():
    pytest.importorskip("torch")
    got = _grade(TORCH_STUDENT, ["right", "wrong_c", "flat"], "torch", ("Y", ("h_T", "c_T")), _lstm_like)
    assert got["right"].points == 2, got["right"].message
    assert got["wrong_c"].points == 0
    assert "element 2.2 of 2 (c_T): wrong values" in got["wrong_c"].message
    assert got["flat"].points == 0 and "returned a tuple of 3 elements; expected 2" in got["flat"].message


def test_a_forged_element_count_in_the_report_scores_zero_and_says_so():
    task = Task("right", 2, _cases, output_names=NAMES)
    cases = task.cases(np.random.default_rng(1))
    honest = [_linear_backward(*c.args) for c in cases]
    report = RunReport()
    digests = [[d for _, d in grading.input_digests(c)] for c in cases]
    for index, parts in enumerate(honest):
        report.calls[("right", index)] = CallResult(array=tuple(parts), inputs=digests[index])
    assert grading._judge(task, cases, report, {"right": _linear_backward}, {}).points == 2
    # The same right answers with one extra element claimed in the message: refused.
    forged = [_npy(p) for p in honest[1]] + [_npy(honest[1][2])]
    assert _well_formed({"event": "call_done", "task": "right", "case": 1, "npy": forged,
                         "error": None, "forbidden": None})
    report.calls[("right", 1)] = CallResult(array=_load_result(forged), inputs=digests[1])
    verdict = grading._judge(task, cases, report, {"right": _linear_backward}, {})
    assert verdict.points == 0
    assert "returned a tuple of 4 elements; expected 3 arrays (dX, dW, db)" in verdict.message
