"""`python -m autograder check NOTEBOOK`: the student's self-check with the visible tests."""
import json
import subprocess
import sys

import pytest

from submissions import REPO, make_submission, write_submission

pytestmark = pytest.mark.slow
A = "ch01_cross_correlation"


def _check(path):
    return subprocess.run([sys.executable, "-m", "autograder", "check", str(path)],
                          capture_output=True, text=True, cwd=REPO, timeout=180)


def test_check_reports_each_task_and_the_points(tmp_path):
    wrong = "def corr2d_vectorized(X, K):\n    return X[:1, :1]\n"
    path = write_submission(tmp_path, "me", A, make_submission(A, {"corr2d_vectorized": wrong}))
    done = _check(path)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(l.startswith("PASS") and "test_corr2d_loops" in l and "3/3" in l for l in lines)
    failing = next(l for l in lines if "test_corr2d_vectorized" in l)
    assert failing.startswith("FAIL") and "0/3" in failing and "shape" in failing
    assert "visible tests: 7 / 10 points" in done.stdout


def test_check_on_the_untouched_release_says_not_answered_yet():
    done = _check(REPO / "exercises" / A / f"{A}.ipynb")
    assert done.returncode == 1
    assert done.stdout.count("not answered yet") == 3
    assert "visible tests: 0 / 10 points" in done.stdout


def test_check_does_not_modify_the_notebook(tmp_path):
    path = write_submission(tmp_path, "me", A, make_submission(A))
    before = path.read_bytes()
    assert _check(path).returncode == 0
    assert path.read_bytes() == before
