"""Messages from the sandbox are checked before the grader uses them: a forged or malformed one
is ignored, and a forged ``.npy`` header cannot make the grader allocate what it claims."""
from __future__ import annotations

import io

import numpy as np
import pytest

from autograder.sandbox import _load_npy, _well_formed


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize("array", [np.arange(6.0).reshape(2, 3), np.float64(3), np.array([True, False]),
                                   np.zeros((0, 4), np.float32), np.arange(12).reshape(3, 4).T])
def test_honest_npy_bytes_load_as_they_were_saved(array):
    got = _load_npy(_npy(array))
    assert got.dtype == np.asarray(array).dtype and np.array_equal(got, array)


def test_a_header_claiming_a_terabyte_is_refused_without_allocating_it():
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,), }"
    header += b" " * (118 - len(header)) + b"\n"
    raw = np.lib.format.magic(1, 0) + len(header).to_bytes(2, "little") + header + b"\0" * 8
    with pytest.raises(ValueError, match="does not match"):
        _load_npy(raw)


def test_truncated_npy_bytes_are_refused():
    with pytest.raises(ValueError):
        _load_npy(_npy(np.arange(10.0))[:-8])


@pytest.mark.parametrize("message", [
    [1, 2], "done", {"event": "nope"}, {"event": "cell_start", "cell": "0"},
    {"event": "cell_start", "cell": True}, {"event": "cell_start", "cell": -1},
    {"event": "cell_start", "cell": 10**9}, {"event": "call_start", "task": 3, "case": 0},
    {"event": "call_done", "task": "f", "case": 0, "npy": 5},
    {"event": "call_done", "task": "f", "case": 0, "forbidden": [1]},
    {"event": "cell_done", "cell": 0, "error": {"a": 1}},
])
def test_malformed_messages_are_rejected(message):
    assert not _well_formed(message)


@pytest.mark.parametrize("message", [
    {"event": "cell_start", "cell": 0}, {"event": "cell_done", "cell": 3, "error": None},
    {"event": "cells_done"}, {"event": "call_start", "task": "f", "case": 2},
    {"event": "call_done", "task": "f", "case": 0, "npy": "AA==", "error": None, "forbidden": None},
    {"event": "done"},
])
def test_the_workers_own_messages_are_accepted(message):
    assert _well_formed(message)


# ------------------------------------------------------------------------------------------
# The supervisor never blocks on the worker, and believes only the first "cells_done".

import base64  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

from autograder.sandbox import Limits, RunReport, _supervise  # noqa: E402

BIG_PAYLOAD = b"x" * (8 * 2**20)  # far more than a pipe holds (64 KiB)
TASKS = [{"function": "f", "call_timeout": 5.0, "cases": [{"args": []}]}]


def _fake_worker(script):
    """A process speaking the worker's protocol on FD 3 as ``script`` says (``w(obj)`` sends)."""
    read_fd, write_fd = os.pipe()
    prelude = ("import json, os, sys, time\nfd = int(sys.argv[1])\n"
               "def w(obj):\n    os.write(fd, (json.dumps(obj) + '\\n').encode())\n")
    proc = subprocess.Popen([sys.executable, "-c", prelude + script, str(write_fd)],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, pass_fds=(write_fd,), start_new_session=True)
    os.close(write_fd)
    return proc, read_fd


def _supervise_in_thread(proc, read_fd, payload, remaining):
    report = RunReport(isolation="test")
    box = {}

    def run():
        box["outcome"] = _supervise(proc, read_fd, TASKS, payload, Limits(cell_timeout=1.0), report,
                                    remaining, n_cells=1)

    thread = threading.Thread(target=run, daemon=True)
    start = time.monotonic()
    thread.start()
    thread.join(timeout=60)
    elapsed = time.monotonic() - start
    try:
        return thread.is_alive(), elapsed, box.get("outcome"), report
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
        proc.wait()
        os.close(read_fd)


def test_a_worker_that_never_reads_its_inputs_cannot_block_the_grader_past_its_deadline():
    # Student code forges "cells_done" outside any cell, then never reads the 8 MiB of inputs
    # (a cell that ignores SIGALRM): the grader used to block in a synchronous write, forever.
    proc, read_fd = _fake_worker("w({'event': 'cell_start', 'cell': 0})\n"
                                 "w({'event': 'cell_done', 'cell': 0, 'error': None})\n"
                                 "w({'event': 'cells_done'})\n"
                                 "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                                 "while True:\n    time.sleep(1)\n")
    alive, elapsed, outcome, report = _supervise_in_thread(proc, read_fd, BIG_PAYLOAD, remaining=3.0)
    assert not alive, "the grader was still blocked writing the inputs after 60 s"
    assert elapsed < 15, elapsed
    # Blamed on the last cell that ran (it lied, or its thread did), not on a graded task.
    assert outcome == ("cell", 0) and "time limit" in report.cell_errors[0]


def test_only_the_first_cells_done_sends_the_inputs_and_a_second_breaks_nothing():
    # The worker reads all its inputs after two "cells_done" and reports how many bytes came:
    # exactly one copy.  (A second "cells_done" used to write to a closed pipe: ValueError,
    # which stopped the whole batch.)
    proc, read_fd = _fake_worker(
        "w({'event': 'cells_done'})\nw({'event': 'cells_done'})\nw({'event': 'cells_done'})\n"
        "data = sys.stdin.buffer.read()\n"
        "import io, base64, numpy as np\nb = io.BytesIO()\nnp.save(b, np.array(len(data)))\n"
        "w({'event': 'call_start', 'task': 'f', 'case': 0})\n"
        "w({'event': 'call_done', 'task': 'f', 'case': 0, 'npy': base64.b64encode(b.getvalue()).decode(),"
        " 'error': None, 'forbidden': None})\n"
        "w({'event': 'done'})\nw({'event': 'done'})\ntime.sleep(30)\n")
    alive, elapsed, outcome, report = _supervise_in_thread(proc, read_fd, BIG_PAYLOAD, remaining=30.0)
    assert not alive and outcome is None
    assert int(report.calls[("f", 0)].array) == len(BIG_PAYLOAD)


def test_a_cells_done_forged_inside_a_cell_keeps_the_cells_deadline_and_blame():
    proc, read_fd = _fake_worker("w({'event': 'cell_start', 'cell': 0})\n"
                                 "w({'event': 'cells_done'})\nwhile True:\n    time.sleep(1)\n")
    alive, elapsed, outcome, report = _supervise_in_thread(proc, read_fd, BIG_PAYLOAD, remaining=30.0)
    assert not alive and outcome == ("cell", 0)
    assert "time limit" in report.cell_errors[0]
    assert elapsed < 1.0 + 2.0 + 5.0  # the cell's time and grace, not the inputs' 30 s


def test_forged_messages_naming_what_the_job_lacks_are_ignored():
    # Cell 5 and task "g" do not exist, case 7 of "f" neither: the grader used to index the
    # notebook's cells with the forged number (IndexError: the batch stopped).
    proc, read_fd = _fake_worker(
        "w({'event': 'cell_start', 'cell': 0})\n"
        "w({'event': 'cell_done', 'cell': 5, 'error': 'forged'})\n"
        "w({'event': 'cell_done', 'cell': 0, 'error': None})\n"
        "w({'event': 'call_done', 'task': 'g', 'case': 0, 'npy': None, 'error': 'x', 'forbidden': None})\n"
        "w({'event': 'call_done', 'task': 'f', 'case': 7, 'npy': None, 'error': 'x', 'forbidden': None})\n"
        "w({'event': 'cells_done'})\nsys.stdin.buffer.read()\n"
        "w({'event': 'call_start', 'task': 'f', 'case': 0})\n"
        "w({'event': 'call_done', 'task': 'f', 'case': 0, 'npy': None, 'error': 'real', 'forbidden': None})\n"
        "w({'event': 'done'})\ntime.sleep(30)\n")
    alive, elapsed, outcome, report = _supervise_in_thread(proc, read_fd, b"", remaining=30.0)
    assert not alive and outcome is None
    assert report.cell_errors == {}
    assert set(report.calls) == {("f", 0)} and report.calls[("f", 0)].error == "real"


def test_only_a_confined_message_before_any_other_is_believed():
    proc, read_fd = _fake_worker(
        "w({'event': 'confined', 'landlock': 7, 'seccomp': True, 'reason': ''})\n"
        "w({'event': 'confined', 'landlock': 0, 'seccomp': False, 'reason': 'forged'})\n"
        "w({'event': 'cells_done'})\nsys.stdin.buffer.read()\n"
        "w({'event': 'call_done', 'task': 'f', 'case': 0, 'npy': None, 'error': 'x', 'forbidden': None})\n"
        "w({'event': 'done'})\ntime.sleep(30)\n")
    alive, elapsed, outcome, report = _supervise_in_thread(proc, read_fd, b"", remaining=30.0)
    assert not alive and outcome is None
    assert report.confinement == "Landlock ABI 7 + seccomp filter"


def test_a_worker_that_dies_after_confining_itself_is_the_graders_fault_not_the_students():
    # E.g. the kernel layers keep NumPy from loading on some machine: no student code ran, so
    # nobody may be scored for it (the preflight refuses instead).
    proc, read_fd = _fake_worker("w({'event': 'confined', 'landlock': 7, 'seccomp': True, 'reason': ''})\n"
                                 "sys.exit(1)\n")
    alive, elapsed, outcome, report = _supervise_in_thread(proc, read_fd, b"", remaining=30.0)
    assert not alive and outcome is None
    assert "before running any student code" in report.grader_fault and report.task_failures == {}


# ------------------------------------------------------------------------------------------
# Student-controlled names and text in every output.

from autograder.batch import MAX_ID_BYTES, csv_cell, escape_name, read_submission  # noqa: E402
from autograder.feedback import markdown, md_text, render_html  # noqa: E402
from autograder.grading import SubmissionResult, TaskResult  # noqa: E402
from autograder.notebooks import NotebookError, parse_notebook  # noqa: E402

ODD_NAMES = ["alice", "zoë", "a..b", "..", ".hidden", "new\nline", "tab\there", "x" * 255, "é" * 127,
             os.fsdecode(b"\xff\xfe-not-utf8"), "=HYPERLINK(\"http://x\")", "a%0Aline", "a\nline", "~x",
             "<img src=x onerror=alert(1)>", "right\u202eleft", "back\\slash", "x" * 254 + "y"]


def test_student_ids_are_safe_file_names_and_never_collide():
    ids = [escape_name(n) for n in ODD_NAMES]
    assert len(set(ids)) == len(ids)
    for name, ident in zip(ODD_NAMES, ids):
        assert ident.isprintable() and "/" not in ident and not ident.startswith("."), (name, ident)
        assert len(ident.encode("utf-8")) <= MAX_ID_BYTES and ident.encode("utf-8").decode("utf-8")
    assert escape_name("alice") == "alice" and escape_name("zoë") == "zoë"  # ordinary names stay


@pytest.mark.parametrize("text", ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_csv_cells_a_spreadsheet_would_run_are_neutralised(text):
    assert csv_cell(text) == "'" + text
    assert csv_cell("alice") == "alice" and csv_cell(3.0) == 3.0


INJECTION = ("<script>alert(1)</script> [click](javascript:alert(1)) ![x](http://t/p.png) "
             "| extra | cells | **bold** \n# heading")


def _result():
    return SubmissionResult(student="<b>eve</b>", assignment="ch01",
                            tasks=[TaskResult("t", "f", 0.0, 3.0, f"`f` raised an error: ValueError: {INJECTION}")],
                            notices=[f"Cell 'x' raised an error: {INJECTION}"])


def test_markdown_feedback_shows_student_text_as_text():
    text = markdown(_result())
    for raw in ("<script>", "</script>", "<b>", "**bold**", "\n# heading"):
        assert raw not in text, raw
    import re

    assert not re.search(r"(?<!\\)[\[\]]", text), "an unescaped bracket makes a link or image"
    table = [ln for ln in text.splitlines() if ln.startswith("| `f`")]
    assert len(table) == 1 and table[0].count("|") - table[0].count("\\|") == 4  # still 3 columns
    assert "&lt;script&gt;" in text and md_text("`f`") == "`f`"


def test_html_feedback_shows_student_text_as_text():
    page = render_html(_result())
    assert "<script>" not in page and "<b>eve" not in page and "&lt;script&gt;" in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_a_notebook_of_a_terabyte_is_refused_by_its_size_without_reading_it(tmp_path):
    path = tmp_path / "huge.ipynb"
    with open(path, "wb") as fh:
        fh.truncate(2**40)  # sparse: costs no disk, but reading it would never finish
    start = time.monotonic()
    raw, digest, refusal = read_submission(path)
    assert raw is None and "1048576 MiB; the limit is 20 MiB" in refusal
    assert time.monotonic() - start < 1.0
    assert read_submission(path)[1] == digest  # a stable key for resuming


def test_a_fifo_or_a_symlink_in_place_of_the_notebook_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo.ipynb"
    os.mkfifo(fifo)
    assert read_submission(fifo)[2] == "the notebook is not a regular file"
    link = tmp_path / "link.ipynb"
    link.symlink_to(tmp_path / "elsewhere.ipynb")
    assert "could not be read" in read_submission(link)[2]


def test_deeply_nested_and_100000_cell_notebooks_are_refused_with_a_reason():
    deep = b'{"cells": [], "metadata": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(NotebookError, match="nested too deeply"):
        parse_notebook(deep)
    many = json.dumps({"cells": [{"cell_type": "code", "source": "", "metadata": {}}] * 100_000}).encode()
    with pytest.raises(NotebookError, match="100000 cells; the limit is"):
        parse_notebook(many)


def test_the_seccomp_program_is_well_formed():
    from autograder.confine import seccomp_program_x86_64

    program = seccomp_program_x86_64()
    assert len(program) % 8 == 0 and len(program) // 8 < 4096
    assert program[-8:] == bytes.fromhex("0600000000 00ff7f".replace(" ", ""))  # RET ALLOW
