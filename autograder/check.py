"""``python -m autograder check NOTEBOOK``: a student's self-check with the visible tests.

Runs the notebook top to bottom in a fresh kernel (errors do not stop it) and reports, for each
graded test cell, whether its visible tests pass and the points at stake.  Hidden tests are not
in the student's copy, so passing here is necessary, not sufficient.
"""
from __future__ import annotations

import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from autograder.notebooks import cell_role, nbgrader_meta


def check(path, timeout=60, kernel_name="python3"):
    """Return ``[(grade_id, passed, points, message)]`` for the notebook at ``path``."""
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name, allow_errors=True,
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    client.execute()
    rows = []
    for cell in nb.cells:
        if cell.cell_type != "code" or cell_role(cell) != "test":
            continue
        meta = nbgrader_meta(cell)
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            err = errors[0]
            if err.get("ename") == "NotImplementedError":
                message = "not answered yet: the function still raises NotImplementedError"
            else:
                message = f"{err.get('ename')}: {err.get('evalue')}"
        else:
            message = "visible tests pass"
        rows.append((meta.get("grade_id"), not errors, float(meta.get("points", 0)), message))
    return rows


def main(path, timeout=60):
    start = time.monotonic()
    rows = check(path, timeout=timeout)
    width = max([len(r[0]) for r in rows] + [4])
    earned = sum(p for _, ok, p, _ in rows if ok)
    total = sum(points for _, _, points, _ in rows)
    for gid, ok, points, message in rows:
        mark = "PASS" if ok else "FAIL"
        print(f"{mark}  {gid:<{width}}  {points if ok else 0:g}/{points:g}  {message}")
    print(f"\nvisible tests: {earned:g} / {total:g} points in {time.monotonic() - start:.1f} s "
          f"(hidden tests are graded after you submit)")
    return 0 if earned == total else 1
