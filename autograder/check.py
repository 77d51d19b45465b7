"""``python -m autograder check NOTEBOOK``: a student's self-check that predicts the grade.

Two parts, both under the grader's own rules and time limits:

1. **The grader itself**, on self-check inputs: the notebook goes through
   :func:`autograder.grading.grade_submission` exactly as a submission does -- the same sandbox,
   the same spec (fixed edge cases, then random cases from a self-check seed instead of the
   per-student secret one), the same forbidden libraries, line budgets, unchanged-input and
   dtype rules, the same per-cell and per-call timeouts.  Locked cells run as *released*.
2. **The visible tests**, as released: the notebook's code runs in a fresh kernel with every
   locked cell, test cells included, replaced by its released version (an edited test cell
   changes nothing), each cell under the grader's time limit; a timeout is a failed line.

A task passes only when both parts pass.  Passing is still not a guarantee (the grader draws
other random cases), but every rule the grader applies is applied here too.
"""
from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from autograder.notebooks import (NotebookError, _source, cell_role, code_cells, load_notebook,
                                  nbgrader_meta, plan_cells)
from autograder.sandbox import Limits

COURSE_ROOT = Path(__file__).resolve().parents[1]
SELF_CHECK_SECRET = "self-check"  # the grader's seeds come from a per-run secret instead


def find_assignment(path: Path, notebook: dict, course_root: Path = COURSE_ROOT) -> str:
    """The assignment whose released notebook ``notebook`` is: by file name, else by the grade
    ids it shares with a release.  ``KeyError`` when none fits."""
    releases = {p.parent.name: p for p in sorted((course_root / "exercises").glob("*/*.ipynb"))
                if p.stem == p.parent.name}
    if path.stem in releases:
        return path.stem
    ids = {nbgrader_meta(c).get("grade_id") for c in code_cells(notebook)} - {None}
    best, overlap = None, 0
    for name, release_path in releases.items():
        shared = len(ids & {nbgrader_meta(c).get("grade_id") for c in code_cells(load_notebook(release_path))})
        if shared > overlap:
            best, overlap = name, shared
    if best is None:
        raise KeyError(f"{path.name} is not one of the course's assignments ({', '.join(releases)}): "
                       f"keep the released notebook's name and cells")
    return best


def visible_test_cells(submission: dict, release: dict) -> list:
    """``[{"label", "source", "test"}]``: what the grader runs (:func:`plan_cells`: answer cells
    as written, locked cells as released, added cells as written), with every released test
    cell put back, as released, right after the cell that precedes it in the release."""
    plan = plan_cells(submission, release)
    cells = [dict(c, test=False) for c in plan.cells]
    previous = None
    for cell in code_cells(release):
        gid = nbgrader_meta(cell).get("grade_id")
        if cell_role(cell) == "test":
            test = {"label": gid, "source": _source(cell), "test": True}
            at = next((i for i, c in enumerate(cells) if c["label"] == previous), None)
            if at is None:
                cells.append(test)
            else:
                while at + 1 < len(cells) and cells[at + 1]["label"].startswith("added-"):
                    at += 1  # the student's own cells after an answer belong with it
                cells.insert(at + 1, test)
        previous = gid or previous
    return cells


def _first_error_line(output) -> str:
    ename, evalue = output.get("ename", "Error"), output.get("evalue", "")
    return f"{ename}: {evalue}".strip()


def run_visible_tests(cells, folder: Path, limits: Limits, call_timeouts: dict,
                      kernel_name="python3") -> dict:
    """Run ``cells`` in one fresh kernel; return ``{test label: error text or None}``.  A cell
    gets the grader's per-cell time (a test cell that of its task's calls too); one that runs
    over is interrupted and reported as failed."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c["source"]) for c in cells]
    nb.metadata["kernelspec"] = {"name": kernel_name, "display_name": "Python 3", "language": "python"}
    client = NotebookClient(nb, kernel_name=kernel_name, allow_errors=True,
                            resources={"metadata": {"path": str(folder)}})
    results = {}
    # The kernel's own log (its transport warning, a traceback when it is stopped mid-cell) is
    # not the student's business: what a cell raised is reported per test instead.
    with client.setup_kernel(stderr=subprocess.DEVNULL):
        for index, (cell, plan) in enumerate(zip(nb.cells, cells)):
            seconds = limits.cell_timeout + (call_timeouts.get(plan["label"], 0.0) if plan["test"] else 0.0)
            client.timeout = int(seconds + 0.999)
            try:
                client.execute_cell(cell, index)
            except CellTimeoutError:
                if plan["test"]:
                    results[plan["label"]] = f"timed out: the cell ran longer than {seconds:g} s"
                client.km.interrupt_kernel()
                time.sleep(1.0)
                continue
            except DeadKernelError:
                for later in cells[index:]:
                    if later["test"]:
                        results.setdefault(later["label"], "the kernel died (out of memory?) before this test finished")
                break
            if plan["test"]:
                errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
                results[plan["label"]] = _first_error_line(errors[0]) if errors else None
    return results


def grader_verdicts(assignment: str, raw: bytes, limits: Limits, course_root: Path, private_paths=()):
    """The grader's ``SubmissionResult`` dict for this notebook, on self-check inputs."""
    from autograder.grading import grade_submission, seed_for, solution_code

    release = load_notebook(course_root / "exercises" / assignment / f"{assignment}.ipynb")
    solution = load_notebook(course_root / "solutions" / assignment / f"{assignment}.ipynb")
    job = {
        "student": "self-check", "assignment": assignment, "notebook": raw, "release": release,
        "solution_cells": solution_code(solution),
        "seed": seed_for(SELF_CHECK_SECRET, "", assignment),
        "limits": {k: getattr(limits, k) for k in limits.__dataclass_fields__},
        "private_paths": [str(p) for p in (course_root, *private_paths)],
        # The student's own machine may not isolate code; the rules are checked all the same.
        "allow_weak_sandbox": True,
    }
    return grade_submission(job)


def check(path, timeout=None, kernel_name="python3", course_root=None):
    """Return ``(rows, notices)``: ``rows`` is ``[(grade_id, passed, points, message)]`` per
    graded cell, ``notices`` what the grader would tell the student about the notebook."""
    from autograder.grading import unchanged_stubs
    from autograder.spec import load_tasks

    path = Path(path)
    course_root = Path(course_root) if course_root else COURSE_ROOT
    raw = path.read_bytes()
    submission = load_notebook(path)
    assignment = find_assignment(path, submission, course_root)
    release = load_notebook(course_root / "exercises" / assignment / f"{assignment}.ipynb")
    tasks = load_tasks(assignment)
    limits = Limits(cell_timeout=timeout) if timeout else Limits()
    calls = {t.grade_id: float(t.call_timeout or limits.call_timeout) for t in tasks}
    stubs = unchanged_stubs(submission, release)
    released_tests = {nbgrader_meta(c).get("grade_id"): _source(c) for c in code_cells(release)
                      if cell_role(c) == "test"}
    edited = sorted({gid for c in code_cells(submission) for gid in [nbgrader_meta(c).get("grade_id")]
                     if gid in released_tests and _source(c) != released_tests[gid]})

    visible = run_visible_tests(visible_test_cells(submission, release), path.parent.resolve(), limits,
                                calls, kernel_name)
    graded = grader_verdicts(assignment, raw, limits, course_root, private_paths=(path.parent.resolve(),))
    if graded.get("grader_error"):
        fault = f"the grader's sandbox could not run here: {graded['grader_error']}"
        verdicts, notices = {}, [fault]
    else:
        verdicts = {t["grade_id"]: t for t in graded["tasks"]}
        notices = list(graded.get("notices", ()))
    notices += [f"The test cell '{gid}' was edited; check and the grader use the released version."
                for gid in edited]

    rows = []
    for task in tasks:
        problem = visible.get(task.grade_id, "the visible test cell did not run")
        verdict = verdicts.get(task.grade_id)
        if problem and problem.startswith("NotImplementedError") and task.function in stubs:
            rows.append((task.grade_id, False, float(task.points),
                         "not answered yet: the function still raises NotImplementedError"))
            continue
        parts = [f"visible tests: {problem}" if problem else "visible tests pass"]
        if verdict is None:
            parts.append("grader's checks: not run (see the notice below)")
        elif verdict["points"] < verdict["max_points"]:
            parts.append(f"grader's checks: {verdict['message']}")
        elif re.search(r"all \d+ hidden cases", verdict["message"]):
            parts.append(f"grader's checks pass ({_count(verdict['message'])} self-check cases)")
        else:  # a judged task says how well it did, e.g. the accuracy reached
            parts.append(f"grader's checks pass: {verdict['message']}")
        ok = problem is None and verdict is not None and verdict["points"] >= verdict["max_points"]
        rows.append((task.grade_id, ok, float(task.points), "; ".join(parts)))
    return rows, notices


def _count(message: str) -> str:
    found = re.search(r"all (\d+) hidden cases", message)
    return found.group(1) if found else "all"


def main(path, timeout=None):
    start = time.monotonic()
    try:
        rows, notices = check(path, timeout=timeout)
    except (KeyError, NotebookError, OSError) as err:
        print(f"error: {err}")
        return 2
    width = max([len(r[0]) for r in rows] + [4])
    earned = sum(p for _, ok, p, _ in rows if ok)
    total = sum(points for _, _, points, _ in rows)
    for gid, ok, points, message in rows:
        mark = "PASS" if ok else "FAIL"
        print(f"{mark}  {gid:<{width}}  {points if ok else 0:g}/{points:g}  {message}")
    for notice in notices:
        print(f"note: {notice}")
    print(f"\nself-check: {earned:g} / {total:g} points in {time.monotonic() - start:.1f} s (the visible "
          f"tests, then the grader's own checks and rules on self-check inputs; the grader draws "
          f"other random cases when you submit)")
    return 0 if earned == total else 1
