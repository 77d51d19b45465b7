"""Issue 8 item 5: the checks student code must not be able to switch off.

Each attack runs as a graded call inside the real sandbox (the level this machine allows) and
must not earn the points it is after.  Where an attack worked against an earlier version of the
worker, the test says so: it is the proof that the test can fail.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from autograder import grading, sandbox
from autograder.spec import Case, Task

pytestmark = pytest.mark.slow


def _run(source, tasks, library, cases=None):
    rng = np.random.default_rng(3)
    cases = cases or {t.function: t.cases(rng) for t in tasks}
    report = sandbox.run_in_sandbox([{"label": "answers", "source": source}],
                                    [(t, cases[t.function]) for t in tasks], library,
                                    sandbox.Limits(cell_timeout=20, call_timeout=20),
                                    require_isolation=False)
    return report, cases


def _verdicts(source, tasks, library, references):
    report, cases = _run(source, tasks, library)
    return {t.function: grading._judge(t, cases[t.function], report, references, {}) for t in tasks}


# ------------------------------------------------------------------- (a) forbidden kernels

CONV_OPS = ("conv2d", "convolution", "_convolution", "mkldnn_convolution", "_slow_conv2d_forward",
            "thnn_conv2d", "slow_conv_dilated2d", "_nnpack_spatial_convolution")


def _conv_cases(rng):
    X, W, b = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    return [Case((X, W, b), label="X (2, 3, 6, 6)")]


def _conv_reference(X, W, b):
    import torch.nn.functional as F

    return F.conv2d(X, W, b)


# Catch the refusal, walk the exception's traceback to the refusing kernel's frame (and every
# frame, closure and default argument reachable from there), undo every kernel registration
# found, clear every log of refusals, leave the recording dispatch mode, and call again.
TRACEBACK_UNDO = '''
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import _disable_current_modes

def _undo(value, seen, depth=0):
    if id(value) in seen or depth > 4:
        return
    seen.add(id(value))
    try:
        if type(value).__name__ == "_DispatchModule":
            value.reset()
            return
        if isinstance(value, list) and value and all(isinstance(v, str) and "operator" in v for v in value):
            del value[:]
        if isinstance(value, set) and all(isinstance(v, str) for v in value):
            value.clear()
        inner = []
        if isinstance(value, dict):
            inner = list(value.values())
        elif isinstance(value, (list, tuple)):
            inner = list(value)
        for attr in ("__defaults__", "__kwdefaults__", "__closure__"):
            more = getattr(value, attr, None)
            if isinstance(more, dict):
                more = list(more.values())
            if isinstance(more, tuple):
                inner += [getattr(c, "cell_contents", c) for c in more]
        if isinstance(getattr(value, "__dict__", None), dict) and not isinstance(value, type):
            inner += list(vars(value).values())
    except BaseException:
        return
    for v in inner:
        _undo(v, seen, depth + 1)

def conv(X, W, b):
    try:
        return F.conv2d(X, W, b)
    except BaseException as exc:
        seen = set()
        tb = exc.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            while frame is not None:
                _undo(dict(frame.f_locals), seen)
                frame = frame.f_back
            tb = tb.tb_next
    with _disable_current_modes():
        return F.conv2d(X, W, b)
'''


def test_undoing_the_kernel_guard_through_the_exception_traceback_fails():
    """Against the worker of 2026-12-02 this attack earned full marks: the refusing kernel held
    its registration handles in a default argument, reachable from its frame."""
    pytest.importorskip("torch")
    task = Task("conv", 2, _conv_cases, library="torch", forbidden_ops=CONV_OPS, rtol=1e-4, atol=1e-6)
    verdict = _verdicts(TRACEBACK_UNDO, [task], "torch", {"conv": _conv_reference})["conv"]
    assert verdict.points == 0, verdict.message


def test_the_refusal_outlives_every_python_reference_to_its_handles():
    """Run in a child process: the refusal is permanent by design (no Python object can undo it,
    not even the worker's own)."""
    pytest.importorskip("torch")
    code = """
import gc, warnings, torch, torch.nn.functional as F
from autograder import worker
log = []
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    worker._refuse_operators(torch, {"convolution", "_convolution"}, log)
gc.collect()
handles = [o for o in gc.get_objects() if type(o).__name__ == "_DispatchModule"]
try:
    F.conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2))
    print("computed")
except PermissionError:
    print("refused", len(handles), log)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))})
    assert done.stdout.strip() == "refused 0 ['torch operator convolution']", done.stdout + done.stderr[-2000:]


# ------------------------------------------------------------------- (b) compiled extensions

LOAD_BY_FILE = '''
import glob, importlib.machinery, importlib.util, os
import numpy as np

def _load(pattern, name):
    """Load the extension file matching ``pattern`` as ``innocent.<its own name>`` (the init
    function's name must match the last part; the package part is free)."""
    path = sorted(glob.glob(pattern))[0]
    full = "innocent." + os.path.basename(path).split(".")[0]
    loader = importlib.machinery.ExtensionFileLoader(full, path)
    module = loader.create_module(importlib.util.spec_from_file_location(full, path, loader=loader))
    loader.exec_module(module)
    return module

def blas_dot(x, y, site):
    try:
        return _load(os.path.join(site, "scipy", "linalg", "_fblas.*.so"), "_fblas").ddot(x, y)
    except BaseException:
        return -1.0

def control_dot(x, y, site):  # the same trick on NumPy's own extension: allowed
    try:
        module = _load(os.path.join(site, "numpy", "linalg", "_umath_linalg.*.so"), "_umath_linalg")
        return float(x @ y) if module is not None else -1.0
    except BaseException as err:
        return -1.0
'''


def _dot_cases(rng):
    import numpy

    site = os.path.dirname(os.path.dirname(numpy.__file__))
    return [Case((rng.standard_normal(5), rng.standard_normal(5), site), label="x (5,), y (5,)")]


@pytest.mark.parametrize("library", ["numpy", "torch"])
@pytest.mark.parametrize("level", ["strongest", "audit hook alone"])
def test_forbidden_compiled_extensions_are_refused_by_file_under_any_module_name(library, level, monkeypatch):
    """At the bubblewrap level the forbidden packages' folders are empty in the sandbox; the
    worker's audit hook refuses their files by path as a second layer, tested alone by running
    the worker without isolation (where the files are there to load)."""
    if library == "torch":
        pytest.importorskip("torch")
    pytest.importorskip("scipy")
    if level == "audit hook alone":
        monkeypatch.setattr(sandbox, "isolation_level", lambda: "rlimits")
    tasks = [Task(name, 1, _dot_cases, library=library) for name in ("blas_dot", "control_dot")]
    dot = lambda x, y, site: float(np.dot(np.asarray(x), np.asarray(y)))  # noqa: E731
    got = _verdicts(LOAD_BY_FILE, tasks, library, {t.function: dot for t in tasks})
    assert got["control_dot"].points == 1, got["control_dot"].message  # the loading trick works
    assert got["blas_dot"].points == 0
    if level == "audit hook alone":
        assert "uses _fblas" in got["blas_dot"].message, got["blas_dot"].message


# ------------------------------------------------------------------- (c) line budgets, inputs

def _row_cases(rng):
    return [Case((rng.standard_normal((300, 4)),), label="X (300, 4)", count_lines=True)]


def _rows_reference(X):
    return X.sum(axis=1)


LOOP = '''
def _loop(X):
    out = np.zeros(X.shape[0])
    for i in range(X.shape[0]):
        out[i] = X[i].sum()
    return out
'''

# Each function loops over the 300 rows (600+ lines of Python against a budget of 40) and tries
# one way of not being counted; the honest one, graded after every patch, must keep its points.
LINE_ATTACKS = '''
import sys, signal, threading
import numpy as np
''' + LOOP + '''
def loop_rows(X):
    return _loop(X)

def loop_other_file(X):  # code compiled under a name that is not a notebook cell's
    namespace = {"np": np}
    exec(compile(_SOURCE, "helper.py", "exec"), namespace)
    return namespace["_loop"](X)

def loop_library_name(X):  # ... or under a library's own file name
    namespace = {"np": np}
    exec(compile(_SOURCE, np.__file__, "exec"), namespace)
    return namespace["_loop"](X)

def loop_thread(X):  # the loop in a thread the call starts and joins
    box = []
    worker = threading.Thread(target=lambda: box.append(_loop(X)))
    worker.start()
    worker.join()
    return box[0]

def loop_trace_lines(X):  # switch off line events on the looping frame
    try:
        sys._getframe().f_trace_lines = False
    except BaseException:
        pass
    out = np.zeros(X.shape[0])
    for i in range(X.shape[0]):
        out[i] = X[i].sum()
    return out

def loop_reset_counter(X):  # reach the tracer and zero its count on every row
    tracer = sys.gettrace()
    def reset():
        try:
            for cell in tracer.__closure__ or ():
                if isinstance(cell.cell_contents, list) and cell.cell_contents and isinstance(cell.cell_contents[0], int):
                    cell.cell_contents[0] = 0
        except BaseException:
            pass
    out = np.zeros(X.shape[0])
    for i in range(X.shape[0]):
        reset()
        out[i] = X[i].sum()
    return out

def loop_untrace(X):  # remove the tracer (the audit hook refuses), then loop
    try:
        sys.settrace(None)
    except BaseException:
        pass
    return _loop(X)

def loop_main_module(X):  # replace the worker's tracer factory through sys.modules["__main__"]
    main = sys.modules["__main__"]
    for name in ("_line_tracer", "_line_counter"):
        setattr(main, name, lambda *a, **k: (lambda *b: None))
    return _loop(X)

def loop_worker_globals(X):  # ... or through a worker function's __globals__
    handler = signal.getsignal(signal.SIGALRM)
    g = getattr(handler, "__globals__", {})
    for name in ("_line_tracer", "_line_counter", "counter_stop"):
        g[name] = lambda *a, **k: (0, True)
    return _loop(X)

def honest_rows(X):
    return X.sum(axis=1)
'''
LINE_ATTACKS = LINE_ATTACKS.replace("import numpy as np\n", "import numpy as np\n_SOURCE = " + repr(LOOP) + "\n", 1)
LINE_NAMES = ["loop_rows", "loop_other_file", "loop_library_name", "loop_thread", "loop_trace_lines",
              "loop_reset_counter", "loop_untrace", "loop_main_module", "loop_worker_globals", "honest_rows"]


def test_line_budget_attacks_from_the_issue_no_longer_help():
    tasks = [Task(name, 1, _row_cases, max_python_lines=40) for name in LINE_NAMES]
    report, cases = _run(LINE_ATTACKS, tasks, "numpy")
    got = {t.function: grading._judge(t, cases[t.function], report, {t.function: _rows_reference}, {})
           for t in tasks}
    assert got["honest_rows"].points == 1, got["honest_rows"].message
    gained = {name: got[name].message for name in LINE_NAMES[:-1] if got[name].points}
    assert not gained, gained
    assert "lines of Python for one call" in got["loop_rows"].message
    assert "lines of Python for one call" in got["loop_other_file"].message
    assert "file name" in got["loop_library_name"].message
    if report.isolation != "rlimits":  # thread ids tell only in the sandbox's own PID namespace
        assert "started a thread" in got["loop_thread"].message, got["loop_thread"].message


CELL_THREAD = '''
import queue, threading
import numpy as np
_jobs, _done = queue.Queue(), queue.Queue()
def _serve():  # started by a cell, it outlives it and loops where nothing is counted
    while True:
        X = _jobs.get()
        out = np.zeros(X.shape[0])
        for i in range(X.shape[0]):
            out[i] = X[i].sum()
        _done.put(out)
threading.Thread(target=_serve, daemon=True).start()

def loop_in_cell_thread(X):
    _jobs.put(X)
    return _done.get()
'''


def _many_rows(rng):
    return [Case((rng.standard_normal((60000, 4)),), label="X (60000, 4)", count_lines=True)]


def test_a_loop_in_a_thread_started_by_a_cell_is_not_uncounted():
    """The thread lives on (a spinning one costs an honest answer nothing, see below); doing
    the call's work in it fails the call on its CPU time."""
    task = Task("loop_in_cell_thread", 1, _many_rows, max_python_lines=40, call_timeout=8)
    verdict = _verdicts(CELL_THREAD, [task], "numpy", {"loop_in_cell_thread": _rows_reference})
    assert verdict["loop_in_cell_thread"].points == 0
    message = verdict["loop_in_cell_thread"].message
    assert "let another thread work" in message, message


def _double_cases(rng):
    return [Case((rng.standard_normal((3, 4)),), label="X (3, 4)")]


def _double_reference(X):
    return X * 2


# Each function doubles its input in place (which the rule forbids) and tries one way of hiding it.
INPUT_ATTACKS = '''
import hashlib, signal, sys
import numpy as np

def inplace(X):
    X *= 2
    return X

def inplace_code_swap(X):  # the worker's digest function, its code swapped for a constant
    g = getattr(signal.getsignal(signal.SIGALRM), "__globals__", {})
    digest = g["input_digest"]
    pristine = digest(X, hashlib.sha256, np.ndarray.tobytes)
    exec("def _fake(array, sha256, tobytes):\\n    return " + repr(pristine), g)
    digest.__code__ = g["_fake"].__code__
    X *= 2
    return X

def inplace_main_module(X):  # the worker's check, replaced through sys.modules["__main__"]
    main = sys.modules["__main__"]
    main._modified = lambda *a, **k: None
    main._snapshot = lambda *a, **k: []
    main.input_digest = lambda *a, **k: "0" * 64
    X *= 2
    return X

def inplace_patched_libraries(X):  # the comparison and hashing functions, replaced
    before = X.copy()
    np.array_equal = lambda *a, **k: True
    digest = hashlib.sha256(b"")
    hashlib.sha256 = lambda *a, **k: digest
    np.ndarray.tobytes  # (a C type: its methods cannot be replaced)
    X *= 2
    return X

def inplace_worker_globals(X):  # ... or the worker's own functions, through __globals__
    g = getattr(signal.getsignal(signal.SIGALRM), "__globals__", {})
    g["_modified"] = lambda *a, **k: None
    g["input_digest"] = lambda *a, **k: "0" * 64
    X *= 2
    return X

def inplace_restored_copy(X):  # hand back the modified array but keep a pristine one around
    pristine = X.copy()
    X *= 2
    result = X.copy()
    return result

def honest_double(X):
    return X * 2
'''
INPUT_NAMES = ["inplace", "inplace_code_swap", "inplace_main_module", "inplace_patched_libraries", "inplace_worker_globals",
               "inplace_restored_copy", "honest_double"]


def test_modified_inputs_are_found_whatever_the_student_patched():
    tasks = [Task(name, 1, _double_cases) for name in INPUT_NAMES]
    got = _verdicts(INPUT_ATTACKS, tasks, "numpy", {t.function: _double_reference for t in tasks})
    assert got["honest_double"].points == 1, got["honest_double"].message
    for name in INPUT_NAMES[:-1]:
        assert got[name].points == 0, (name, got[name].message)
        assert "modified its input argument number 1" in got[name].message, (name, got[name].message)


def test_modified_inputs_are_found_in_torch_tasks_too():
    pytest.importorskip("torch")
    source = '''
def inplace(X):
    X.mul_(2)
    return X
def honest_double(X):
    return X * 2
'''
    tasks = [Task(name, 1, _double_cases, library="torch") for name in ("inplace", "honest_double")]
    got = _verdicts(source, tasks, "torch", {t.function: _double_reference for t in tasks})
    assert got["honest_double"].points == 1, got["honest_double"].message
    assert got["inplace"].points == 0 and "modified its input argument number 1" in got["inplace"].message


# A cell keeps its own frame; a graded call walks up from it to the worker's frames and rewrites
# what it finds: the job's line budgets, every function's code, every list of input arrays.
SAVED_FRAME = '''
import sys, types
import numpy as np
''' + LOOP + '''
_kept = sys._getframe()  # allowed while the cells run (matplotlib's parser needs frames)

def _neutral(*args, **kwargs):
    return (0, True)

def loop_via_saved_frame(X):
    frame = _kept
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if isinstance(value, dict):
                for task in value.get("tasks", ()) if isinstance(value.get("tasks"), list) else ():
                    task["max_python_lines"] = 10**9
                    for case in task.get("cases", ()):
                        case["count_lines"] = False
                for inner in list(value.values()):
                    if isinstance(inner, types.FunctionType):
                        inner.__code__ = _neutral.__code__
            if isinstance(value, types.FunctionType) and value.__globals__ is not globals():
                try:
                    value.__code__ = _neutral.__code__
                except BaseException:
                    pass
        frame = frame.f_back
    return _loop(X)
'''


def test_a_frame_kept_by_a_cell_does_not_reach_the_graded_calls_bookkeeping():
    task = Task("loop_via_saved_frame", 1, _row_cases, max_python_lines=40)
    verdict = _verdicts(SAVED_FRAME, [task], "numpy", {"loop_via_saved_frame": _rows_reference})
    assert verdict["loop_via_saved_frame"].points == 0
    assert "lines of Python for one call" in verdict["loop_via_saved_frame"].message


HONEST_HABITS = '''
import numpy as np
results = {}
def attempt(name, fn):
    try:
        fn()
        results[name] = "ok"
    except BaseException as e:
        results[name] = type(e).__name__ + ": " + str(e)[:80]
attempt("logging", lambda: __import__("logging").getLogger("x").warning("hi"))
attempt("namedtuple", lambda: __import__("collections").namedtuple("P", "x y"))
attempt("enum", lambda: __import__("enum").Enum("E", "A B"))
attempt("warnings", lambda: __import__("warnings").warn("w"))
attempt("traceback", lambda: __import__("traceback").format_stack())
attempt("matplotlib", lambda: (__import__("matplotlib").use("Agg"),
                               __import__("matplotlib.pyplot").pyplot.plot(np.arange(3))))
attempt("tqdm", lambda: list(__import__("tqdm").tqdm(range(3))))
import threading, time
def _spin():  # outlives its cell, burning CPU (and catching what it can)
    n = 0
    while True:
        n += 1
        if n % 100000 == 0:
            try:
                time.sleep(0.001)
            except BaseException:
                pass
def _sleep():
    while True:
        try:
            time.sleep(1000)
        except BaseException:
            pass
threading.Thread(target=_spin, daemon=True).start()
threading.Thread(target=_sleep, daemon=True).start()
def honest_rows(X):
    if any(v != "ok" for v in results.values()):
        raise RuntimeError(repr({k: v for k, v in results.items() if v != "ok"}))
    import logging
    logging.getLogger("y").info("inside a graded call")
    return X.sum(axis=1)
'''


def test_honest_notebook_habits_still_work_in_cells_and_calls():
    """Plotting, logging, namedtuple, tracebacks, tqdm and threads that outlive their cell;
    logging in a counted call."""
    task = Task("honest_rows", 1, _row_cases, max_python_lines=40)
    verdict = _verdicts(HONEST_HABITS, [task], "numpy", {"honest_rows": _rows_reference})
    assert verdict["honest_rows"].points == 1, verdict["honest_rows"].message


# ------------------------------------------------------------------- forged reports

# The graded call loops (far over its line budget), then duplicates the worker's report channel,
# points the original at /dev/null so the worker's true report is lost, and writes the report
# an honest call would have produced: the right values, digests of untouched inputs, no error.
FORGED_REPORT = '''
import base64, hashlib, io, json, os, sys
import numpy as np

def forge_rows(X):
    out = np.zeros(X.shape[0])
    for i in range(X.shape[0]):
        out[i] = X[i].sum()
    channel = int(sys.argv[1])
    copy = os.dup(channel)
    null = os.open("/dev/null", os.O_WRONLY)
    os.dup2(null, channel)
    digest = hashlib.sha256(f"{X.dtype.str} {X.shape}".encode())
    digest.update(X.tobytes())
    buffer = io.BytesIO()
    np.save(buffer, out)
    for message in (
            {"event": "call_done", "task": "forge_rows", "case": 0,
             "npy": base64.b64encode(buffer.getvalue()).decode(), "error": None,
             "forbidden": None, "inputs": [digest.hexdigest()]},
            {"event": "call_start", "task": "honest_rows", "case": 0}):
        os.write(copy, (json.dumps(message) + "\\n").encode())
    return out

def honest_rows(X):
    return X.sum(axis=1)
'''


@pytest.mark.parametrize("authenticated", [True, False])
def test_a_forged_report_from_a_graded_call_earns_nothing(authenticated, monkeypatch):
    """Without the per-run key (``authenticated=False``, the grader before this fix) the forged
    report earned the point; with it the forged lines are ignored and the call fails."""
    monkeypatch.setattr(sandbox, "AUTHENTICATE_REPORTS", authenticated)
    tasks = [Task(name, 1, _row_cases, max_python_lines=40, call_timeout=5)
             for name in ("forge_rows", "honest_rows")]
    got = _verdicts(FORGED_REPORT, tasks, "numpy", {t.function: _rows_reference for t in tasks})
    if authenticated:
        assert got["forge_rows"].points == 0, got["forge_rows"].message
        assert got["honest_rows"].points == 1, got["honest_rows"].message
    else:
        assert got["forge_rows"].points == 1, got["forge_rows"].message


CELL_FORGES_CELLS_DONE = '''
import json, os, select, sys
os.write(int(sys.argv[1]), (json.dumps({"event": "cells_done"}) + "\\n").encode())
import time
time.sleep(1)
data = b""
for fd in range(3, 20):  # wherever the inputs channel is: try every likely descriptor
    try:
        if select.select([fd], [], [], 0)[0]:
            data += os.read(fd, 1 << 20)
    except (OSError, ValueError):
        pass
STOLEN = len(data)

def stolen_bytes(X):
    return X.sum(axis=1) * 0 + STOLEN
'''


@pytest.mark.parametrize("authenticated", [True, False])
def test_a_cell_that_fakes_cells_done_is_not_sent_the_inputs(authenticated, monkeypatch):
    """The grader sends the inputs on the worker's authenticated ``cells_done`` only: a cell
    that writes its own finds nothing to read (and without the key, it did)."""
    monkeypatch.setattr(sandbox, "AUTHENTICATE_REPORTS", authenticated)
    task = Task("stolen_bytes", 1, _row_cases)
    report, cases = _run(CELL_FORGES_CELLS_DONE, [task], "numpy")
    result = report.calls.get(("stolen_bytes", 0))
    if authenticated:
        assert result.error is None, result.error
        assert not result.array.any(), "a cell read bytes sent to the worker's inputs channel"
    else:
        assert result is None or result.error or result.array.any()


# ------------------------------------------------------------------- judged data at rlimits

def test_judged_data_counts_as_hidden_only_where_the_sandbox_can_hide_it(tmp_path):
    """At the rlimits level only Landlock hides a judged task's data folder: without it (or
    with the folder inside the Python installation, which Landlock lets student code read)
    the run is the grader's fault, never a score."""
    data = tmp_path / "data"
    data.mkdir()
    run = sandbox.RunReport(isolation="rlimits", confinement="Landlock ABI 7 + seccomp filter")
    assert sandbox.exposed_private_paths(run, [data]) is None
    assert sandbox.exposed_private_paths(run, []) is None
    inside = Path(sys.prefix) / "share"
    assert "inside what the sandbox lets" in sandbox.exposed_private_paths(run, [inside])
    bare = sandbox.RunReport(isolation="rlimits", confinement="none (missing: landlock)")
    assert "without Landlock" in sandbox.exposed_private_paths(bare, [data])
    for level in ("bubblewrap", "namespaces-root", "namespaces-user"):
        assert sandbox.exposed_private_paths(sandbox.RunReport(isolation=level), [inside]) is None


def test_a_judged_task_whose_data_could_be_read_is_not_scored(monkeypatch):
    from autograder import grading as grading_module

    monkeypatch.setattr(grading_module, "exposed_private_paths", lambda report, paths: "exposed")
    job = _judged_job()
    out = grading_module.grade_submission(job)
    assert out.get("grader_error") == "exposed" and "tasks" not in out


def _judged_job():
    """A grading job for chapter 7 (which has a judged task) with the released stubs: fast."""
    import json

    from submissions import _load, make_submission

    a = "ch07_lenet"
    return {"student": "s", "assignment": a, "seed": 1, "limits": {}, "private_paths": [],
            "notebook": json.dumps(make_submission(a, fill="release")).encode(),
            "release": _load("exercises", a), "solution_cells": grading.solution_code(_load("solutions", a)),
            "notices": [], "allow_weak_sandbox": True}


def test_a_torch_task_that_must_return_a_tensor_fails_on_an_array_as_its_notebook_says():
    """Chapter 3's rule ("return a tensor, no .numpy()"), applied by the grader as by the
    visible test: an array with the right values fails, a tensor passes."""
    pytest.importorskip("torch")
    source = '''
import torch

def as_array(X):
    return (X * 2).numpy()

def as_tensor(X):
    return X * 2

def as_tensor_tuple(X):
    return X * 2, X * 2
'''
    tasks = [Task(name, 1, _double_cases, library="torch", returns_tensor=True)
             for name in ("as_array", "as_tensor")]
    tasks.append(Task("as_tensor_tuple", 1, _double_cases, library="torch", returns_tensor=True,
                      output_names=("a", "b")))
    references = {"as_array": _double_reference, "as_tensor": _double_reference,
                  "as_tensor_tuple": lambda X: (X * 2, X * 2)}
    got = _verdicts(source, tasks, "torch", references)
    assert got["as_array"].points == 0 and "not a torch.Tensor" in got["as_array"].message, got["as_array"].message
    assert got["as_tensor"].points == 1, got["as_tensor"].message
    assert got["as_tensor_tuple"].points == 1, got["as_tensor_tuple"].message
    with pytest.raises(ValueError, match="returns_tensor"):
        Task("numpy_task", 1, _double_cases, returns_tensor=True)
