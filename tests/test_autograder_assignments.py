"""Every assignment with a grading spec, end to end through `python -m autograder grade`.

For each assignment one batch of two submissions built from the committed notebooks: the
solution notebook's answers in the release (every task earns its points) and the untouched
release (every task earns 0). This catches a spec whose cases the solution cannot handle, a
reference that disagrees with itself across the sandbox boundary (dtype, tuple arguments,
``None``), a tolerance too tight for the solution, and a release stub that scores. The batches
run concurrently (each with ``--workers 2``) to keep the whole file well under a minute and a half.
"""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from submissions import REPO, make_submission, write_submission

pytestmark = pytest.mark.slow

SPECS = REPO / "autograder" / "specs"
# ch07's held-back images come from MNIST in ``../shared/data`` when it exists (tests/conftest.py
# points DLCOURSE_DATA there), else from the loader's documented fallback.
ASSIGNMENTS = sorted(
    p.name for p in (REPO / "solutions").iterdir()
    if p.is_dir() and (p / f"{p.name}.ipynb").is_file() and (SPECS / f"{p.name}.py").is_file()
)


def _grade(assignment, tmp):
    root, out = tmp / "submissions", tmp / "out"
    write_submission(root, "solution", assignment, make_submission(assignment))
    write_submission(root, "untouched", assignment, make_submission(assignment, fill="release"))
    cmd = [sys.executable, "-m", "autograder", "grade", "--assignment", assignment, "--submissions", str(root),
           "--out", str(out), "--db", f"sqlite:///{tmp / 'gradebook.db'}", "--workers", "2"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=300)
    results = {}
    if done.returncode == 0:
        for student in ("solution", "untouched"):
            results[student] = json.loads((out / assignment / "results" / f"{student}.json").read_text())
        with open(out / assignment / "grades.csv") as fh:
            results["csv"] = {row["student"]: float(row["score"]) for row in csv.DictReader(fh)}
    return done, results


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmps = {a: tmp_path_factory.mktemp(a) for a in ASSIGNMENTS}
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {a: pool.submit(_grade, a, tmps[a]) for a in ASSIGNMENTS}
        return {a: future.result() for a, future in futures.items()}


def test_every_assignment_has_a_grading_spec():
    released = sorted(p.name for p in (REPO / "exercises").iterdir() if p.is_dir())
    assert ASSIGNMENTS == released, f"assignments without a spec: {sorted(set(released) - set(ASSIGNMENTS))}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_earns_full_marks_and_the_release_earns_nothing(assignment, graded):
    from autograder.spec import load_tasks

    done, results = graded[assignment]
    assert done.returncode == 0, f"grading {assignment} failed:\n{done.stderr[-3000:]}"
    tasks = {t.function: float(t.points) for t in load_tasks(assignment)}

    solution = {t["function"]: t for t in results["solution"]["tasks"]}
    assert sorted(solution) == sorted(tasks)
    lost = {f: t["message"] for f, t in solution.items() if t["points"] != tasks[f]}
    assert not lost, f"{assignment}: the solution notebook lost points: {lost}"
    assert not [n for n in results["solution"]["notices"] if "raised an error" in n], results["solution"]["notices"]

    untouched = {t["function"]: t for t in results["untouched"]["tasks"]}
    scored = {f: t["message"] for f, t in untouched.items() if t["points"] != 0}
    assert not scored, f"{assignment}: the untouched release scored: {scored}"
    assert all("NotImplementedError" in t["message"] for t in untouched.values()), untouched

    assert results["csv"] == {"solution": sum(tasks.values()), "untouched": 0.0}
