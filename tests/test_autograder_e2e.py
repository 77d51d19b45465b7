"""End to end: a batch of generated submissions through `python -m autograder grade`."""
from __future__ import annotations

import csv
import json
import sqlite3
import subprocess
import sys

import pytest

from submissions import REPO, make_submission, write_submission

pytestmark = pytest.mark.slow
A = "ch01_cross_correlation"

WRONG_BATCH = """
import numpy as np
def corr2d_batch(X, K):
    return np.zeros((X.shape[0], X.shape[1] - K.shape[0] + 1, X.shape[2] - K.shape[1] + 1))
"""
SYNTAX_ERROR = """
def corr2d_batch(X, K)
    return X
"""
LOOPS_FOREVER = """
def input_gradient(X, K, Y):
    while True:
        pass
"""
BATCH_WITH_A_LOOP = """
def corr2d_batch(X, K):
    return np.stack([convolve2d_loops(x, K[::-1, ::-1]) for x in X])
"""
A_LOOP_OVER_THE_IMAGES = """
import numpy as np
def corr2d_batch(X, K):
    out = []
    for x in X:  # each image vectorized, but one Python iteration per image
        windows = np.lib.stride_tricks.sliding_window_view(x, K.shape)
        out.append(np.tensordot(windows, K, axes=([2, 3], [0, 1])))
    return np.stack(out)
"""
MODIFIES_ITS_INPUT = """
import numpy as np
def convolve2d_loops(X, K):
    h, w = K.shape
    flipped = K[::-1, ::-1]
    Y = np.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=np.result_type(X, K))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * flipped).sum()
    X *= 0
    return Y
"""
SWITCHES_OFF_THE_LINE_COUNTER = """
import sys
def corr2d_batch(X, K):
    sys.settrace(None)
    return np.stack([convolve2d_loops(x, K[::-1, ::-1]) for x in X])
"""
# Expected scores: convolve2d_loops 3, corr2d_batch 3, input_gradient 4.
EXPECTED = {
    "solution": 10.0,
    "untouched": 0.0,
    "partial": 7.0,
    "syntax": 7.0,
    "forever": 6.0,
    "loops": 7.0,
    "image_loop": 7.0,
    "mutates": 7.0,
    "untraced": 7.0,
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("submissions")
    out = tmp_path_factory.mktemp("out")
    write_submission(root, "solution", A, make_submission(A))
    write_submission(root, "untouched", A, make_submission(A, fill="release"))
    write_submission(root, "partial", A, make_submission(A, {"corr2d_batch": WRONG_BATCH}))
    write_submission(root, "syntax", A, make_submission(A, {"corr2d_batch": SYNTAX_ERROR}))
    write_submission(root, "forever", A, make_submission(A, {"input_gradient": LOOPS_FOREVER}))
    write_submission(root, "loops", A, make_submission(A, {"corr2d_batch": BATCH_WITH_A_LOOP}))
    write_submission(root, "image_loop", A, make_submission(A, {"corr2d_batch": A_LOOP_OVER_THE_IMAGES}))
    write_submission(root, "mutates", A, make_submission(A, {"convolve2d_loops": MODIFIES_ITS_INPUT}))
    write_submission(root, "untraced", A, make_submission(A, {"corr2d_batch": SWITCHES_OFF_THE_LINE_COUNTER}))
    db = out / "gb.db"
    cmd = [sys.executable, "-m", "autograder", "grade", "--assignment", A, "--submissions", str(root),
           "--out", str(out), "--db", f"sqlite:///{db}", "--workers", "2", "--cell-timeout", "3"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return {"out": out / A, "db": db, "stdout": done.stdout, "stderr": done.stderr, "cmd": cmd, "root": root}


def _scores(graded):
    with open(graded["out"] / "grades.csv") as fh:
        return {row["student"]: float(row["score"]) for row in csv.DictReader(fh)}


def test_each_submission_gets_exactly_the_score_it_earns(graded):
    assert _scores(graded) == EXPECTED


def test_scores_land_in_the_nbgrader_gradebook(graded):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{graded['db']}", course_id="dlcourse") as gb:
        totals = {s.student.id: s.score for s in gb.assignment_submissions(A)}
    assert totals == EXPECTED


def test_a_wrong_answer_gets_a_message_without_expected_values(graded):
    record = json.loads((graded["out"] / "results" / "partial.json").read_text())
    message = {t["function"]: t["message"] for t in record["tasks"]}["corr2d_batch"]
    assert message.startswith("`corr2d_batch` on case 1 of") and "wrong values" in message
    assert "expected" not in message and "got" not in message


def test_a_syntax_error_is_reported_and_the_other_tasks_still_count(graded):
    text = (graded["out"] / "feedback" / "syntax" / f"{A}.md").read_text()
    assert "SyntaxError" in text
    assert "| `input_gradient` | 4 / 4 |" in text


def test_an_endless_loop_costs_only_its_own_task(graded):
    record = json.loads((graded["out"] / "results" / "forever.json").read_text())
    by_task = {t["function"]: t for t in record["tasks"]}
    assert by_task["input_gradient"]["points"] == 0
    assert "timed out" in by_task["input_gradient"]["message"] or "time" in by_task["input_gradient"]["message"]
    assert by_task["convolve2d_loops"]["points"] == 3 and by_task["corr2d_batch"]["points"] == 3


def _message(graded, student, function):
    record = json.loads((graded["out"] / "results" / f"{student}.json").read_text())
    return {t["function"]: t["message"] for t in record["tasks"]}[function]


def test_a_python_loop_in_a_vectorized_task_is_caught(graded):
    assert "lines of Python" in _message(graded, "loops", "corr2d_batch")
    assert "lines of Python" in _message(graded, "image_loop", "corr2d_batch")
    assert "sys.settrace" in _message(graded, "untraced", "corr2d_batch")


def test_modifying_an_input_is_caught(graded):
    assert "modified its input" in _message(graded, "mutates", "convolve2d_loops")


def test_feedback_exists_as_markdown_and_html_for_everyone(graded):
    for student in EXPECTED:
        assert (graded["out"] / "feedback" / student / f"{A}.md").is_file()
        html = (graded["out"] / "feedback" / student / f"{A}.html").read_text()
        assert "<table>" in html and student in html


def test_hidden_test_code_never_reaches_feedback(graded):
    for path in (graded["out"] / "feedback").rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "HIDDEN TESTS" not in text and "assert_close" not in text


def test_running_again_grades_nothing_twice(graded):
    done = subprocess.run(graded["cmd"], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _scores(graded) == EXPECTED
    con = sqlite3.connect(graded["db"])
    rows = con.execute("select count(*) from submitted_assignment").fetchone()[0]
    assert rows == len(EXPECTED)


def test_grading_refuses_a_weak_sandbox_unless_allowed(tmp_path, monkeypatch):
    from autograder import sandbox
    from autograder.batch import grade

    write_submission(tmp_path / "subs", "solution", A, make_submission(A))
    monkeypatch.setattr(sandbox, "isolation_level", lambda: "rlimits")
    with pytest.raises(sandbox.SandboxUnavailable, match="allow-weak-sandbox"):
        grade(A, tmp_path / "subs", workers=1, out_dir=tmp_path / "out", progress=False)
    results = grade(A, tmp_path / "subs", workers=1, out_dir=tmp_path / "out2", progress=False,
                    allow_weak_sandbox=True)
    assert results[0].score == 10 and results[0].isolation == "rlimits"
