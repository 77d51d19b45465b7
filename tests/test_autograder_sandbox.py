"""The bubblewrap sandbox shows student code an allowlist root, the kernel layers (Landlock and
seccomp, applied by ``autograder/confine.py``) hold at every level, and a grader whose sandbox
cannot run an honest notebook refuses before it writes anything.

Each probe runs as a graded call inside the real sandbox and returns one flag per attempt
(1 = the attempt worked); every attempt must fail.  The bubblewrap tests are skipped where
bubblewrap is not the level this machine gets (not root, no ``bwrap``), the kernel-layer tests
where the kernel has no Landlock; in CI both run.
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

needs_bwrap = pytest.mark.skipif(sandbox.isolation_level() != "bubblewrap",
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


@needs_bwrap
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


@needs_bwrap
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


@needs_bwrap
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


# ------------------------------------------------------------------------------------------
# Landlock and seccomp, at every level: what C code can do outside the box (ctypes here, in a
# bare worker without the audit hook: cffi and C extensions reach the same syscalls).


def _landlock_abi():
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return max(0, libc.syscall(444, None, 0, 1)) if sys.platform == "linux" else 0


needs_landlock = pytest.mark.skipif(_landlock_abi() < 1, reason="this kernel has no Landlock")

KERNEL_PROBE = r"""
import ctypes, os
import numpy as np

def _try(action):
    try:
        return 1 if action() else 0
    except BaseException:
        return 0

def kprobe(paths):
    outside_file, outside_dir = [str(p) for p in paths]
    libc = ctypes.CDLL(None, use_errno=True)
    def write(path):
        return libc.open(path.encode(), 0o101, 0o644) >= 0  # O_WRONLY|O_CREAT
    def read(path):
        fd = libc.open(path.encode(), 0)
        return fd >= 0 and libc.read(fd, ctypes.create_string_buffer(16), 16) > 0
    return np.array([
        _try(lambda: write(os.path.join(outside_dir, "c-wrote"))),
        _try(lambda: libc.mkdir(os.path.join(outside_dir, "c-dir").encode(), 0o755) == 0),
        _try(lambda: read(outside_file)),
        _try(lambda: libc.unshare(0x10000000) == 0),  # a user namespace
        _try(lambda: libc.shmget(0x5EED0001, ctypes.c_size_t(4096), 0o1600) >= 0),  # IPC_CREAT
        _try(lambda: libc.socket(2, 1, 0) >= 0),  # AF_INET
        _try(lambda: write("inside-the-box")),  # control: the box is writable
    ], dtype=np.int64)
"""
KERNEL_ATTEMPTS = ["write a file outside the box", "mkdir outside the box", "read a file outside the allowlist",
                   "create a user namespace", "create SysV shared memory", "open an AF_INET socket"]


@pytest.fixture()
def outside():
    """A world-writable folder with a world-readable file, outside every sandbox folder."""
    folder = Path(tempfile.mkdtemp(prefix="dlcourse-kernel-probe-", dir="/var/tmp"))
    os.chmod(folder, 0o777)
    (folder / "notes.txt").write_text("instructor's notes")
    os.chmod(folder / "notes.txt", 0o644)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
    Path(f"{folder}-worker.py").unlink(missing_ok=True)


# A bare worker speaking the grader's protocol, without the real worker's Python guards (its
# audit hook and the stubs that refuse cffi in NumPy tasks): the kernel layers alone are probed.
BARE_WORKER = r"""
import base64, io, json, os, sys
import numpy as np
fd = int(sys.argv[1])
def w(**message):
    os.write(fd, (json.dumps(message) + "\n").encode())
def dec(v):
    if isinstance(v, dict) and "__tuple__" in v:
        return tuple(dec(x) for x in v["__tuple__"])
    return [dec(x) for x in v] if isinstance(v, list) else v
job = json.load(open("job.json"))
namespace = {}
for index, cell in enumerate(job["cells"]):
    w(event="cell_start", cell=index)
    exec(cell["source"], namespace)
    w(event="cell_done", cell=index, error=None)
w(event="cells_done")
sys.stdin.buffer.read()
for task in job["tasks"]:
    for index, case in enumerate(task["cases"]):
        w(event="call_start", task=task["function"], case=index)
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(namespace[task["function"]](*dec(case["args"]))))
        w(event="call_done", task=task["function"], case=index, npy=base64.b64encode(buffer.getvalue()).decode(),
          error=None, forbidden=None)
w(event="done")
os._exit(0)
"""


def _kernel_probe(outside, monkeypatch, level, confine=True):
    bare = outside.parent / f"{outside.name}-worker.py"
    bare.write_text(BARE_WORKER)
    monkeypatch.setattr(sandbox, "WORKER_SOURCE", bare)
    if level != sandbox.isolation_level():
        monkeypatch.setattr(sandbox, "isolation_level", lambda: level)
    monkeypatch.setattr(sandbox, "CONFINE", confine)
    # The bare worker does not sign its reports (the key is the real worker's): only the kernel
    # layers are probed here.
    monkeypatch.setattr(sandbox, "AUTHENTICATE_REPORTS", False)
    task = Task("kprobe", 1.0, cases=lambda rng: [Case(((str(outside / "notes.txt"), str(outside)),))])
    report = sandbox.run_in_sandbox([{"label": "probe", "source": KERNEL_PROBE}], [(task, task.cases(None))],
                                    "numpy", sandbox.Limits(), require_isolation=False)
    got = report.calls[("kprobe", 0)]
    assert got.error is None, got.error
    return report, dict(zip(KERNEL_ATTEMPTS + ["control"], got.array.tolist()))


@needs_landlock
@pytest.mark.parametrize("level", sorted({"rlimits", sandbox.isolation_level()}))
def test_c_code_cannot_reach_outside_the_box_at_any_level(outside, monkeypatch, level):
    report, flags = _kernel_probe(outside, monkeypatch, level)
    assert report.confinement.startswith("Landlock ABI") and "seccomp filter" in report.confinement
    assert flags.pop("control") == 1
    assert [name for name, flag in flags.items() if flag] == []
    assert sorted(p.name for p in outside.iterdir()) == ["notes.txt"]


@needs_landlock
def test_without_the_kernel_layers_the_weakest_level_lets_c_code_out(outside, monkeypatch):
    # The same probe with confine.py switched off: this is what the layers stop (so the test
    # above can fail).
    report, flags = _kernel_probe(outside, monkeypatch, "rlimits", confine=False)
    assert report.confinement.startswith("none")
    assert flags["write a file outside the box"] and flags["read a file outside the allowlist"]
    assert flags["open an AF_INET socket"] and flags["create SysV shared memory"]
    import ctypes

    libc = ctypes.CDLL(None)
    libc.shmctl(libc.shmget(0x5EED0001, 0, 0), 0, None)  # IPC_RMID: free what it made
