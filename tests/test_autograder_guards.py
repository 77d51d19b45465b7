"""Issue 8 item 5: the checks student code must not be able to switch off.

Each attack runs as a graded call inside the real sandbox (the level this machine allows) and
must not earn the points it is after.  Where an attack worked against an earlier version of the
worker, the test says so: it is the proof that the test can fail.
"""
from __future__ import annotations

import os
import subprocess
import sys

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

def cffi_dot(x, y, site):
    try:
        backend = _load(os.path.join(site, "_cffi_backend.*.so"), "_cffi_backend")
        return float(x @ y) if backend.FFI else -1.0
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
    tasks = [Task(name, 1, _dot_cases, library=library) for name in ("blas_dot", "cffi_dot", "control_dot")]
    dot = lambda x, y, site: float(np.dot(np.asarray(x), np.asarray(y)))  # noqa: E731
    got = _verdicts(LOAD_BY_FILE, tasks, library, {t.function: dot for t in tasks})
    assert got["control_dot"].points == 1, got["control_dot"].message  # the loading trick works
    assert got["blas_dot"].points == 0 and got["cffi_dot"].points == 0
    if level == "audit hook alone":
        assert "uses _fblas" in got["blas_dot"].message, got["blas_dot"].message
        assert "uses _cffi_backend" in got["cffi_dot"].message, got["cffi_dot"].message
