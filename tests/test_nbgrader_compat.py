"""Stock nbgrader still works on our exercises and agrees with our grader on honest submissions.

In a throwaway nbgrader course (the repository's ``nbgrader_config.py``, ``solutions/`` copied as
the source, a temp gradebook), ``nbgrader generate_assignment`` and ``nbgrader autograde`` grade
full, zero and partial (one task wrong) submissions of ch01 (NumPy tasks) and ch03 (NumPy and
PyTorch tasks); ch02 is graded the same way as ch01 and is left out to keep the runtime modest.
Our grader (``autograder.batch.grade``) grades the very same notebook files; the per-task points
must be identical and equal to the points each submission earns.  Finally, stock
``nbgrader export`` reads our grader's gradebook.
"""
from __future__ import annotations

import csv
from concurrent.futures import ThreadPoolExecutor

import pytest

import nbgrader_course
from submissions import make_submission, solution_sources, write_submission

pytestmark = pytest.mark.slow

# assignment -> (the graded cell answered wrongly, an honest wrong answer: runs, gives wrong values)
WRONG = {
    "ch01_cross_correlation": ("corr2d_batch", """
        import numpy as np
        def corr2d_batch(X, K):
            return np.zeros((X.shape[0], X.shape[1] - K.shape[0] + 1, X.shape[2] - K.shape[1] + 1))
        """),
    "ch03_channels": ("conv2d_torch", """
        def conv2d_torch(X, W, b):
            # forgets the bias
            o, c, kh, kw = W.shape
            windows = X.unfold(2, kh, 1).unfold(3, kw, 1)
            return torch.einsum("nchwij,ocij->nohw", windows, W)
        """),
}
ASSIGNMENTS = sorted(WRONG)
POINTS = {
    "ch01_cross_correlation": {"convolve2d_loops": 3, "corr2d_batch": 3, "input_gradient": 4},
    "ch03_channels": {"corr2d_depthwise": 3, "corr2d_multi_in_out_batch": 3, "conv1x1_batch": 2, "conv2d_torch": 2},
}


def expected(a):
    wrong = WRONG[a][0]
    return {
        "full": {f"test_{f}": float(p) for f, p in POINTS[a].items()},
        "zero": {f"test_{f}": 0.0 for f in POINTS[a]},
        "partial": {f"test_{f}": 0.0 if f == wrong else float(p) for f, p in POINTS[a].items()},
    }


def _write_submissions(folder, a):
    wrong_id, wrong_source = WRONG[a]
    assert wrong_id in solution_sources(a)
    write_submission(folder, "full", a, make_submission(a))
    write_submission(folder, "zero", a, make_submission(a, fill="release"))
    write_submission(folder, "partial", a, make_submission(a, {wrong_id: wrong_source}))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Stock nbgrader (generate + autograde) and our grader, side by side on the same files."""
    from autograder.batch import grade

    course = tmp_path_factory.mktemp("course")
    ours_out = tmp_path_factory.mktemp("ours")
    for a in ASSIGNMENTS:
        _write_submissions(course / "submitted", a)

    def stock():
        nbgrader_course.make_course(course, ASSIGNMENTS)
        for a in ASSIGNMENTS:
            nbgrader_course.autograde(course, a)
        return {a: nbgrader_course.stock_scores(course, a) for a in ASSIGNMENTS}

    def ours():
        out = {}
        for a in ASSIGNMENTS:
            results = grade(a, course / "submitted", workers=1, out_dir=ours_out, progress=False)
            out[a] = {r.student: {t.grade_id: t.points for t in r.tasks} for r in results}
        return out

    # 2 cores: stock nbgrader (one kernel at a time) beside our grader (one sandbox at a time).
    with ThreadPoolExecutor(max_workers=2) as pool:
        stock_future, ours_future = pool.submit(stock), pool.submit(ours)
        return {"stock": stock_future.result(), "ours": ours_future.result(),
                "course": course, "ours_db": f"sqlite:///{ours_out / 'gradebook.db'}"}


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_stock_nbgrader_autograde_gives_each_submission_its_points(graded, a):
    assert graded["stock"][a] == expected(a)


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_our_grader_agrees_with_stock_nbgrader_task_by_task(graded, a):
    assert graded["ours"][a] == graded["stock"][a]


def test_stock_nbgrader_export_reads_our_gradebook(graded):
    course = graded["course"]
    nbgrader_course.nbgrader(course, "export", "--db", graded["ours_db"], "--to", "ours.csv")
    with open(course / "ours.csv") as fh:
        rows = list(csv.DictReader(fh))
    got = {(r["assignment"], r["student_id"]): float(r["raw_score"]) for r in rows}
    want = {(a, s): sum(p.values()) for a in ASSIGNMENTS for s, p in expected(a).items()}
    assert got == want
