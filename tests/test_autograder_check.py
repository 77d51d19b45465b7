"""`python -m autograder check NOTEBOOK`: the student's self-check predicts the grade.

It runs the visible tests as released (edited locked cells count for nothing) and the grader
itself on self-check inputs, with the grader's rules and time limits.
"""
import subprocess
import sys

import pytest

from submissions import REPO, make_submission, write_submission

pytestmark = pytest.mark.slow
A = "ch01_cross_correlation"


def _check(path, *extra):
    return subprocess.run([sys.executable, "-m", "autograder", "check", str(path), *extra],
                          capture_output=True, text=True, cwd=REPO, timeout=300)


def _line(done, grade_id):
    return next(l for l in done.stdout.splitlines() if f" {grade_id} " in l)


def test_check_reports_each_task_and_the_points(tmp_path):
    wrong = "def corr2d_batch(X, K):\n    return X[:1, :1]\n"
    path = write_submission(tmp_path, "me", A, make_submission(A, {"corr2d_batch": wrong}))
    done = _check(path)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(l.startswith("PASS") and "test_convolve2d_loops" in l and "3/3" in l for l in lines)
    failing = _line(done, "test_corr2d_batch")
    assert failing.startswith("FAIL") and "0/3" in failing and "shape" in failing
    assert "grader's checks: `corr2d_batch` on case 1 of" in failing  # with its case label
    assert "self-check: 7 / 10 points" in done.stdout


def test_check_on_the_untouched_release_says_not_answered_yet():
    done = _check(REPO / "exercises" / A / f"{A}.ipynb")
    assert done.returncode == 1
    assert done.stdout.count("not answered yet") == 3
    assert "self-check: 0 / 10 points" in done.stdout


def test_check_does_not_modify_the_notebook(tmp_path):
    path = write_submission(tmp_path, "me", A, make_submission(A))
    before = path.read_bytes()
    done = _check(path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "self-check: 10 / 10 points" in done.stdout
    assert path.read_bytes() == before


SCIPY_LOOPS = """
from scipy.signal import convolve2d
def convolve2d_loops(X, K):
    return convolve2d(X, K, mode="valid")
"""
MODIFIES_ITS_INPUT = """
def input_gradient(X, K, Y):
    kh, kw = K.shape
    windows = np.lib.stride_tricks.sliding_window_view(X, K.shape)
    residual = np.tensordot(windows, K, axes=([2, 3], [0, 1])) - Y
    padded = np.pad(2 * residual, ((kh - 1, kh - 1), (kw - 1, kw - 1)))
    out = np.tensordot(np.lib.stride_tricks.sliding_window_view(padded, K.shape), K[::-1, ::-1],
                       axes=([2, 3], [0, 1]))
    Y *= 0
    return out
"""
WRONG_BATCH = "def corr2d_batch(X, K):\n    return X[:1, :1]\n"


def test_check_applies_the_graders_rules_and_the_released_test_cells(tmp_path):
    """The grade of this notebook is 0: SciPy in a NumPy task, a modified input, and a wrong
    answer whose test cell the student emptied.  `check` must say 0 too, not 10."""
    def empty_the_test_cell(nb):
        for cell in nb["cells"]:
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "test_corr2d_batch":
                cell["source"] = "print('visible tests passed')\n"

    nb = make_submission(A, {"convolve2d_loops": SCIPY_LOOPS, "input_gradient": MODIFIES_ITS_INPUT,
                             "corr2d_batch": WRONG_BATCH}, edit=empty_the_test_cell)
    done = _check(write_submission(tmp_path, "me", A, nb))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "self-check: 0 / 10 points" in done.stdout, done.stdout
    loops = _line(done, "test_convolve2d_loops")
    assert "visible tests pass" in loops and "scipy" in loops and "may not be used" in loops
    assert "visible tests: AssertionError" in _line(done, "test_corr2d_batch")  # the released cell ran
    assert "modif" in _line(done, "test_input_gradient")
    assert "edited" in done.stdout  # the grader's notice about the edited read-only cell


HELPER_RAISES = """
def _helper(X):
    raise NotImplementedError("later")
def convolve2d_loops(X, K):
    return _helper(X)
"""
FOREVER = "def input_gradient(X, K, Y):\n    while True:\n        pass\n"


def test_check_reports_a_timeout_as_a_failed_line_and_only_the_stub_as_not_answered(tmp_path):
    nb = make_submission(A, {"convolve2d_loops": HELPER_RAISES, "input_gradient": FOREVER})
    done = _check(write_submission(tmp_path, "me", A, nb), "--timeout", "3")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    forever = _line(done, "test_input_gradient")
    assert forever.startswith("FAIL") and "timed out" in forever and "ran out of time" not in forever.split(";")[0]
    loops = _line(done, "test_convolve2d_loops")
    assert loops.startswith("FAIL") and "not answered yet" not in loops and "NotImplementedError" in loops
    assert "self-check: 3 / 10 points" in done.stdout
