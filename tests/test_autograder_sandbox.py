"""The bubblewrap sandbox shows student code an allowlist root, and a grader whose sandbox cannot
run an honest notebook refuses before it writes anything.

Each probe runs as a graded call inside the real sandbox and returns one flag per attempt
(1 = the attempt worked); every attempt must fail.  Skipped where bubblewrap is not the level
this machine gets (not root, no ``bwrap``); in CI it is installed and the tests run.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from autograder import batch, sandbox
from autograder.spec import Case, Task
from submissions import REPO, make_submission, write_submission

pytestmark = pytest.mark.skipif(sandbox.isolation_level() != "bubblewrap",
                                reason="bubblewrap sandbox unavailable here (needs root and bwrap)")

PROBE = r'''
import os, sys
import numpy as np

def _works(action):
    try:
        action()
        return 1
    except BaseException:
        return 0

def probe(paths):
    secret_copy, home_file, venv_site, checkout = [str(p) for p in paths]
    def write(path):
        with open(path, "w") as fh:
            fh.write("left behind")
    return np.array([
        _works(lambda: open(secret_copy).read()),
        _works(lambda: open(home_file).read()),
        _works(lambda: os.listdir(os.path.dirname(secret_copy))),
        _works(lambda: write("/var/tmp/dlcourse-probe")),
        _works(lambda: write("/dev/shm/dlcourse-probe")),
        _works(lambda: write(os.path.join(venv_site, "zz-dlcourse-probe.pth"))),
        _works(lambda: os.mkdir(os.path.join(venv_site, "zz-dlcourse-probe"))),
        _works(lambda: os.listdir(os.path.join(checkout, "solutions"))),
        int(os.getuid() < 3_000_000_000),
        _works(lambda: __import__("scipy").linalg),
    ], dtype=np.int64)
'''
ATTEMPTS = ["read a solutions copy outside the checkout", "read a world-readable file in a home",
            "list the folder of that copy", "write /var/tmp", "write /dev/shm",
            "write a .pth into the virtualenv", "mkdir in the virtualenv", "list the course's solutions/",
            "run as a uid of a real user", "use SciPy in a NumPy task"]


@pytest.fixture()
def planted(tmp_path_factory):
    """A world-readable copy of the solutions outside the checkout, and a file in a home."""
    outside = Path(tempfile.mkdtemp(prefix="dlcourse-old-term-", dir="/opt" if os.access("/opt", os.W_OK) else None))
    os.chmod(outside, 0o755)
    copy = outside / "ch01_cross_correlation.ipynb"
    shutil.copy(REPO / "solutions" / "ch01_cross_correlation" / "ch01_cross_correlation.ipynb", copy)
    os.chmod(copy, 0o644)
    home = Path(os.path.expanduser("~"))
    home_file = home / ".dlcourse-sandbox-probe"
    home_file.write_text("instructor's notes")
    os.chmod(home_file, 0o644)
    yield copy, home_file
    shutil.rmtree(outside, ignore_errors=True)
    home_file.unlink(missing_ok=True)


def test_student_code_sees_only_its_allowlist_root(planted):
    copy, home_file = planted
    site = next(p for p in sys.path if p.endswith("site-packages"))
    task = Task("probe", 1.0, cases=lambda rng: [Case(((str(copy), str(home_file), site, str(REPO)),))])
    cells = [{"label": "probe", "source": PROBE}]
    report = sandbox.run_in_sandbox(cells, [(task, task.cases(None))], "numpy", sandbox.Limits())
    assert report.isolation == "bubblewrap"
    got = report.calls[("probe", 0)]
    assert got.error is None, got.error
    worked = [name for name, flag in zip(ATTEMPTS, got.array) if flag]
    assert worked == [], f"the sandbox let student code {worked}"
    assert not Path("/var/tmp/dlcourse-probe").exists()
    assert not Path(site, "zz-dlcourse-probe.pth").exists()


def test_a_sandbox_that_cannot_start_python_refuses_before_writing_anything(tmp_path, monkeypatch):
    real = sandbox._bubblewrap_command

    def broken(*args, **kwargs):  # as if the interpreter lived where the sandbox cannot see it
        command = real(*args, **kwargs)
        return [*command[:-2], "/nonexistent/python", command[-1]]

    monkeypatch.setattr(sandbox, "_bubblewrap_command", broken)
    root, out = tmp_path / "submitted", tmp_path / "out"
    write_submission(root, "ada", "ch01_cross_correlation", make_submission("ch01_cross_correlation"))
    with pytest.raises(sandbox.SandboxUnavailable, match="preflight failed"):
        batch.grade("ch01_cross_correlation", root, workers=1, out_dir=out, progress=False)
    assert not (out / "gradebook.db").exists()
    assert not any((out / "ch01_cross_correlation" / "results").glob("*.json"))
    assert not (out / "ch01_cross_correlation" / "grades.csv").exists()


def test_a_submission_the_sandbox_failed_on_is_left_ungraded_not_scored(tmp_path, monkeypatch):
    real = sandbox._bubblewrap_command
    calls = {"n": 0}

    def fails_after_preflight(*args, **kwargs):
        command = real(*args, **kwargs)
        calls["n"] += 1
        return command if calls["n"] == 1 else [*command[:-2], "/nonexistent/python", command[-1]]

    monkeypatch.setattr(sandbox, "_bubblewrap_command", fails_after_preflight)
    root, out = tmp_path / "submitted", tmp_path / "out"
    write_submission(root, "ada", "ch01_cross_correlation", make_submission("ch01_cross_correlation"))
    with pytest.raises(batch.GraderFault, match="ada"):
        batch.grade("ch01_cross_correlation", root, workers=1, out_dir=out, progress=False)
    assert not any((out / "ch01_cross_correlation" / "results").glob("*.json"))
    assert not (out / "ch01_cross_correlation" / "grades.csv").exists()
