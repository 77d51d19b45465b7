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
