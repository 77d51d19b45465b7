"""Build student submissions from the solution notebook, for the grader's tests.

``make_submission(assignment, {"convolve2d_loops": "def convolve2d_loops(X, K): ..."})`` returns the
notebook JSON of the *release* with those answer cells filled in and every other answer cell
filled with the solution (``fill="solution"``) or left as released (``fill="release"``).
"""
from __future__ import annotations

import copy
import json
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _load(kind, assignment):
    return json.loads((REPO / kind / assignment / f"{assignment}.ipynb").read_text())


def _gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def solution_sources(assignment):
    """``{grade_id: source}`` of the solution notebook's answer cells (markers removed)."""
    out = {}
    for cell in _load("solutions", assignment)["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and not meta.get("grade"):
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            out[meta["grade_id"]] = "\n".join(ln for ln in src.split("\n") if "### " not in ln)
    return out


def make_submission(assignment, answers=None, fill="solution", edit=None):
    """Release notebook with answer cells replaced.  ``answers`` maps grade ids to source;
    ``edit(nb)`` may change the notebook further (delete cells, rename ids, ...)."""
    nb = copy.deepcopy(_load("exercises", assignment))
    solutions = solution_sources(assignment)
    answers = {k: textwrap.dedent(v) for k, v in (answers or {}).items()}
    for cell in nb["cells"]:
        gid = _gid(cell)
        if gid in answers:
            cell["source"] = answers[gid]
        elif gid in solutions and fill == "solution":
            cell["source"] = solutions[gid]
    if edit is not None:
        edit(nb)
    return nb


def write_submission(root, student, assignment, nb=None, raw=None, name=None):
    folder = Path(root) / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"{assignment}.ipynb")
    if raw is not None:
        path.write_bytes(raw if isinstance(raw, bytes) else raw.encode())
    else:
        path.write_text(json.dumps(nb))
    return path
