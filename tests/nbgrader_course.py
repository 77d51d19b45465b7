"""A throwaway nbgrader course in a temp folder, for comparing stock ``nbgrader autograde`` with
our grader (tests/test_nbgrader_compat.py, benchmarks/grader_throughput.py).

Layout, as nbgrader expects it::

    <root>/nbgrader_config.py     the repository's, so the same settings apply
    <root>/solutions/<A>/...      the source notebooks (copied)
    <root>/exercises/<A>/...      written by ``nbgrader generate_assignment``
    <root>/submitted/<student>/<A>/<A>.ipynb
    <root>/autograded/...         written by ``nbgrader autograde``
    <root>/gradebook.db           the course's throwaway gradebook
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _env(root: Path) -> dict:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["DLCOURSE_DB_URL"] = db_url(root)
    return env


def db_url(root: Path) -> str:
    return f"sqlite:///{Path(root) / 'gradebook.db'}"


def nbgrader(root: Path, *args, timeout=600) -> subprocess.CompletedProcess:
    """Run the stock ``nbgrader`` command line of this interpreter's environment in ``root``."""
    exe = Path(sys.executable).parent / "nbgrader"
    cmd = [str(exe) if exe.exists() else "nbgrader", *args]
    done = subprocess.run(cmd, cwd=root, env=_env(root), capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def make_course(root: Path, assignments) -> Path:
    """Copy the config and the source notebooks into ``root`` and generate each assignment there."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    for a in assignments:
        shutil.copytree(REPO / "solutions" / a, root / "solutions" / a)
        nbgrader(root, "generate_assignment", a, "--force")
    return root


def autograde(root: Path, assignment: str, extra=()) -> subprocess.CompletedProcess:
    return nbgrader(root, "autograde", assignment, "--force", *extra)


def stock_scores(root: Path, assignment: str) -> dict:
    """``{student: {grade_id: auto_score}}`` from the course's gradebook after ``nbgrader autograde``."""
    from nbgrader.api import Gradebook

    nb_id = assignment
    out = {}
    with Gradebook(db_url(root), course_id="dlcourse") as gb:
        for sub in gb.assignment_submissions(assignment):
            notebook = gb.find_submission_notebook(nb_id, assignment, sub.student.id)
            out[sub.student.id] = {g.name: float(g.auto_score) for g in notebook.grades}
    return out
