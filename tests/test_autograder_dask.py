"""The same grading job on a Dask cluster gives the same scores as the local process pool.

A ``LocalCluster`` of two worker processes (one thread each, no dashboard) stands in for a
course's cluster: ``grade(..., scheduler=address)`` and ``python -m autograder grade --scheduler
address`` must both give every generated submission (full, zero, one task wrong) exactly the
per-task points the local pool gives, and record them in the gradebook the same way.
"""
from __future__ import annotations

import csv
import subprocess
import sys

import pytest

from submissions import REPO, make_submission, write_submission

pytest.importorskip("distributed")
pytestmark = pytest.mark.slow

A = "ch01_cross_correlation"
WRONG_BATCH = """
import numpy as np
def corr2d_batch(X, K):
    return np.zeros((X.shape[0], X.shape[1] - K.shape[0] + 1, X.shape[2] - K.shape[1] + 1))
"""
EXPECTED = {  # convolve2d_loops 3, corr2d_batch 3, input_gradient 4
    "full": {"test_convolve2d_loops": 3.0, "test_corr2d_batch": 3.0, "test_input_gradient": 4.0},
    "zero": {"test_convolve2d_loops": 0.0, "test_corr2d_batch": 0.0, "test_input_gradient": 0.0},
    "partial": {"test_convolve2d_loops": 3.0, "test_corr2d_batch": 0.0, "test_input_gradient": 4.0},
}
SECRET = "same-secret-for-every-run"  # same hidden inputs in every run: results must match exactly


@pytest.fixture(scope="module")
def submissions(tmp_path_factory):
    root = tmp_path_factory.mktemp("submissions")
    write_submission(root, "full", A, make_submission(A))
    write_submission(root, "zero", A, make_submission(A, fill="release"))
    write_submission(root, "partial", A, make_submission(A, {"corr2d_batch": WRONG_BATCH}))
    return root


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                      silence_logs=40) as cluster:
        yield cluster


def _per_task(results):
    return {r.student: {t.grade_id: t.points for t in r.tasks} for r in results}


def _gradebook_totals(db_url):
    from nbgrader.api import Gradebook

    with Gradebook(db_url, course_id="dlcourse") as gb:
        return {s.student.id: s.score for s in gb.assignment_submissions(A)}


@pytest.fixture(scope="module")
def local(submissions, tmp_path_factory):
    from autograder.batch import grade

    out = tmp_path_factory.mktemp("local")
    return grade(A, submissions, workers=2, out_dir=out, secret=SECRET, progress=False)


def test_dask_cluster_gives_the_same_scores_as_the_local_pool(submissions, cluster, local, tmp_path):
    from autograder.batch import grade

    db_url = f"sqlite:///{tmp_path / 'gb.db'}"
    on_dask = grade(A, submissions, out_dir=tmp_path, db_url=db_url, scheduler=cluster.scheduler_address,
                    secret=SECRET, progress=False)
    assert _per_task(local) == EXPECTED
    assert _per_task(on_dask) == _per_task(local)
    assert [t.message for r in on_dask for t in r.tasks] == [t.message for r in local for t in r.tasks]
    assert _gradebook_totals(db_url) == {s: sum(p.values()) for s, p in EXPECTED.items()}
    assert {r.isolation for r in on_dask} == {r.isolation for r in local} != {""}


def test_the_cli_scheduler_option_grades_on_the_cluster(submissions, cluster, local, tmp_path):
    cmd = [sys.executable, "-m", "autograder", "grade", "--assignment", A, "--submissions", str(submissions),
           "--out", str(tmp_path), "--scheduler", cluster.scheduler_address]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "3 submissions graded" in done.stdout
    with open(tmp_path / A / "grades.csv") as fh:
        rows = {row["student"]: row for row in csv.DictReader(fh)}
    got = {s: {gid: float(rows[s][gid]) for gid in EXPECTED[s]} for s in rows}
    assert got == _per_task(local) == EXPECTED
    # the CLI makes its own secret, so only the points (not the hidden inputs) are comparable
    assert _gradebook_totals(f"sqlite:///{tmp_path / 'gradebook.db'}") == {r.student: r.score for r in local}


def test_a_worker_hides_its_own_checkout_of_the_course_too(monkeypatch):
    """A remote Dask worker's checkout need not be at the client's path: the job's private paths
    (the client's) get the worker's own course folder added before the sandbox starts."""
    import autograder.batch as batch

    seen = []
    monkeypatch.setattr(batch, "grade_submission", lambda job: seen.append(job) or {})
    batch._grade_here({"private_paths": ["/elsewhere/course"]})
    batch._grade_here({"private_paths": [str(batch.COURSE_ROOT)]})
    assert seen[0]["private_paths"] == ["/elsewhere/course", str(batch.COURSE_ROOT)]
    assert seen[1]["private_paths"] == [str(batch.COURSE_ROOT)]
