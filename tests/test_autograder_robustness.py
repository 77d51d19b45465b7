"""Robustness: broken, odd and misnamed submissions, and a grader killed half-way.

Every broken submission gets a clear message of its own (in its result record and feedback)
and exactly the score it earns; nothing else in the batch is lost.  A batch whose grader is
killed with SIGKILL finishes on the next run with every submission graded exactly once.
"""
from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from autograder.feedback import md_text
from submissions import REPO, make_submission, write_submission

pytestmark = pytest.mark.slow
A = "ch01_cross_correlation"  # convolve2d_loops 3, corr2d_batch 3, input_gradient 4
NB = f"{A}.ipynb"


def _gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _drop(gid):
    def edit(nb):
        nb["cells"] = [c for c in nb["cells"] if _gid(c) != gid]
    return edit


def _duplicate(gid, source):
    def edit(nb):
        index = next(i for i, c in enumerate(nb["cells"]) if _gid(c) == gid)
        copy = json.loads(json.dumps(nb["cells"][index]))
        copy["source"] = source
        nb["cells"].insert(index + 1, copy)
    return edit


def _rename(gid, new):
    def edit(nb):
        for cell in nb["cells"]:
            if _gid(cell) == gid:
                cell["metadata"]["nbgrader"]["grade_id"] = new
    return edit


def _kernel(name):
    def edit(nb):
        nb["metadata"]["kernelspec"] = {"name": name, "display_name": name, "language": "R"}
    return edit


WRONG_LOOPS = "def convolve2d_loops(X, K):\n    return X[:1, :1] * 0\n"

# student -> (expected score, words the student's record must show, how to write it)
CASES = {
    "good": (10.0, [], lambda root: write_submission(root, "good", A, make_submission(A))),
    "malformed_json": (0.0, ["not valid notebook JSON"],
                       lambda root: write_submission(root, "malformed_json", A, raw='{"cells": [')),
    "empty_file": (0.0, ["not valid notebook JSON"], lambda root: write_submission(root, "empty_file", A, raw=b"")),
    "binary_file": (0.0, ["not valid notebook JSON"],
                    lambda root: write_submission(root, "binary_file", A, raw=b"\x89PNG\r\n\x1a\n\xff\xfe\x00")),
    "not_a_notebook": (0.0, ["JSON but not a notebook"],
                       lambda root: write_submission(root, "not_a_notebook", A, raw='{"hello": "world"}')),
    "json_list": (0.0, ["JSON but not a notebook"], lambda root: write_submission(root, "json_list", A, raw="[1, 2, 3]")),
    "bad_cell": (0.0, ["neither text nor a list"], lambda root: write_submission(
        root, "bad_cell", A, raw=json.dumps({"cells": [{"cell_type": "code", "source": 5}]}))),
    "huge_notebook": (0.0, ["MiB; the limit is"], lambda root: write_submission(
        root, "huge_notebook", A, raw=b'{"cells": [], "x": "' + b"a" * (21 * 2**20) + b'"}')),
    "missing_answer": (7.0, ["answer cell 'corr2d_batch' is missing", "`corr2d_batch` is not defined"],
                       lambda root: write_submission(root, "missing_answer", A,
                                                     make_submission(A, edit=_drop("corr2d_batch")))),
    "duplicate_ids": (10.0, ["'convolve2d_loops' appears more than once"], lambda root: write_submission(
        root, "duplicate_ids", A, make_submission(A, edit=_duplicate("convolve2d_loops", WRONG_LOOPS)))),
    "renamed_ids": (10.0, ["'my_loops' is not part of the assignment", "answer cell 'convolve2d_loops' is missing"],
                    lambda root: write_submission(root, "renamed_ids", A,
                                                  make_submission(A, edit=_rename("convolve2d_loops", "my_loops")))),
    "wrong_kernel": (10.0, ["kernel 'ir'"], lambda root: write_submission(
        root, "wrong_kernel", A, make_submission(A, edit=_kernel("ir")))),
    "extra_files": (10.0, ["Ignored files that are not the notebook: data.npy, notes.txt, sub"], None),
    "wrong_name": (10.0, [f"Expected {NB}; graded my homework.ipynb instead"], lambda root: write_submission(
        root, "wrong_name", A, make_submission(A), name="my homework.ipynb")),
    "two_wrong_names": (0.0, ["could not tell which to grade", "no notebook was submitted"], None),
    "no_notebook": (0.0, ["no notebook was submitted"], None),
}


def _write_odd_folders(root):
    folder = write_submission(root, "extra_files", A, make_submission(A)).parent
    (folder / "notes.txt").write_text("my notes")
    (folder / "data.npy").write_bytes(b"\x93NUMPY junk")
    (folder / "sub").mkdir()
    (folder / "sub" / "other.ipynb").write_text("{}")
    (folder / ".ipynb_checkpoints").mkdir()  # hidden: ignored silently
    write_submission(root, "two_wrong_names", A, make_submission(A), name="a.ipynb")
    write_submission(root, "two_wrong_names", A, make_submission(A, fill="release"), name="b.ipynb")
    (root / "no_notebook" / A).mkdir(parents=True)
    (root / "no_notebook" / A / "answers.py").write_text("print('hi')")


def _cli(root, out, db, workers):
    return [sys.executable, "-m", "autograder", "grade", "--assignment", A, "--submissions", str(root),
            "--out", str(out), "--db", f"sqlite:///{db}", "--workers", str(workers), "--cell-timeout", "3"]


def _scores_from_gradebook(db):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}", course_id="dlcourse") as gb:
        return {s.student.id: s.score for s in gb.assignment_submissions(A)}


def _rows(db):
    con = sqlite3.connect(db)
    try:
        return con.execute("select count(*) from submitted_assignment").fetchone()[0]
    finally:
        con.close()


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    root = tmp_path_factory.mktemp("submissions")
    out = tmp_path_factory.mktemp("out")
    for _, _, write in CASES.values():
        if write is not None:
            write(root)
    _write_odd_folders(root)
    (root / "stray_file.txt").write_text("not a student")  # ignored: not a folder
    (root / "other_assignment_only" / "ch02_padding_stride").mkdir(parents=True)  # not this assignment
    db = out / "gb.db"
    done = subprocess.run(_cli(root, out, db, 2), capture_output=True, text=True, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    records = {p.stem: json.loads(p.read_text()) for p in (out / A / "results").glob("*.json")}
    return {"records": records, "out": out / A, "db": db, "stdout": done.stdout}


def test_every_broken_submission_gets_the_score_it_earns(broken):
    assert {s: r["score"] for s, r in broken["records"].items()} == {s: c[0] for s, c in CASES.items()}
    assert all(r["max_score"] == 10 for r in broken["records"].values())


def test_every_student_is_in_the_csv_and_the_gradebook(broken):
    want = {s: c[0] for s, c in CASES.items()}
    with open(broken["out"] / "grades.csv") as fh:
        assert {row["student"]: float(row["score"]) for row in csv.DictReader(fh)} == want
    assert _scores_from_gradebook(broken["db"]) == want
    assert _rows(broken["db"]) == len(want)


@pytest.mark.parametrize("student", sorted(CASES))
def test_each_problem_is_explained_to_the_student(broken, student):
    record = broken["records"][student]
    text = " ".join(record["notices"] + [t["message"] for t in record["tasks"]])
    for words in CASES[student][1]:
        assert words in text, (student, text)
    feedback = (broken["out"] / "feedback" / student / f"{A}.md").read_text()
    for words in CASES[student][1]:
        assert md_text(words) in feedback, (student, feedback)
    if not CASES[student][1]:
        assert record["notices"] == []


def test_a_notebook_that_cannot_be_read_says_so_for_every_task(broken):
    for student in ("malformed_json", "not_a_notebook", "bad_cell"):
        for task in broken["records"][student]["tasks"]:
            assert task["message"].startswith("could not grade: "), task


# ------------------------------------------------------------------------------------------
# Killing the grader mid-batch.


def _slow(seconds):
    """An added cell that only takes time, so the batch is still running when it is killed."""
    def edit(nb):
        nb["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                            "source": f"import time\ntime.sleep({seconds})"})
    return edit


KILL_BATCH = {  # student -> (expected score, answers)
    "s1": (10.0, {}),
    "s2": (7.0, {"corr2d_batch": "def corr2d_batch(X, K):\n    return X * 0\n"}),
    "s3": (10.0, {}),
    "s4": (6.0, {"input_gradient": "def input_gradient(X, K, Y):\n    return K * 0 + 1\n"}),
    "s5": (0.0, None),
    "s6": (10.0, {}),
}


def test_a_batch_killed_half_way_finishes_with_everyone_graded_exactly_once(tmp_path):
    root, out = tmp_path / "submissions", tmp_path / "out"
    for student, (_, answers) in KILL_BATCH.items():
        nb = (make_submission(A, fill="release", edit=_slow(1)) if answers is None
              else make_submission(A, answers, edit=_slow(1)))
        write_submission(root, student, A, nb)
    db = out / "gb.db"
    results = out / A / "results"
    proc = subprocess.Popen(_cli(root, out, db, 1), cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if results.is_dir() and any(results.glob("*.json")):
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the batch finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    graded_before = {p.name: p.read_bytes() for p in results.glob("*.json")}
    assert 1 <= len(graded_before) < len(KILL_BATCH)
    assert not (out / A / "grades.csv").exists()

    done = subprocess.run(_cli(root, out, db, 1), capture_output=True, text=True, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    want = {s: score for s, (score, _) in KILL_BATCH.items()}
    # The records written before the kill were kept as they were: not graded a second time.
    for name, data in graded_before.items():
        assert (results / name).read_bytes() == data
    records = {p.stem: json.loads(p.read_text()) for p in results.glob("*.json")}
    assert {s: r["score"] for s, r in records.items()} == want
    assert sorted(p.name for p in results.iterdir()) == sorted(f"{s}.json" for s in KILL_BATCH)
    assert _rows(db) == len(KILL_BATCH)
    assert _scores_from_gradebook(db) == want
    with open(out / A / "grades.csv") as fh:
        assert {row["student"]: float(row["score"]) for row in csv.DictReader(fh)} == want


# ------------------------------------------------------------------------------------------
# Whatever happens while grading one submission is that submission's failure, never the batch's.

from autograder import batch  # noqa: E402


def _three_students(root):
    for student in ("ada", "bob", "cy"):
        write_submission(root, student, A, make_submission(A))


def _record(out, student):
    return json.loads((out / A / "results" / f"{student}.json").read_text())


@pytest.mark.parametrize("error", [MemoryError(), RecursionError("maximum recursion depth exceeded"),
                                   KeyError("a bug of ours met only by this notebook")])
@pytest.mark.parametrize("workers", [1, 2])
def test_an_exception_while_grading_one_submission_is_recorded_as_its_failure(tmp_path, monkeypatch, error, workers):
    real = batch.grade_submission

    def fails_for_bob(job):
        if job["student"] == "bob":
            raise error
        return real(job)

    monkeypatch.setattr(batch, "grade_submission", fails_for_bob)  # forked pool workers inherit it
    root, out = tmp_path / "submitted", tmp_path / "out"
    _three_students(root)
    results = batch.grade(A, root, workers=workers, out_dir=out, progress=False)
    assert {r.student: r.score for r in results} == {"ada": 10.0, "bob": 0.0, "cy": 10.0}
    for task in _record(out, "bob")["tasks"]:
        assert task["message"].startswith("could not grade: the grader failed on this submission "
                                          f"({type(error).__name__}"), task
    with open(out / A / "grades.csv") as fh:
        assert {row["student"]: float(row["score"]) for row in csv.DictReader(fh)} == {"ada": 10, "bob": 0, "cy": 10}


def test_a_grading_process_that_dies_costs_only_its_own_submission(tmp_path, monkeypatch):
    real = batch.grade_submission

    def dies_for_bob(job):
        if job["student"] == "bob":
            os._exit(9)  # as if the OS killed the grading process for memory
        return real(job)

    monkeypatch.setattr(batch, "grade_submission", dies_for_bob)
    root, out = tmp_path / "submitted", tmp_path / "out"
    _three_students(root)
    results = batch.grade(A, root, workers=2, out_dir=out, progress=False)
    assert {r.student: r.score for r in results} == {"ada": 10.0, "bob": 0.0, "cy": 10.0}
    assert "the grading process died" in _record(out, "bob")["tasks"][0]["message"]


def test_a_failure_to_record_one_result_leaves_it_ungraded_and_records_the_others(tmp_path, monkeypatch):
    real = batch.feedback.write

    def disk_full_for_bob(folder, result):
        if result.student == "bob":
            raise OSError(28, "No space left on device")
        return real(folder, result)

    monkeypatch.setattr(batch.feedback, "write", disk_full_for_bob)
    root, out = tmp_path / "submitted", tmp_path / "out"
    _three_students(root)
    with pytest.raises(batch.GraderFault, match="'bob': recording it failed"):
        batch.grade(A, root, workers=1, out_dir=out, progress=False)
    assert sorted(p.stem for p in (out / A / "results").glob("*.json")) == ["ada", "cy"]
    monkeypatch.setattr(batch.feedback, "write", real)
    results = batch.grade(A, root, workers=1, out_dir=out, progress=False)  # the re-run grades bob
    assert {r.student: r.score for r in results} == {"ada": 10.0, "bob": 10.0, "cy": 10.0}
