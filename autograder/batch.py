"""Grade a folder of submissions: discovery, parallel grading, gradebook, CSV and feedback.

Layout of ``submissions``: ``<student>/<assignment>/<notebook>.ipynb`` (nbgrader's
``submitted/`` folder has exactly this shape).  Results are written as each submission
finishes: a JSON record under ``<out>/<assignment>/results/``, the nbgrader gradebook row and
the feedback files.  A record whose submission hash matches is not graded again, so a batch
killed half-way finishes on the next run with every submission graded exactly once.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import secrets
import stat
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from autograder import feedback
from autograder.grading import SubmissionResult, TaskResult, grade_submission, seed_for, solution_code
from autograder.notebooks import MAX_NOTEBOOK_BYTES, grade_cells, load_notebook
from autograder.release import tools_on_path
from autograder.sandbox import Limits, SandboxUnavailable, run_in_sandbox
from autograder.spec import Case, Task, load_tasks

COURSE_ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = COURSE_ROOT / "solutions"
EXERCISES = COURSE_ROOT / "exercises"


def notebook_name(assignment: str) -> str:
    return f"{assignment}.ipynb"


# Student ids become file names (records, feedback folders), gradebook keys and CSV cells, so
# they are escaped: a character is kept when it is printable and none of these, everything
# else is written as %XX of its UTF-8 bytes (or of the raw byte, for a name that is not UTF-8).
# "%" itself is escaped, so two different folder names never give the same id; "~" is escaped
# so that it only ever marks a shortened id.
_ESCAPED = set('%/\\~')
MAX_ID_BYTES = 100  # a file name may have 255; the record adds ".json"


def escape_name(name, limit=MAX_ID_BYTES) -> str:
    """A printable, file-name-safe and injective spelling of a folder or file name.

    Names longer than ``limit`` bytes once escaped are cut and end in ``~`` and 16 hex digits
    of the SHA-256 of the original bytes, so they stay distinct."""
    raw = os.fsencode(name)
    tokens = []
    for index, ch in enumerate(raw.decode("utf-8", errors="surrogateescape")):
        if 0xDC80 <= ord(ch) <= 0xDCFF:  # a byte that is not UTF-8
            tokens.append(f"%{ord(ch) - 0xDC00:02X}")
        elif ch.isprintable() and ch not in _ESCAPED and not (index == 0 and ch == "."):
            tokens.append(ch)
        else:
            tokens.append("".join(f"%{b:02X}" for b in ch.encode("utf-8")))
    text = "".join(tokens)
    if len(text.encode("utf-8")) <= limit:
        return text
    kept, size = [], 0
    for token in tokens:
        size += len(token.encode("utf-8"))
        if size > limit - 17:
            break
        kept.append(token)
    return "".join(kept) + "~" + hashlib.sha256(raw).hexdigest()[:16]


def _find_notebook(folder: Path, expected: str):
    """(path or None, notices) for a student's assignment folder."""
    notices = []
    files = sorted(p for p in folder.iterdir()) if folder.is_dir() else []
    notebooks = [p for p in files if p.suffix == ".ipynb" and p.is_file() and not p.is_symlink()]
    links = [p for p in files if p.is_symlink()]
    others = [escape_name(p.name) for p in files
              if p not in notebooks and p not in links and not p.name.startswith(".")]
    if links:
        notices.append("Symbolic links are not followed, so these were not graded: "
                       + ", ".join(escape_name(p.name) for p in links) + ".")
    if others:
        notices.append(f"Ignored files that are not the notebook: {', '.join(others)}.")
    chosen = next((p for p in notebooks if p.name == expected), None)
    if chosen is None and len(notebooks) == 1:
        chosen = notebooks[0]
        notices.append(f"Expected {expected}; graded {escape_name(chosen.name)} instead.")
    elif chosen is None and notebooks:
        notices.append(f"Expected {expected}; found {', '.join(escape_name(p.name) for p in notebooks)} "
                       f"and could not tell which to grade.")
    if chosen is not None and len(notebooks) > 1:
        notices.append("Other notebooks in the folder were ignored: "
                       + ", ".join(escape_name(p.name) for p in notebooks if p != chosen) + ".")
    return chosen, notices


def discover(assignment: str, submissions: Path):
    """``[(student id, notebook path or None, notices, refusal or None)]`` sorted by id.

    The id is the folder's name, escaped (:func:`escape_name`); a refusal is a reason the
    submission gets 0 without being read: a student or assignment folder that is a symbolic
    link (it could point anywhere the grader can read)."""
    found = []
    for student_dir in Path(submissions).iterdir():
        try:
            if student_dir.name.startswith(".") or not student_dir.is_dir():
                continue
            folder = student_dir / assignment
            if not folder.is_dir():
                continue
            student = escape_name(student_dir.name)
            notices = []
            if student != student_dir.name:
                notices.append(f"The folder name is recorded as '{student}' (escaped).")
            if student_dir.is_symlink() or folder.is_symlink():
                which = "student" if student_dir.is_symlink() else "assignment"
                found.append((student, None, notices, f"the {which} folder is a symbolic link; links "
                                                      f"are not followed, so it was not graded"))
                continue
            path, more = _find_notebook(folder, notebook_name(assignment))
            found.append((student, path, notices + more, None))
        except OSError as err:  # unreadable folder, a name the OS refuses: this student only
            student = escape_name(student_dir.name)
            found.append((student, None, [], f"the folder could not be read ({err.strerror})"))
    return sorted(found, key=lambda item: item[0])


def read_submission(path: Path):
    """``(bytes or None, sha256, refusal or None)``: the notebook's bytes, read only when it is
    a regular file within :data:`MAX_NOTEBOOK_BYTES` (checked before reading, and again while
    reading); a larger one is refused by its size, without being read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        return None, hashlib.sha256(b"unreadable").hexdigest(), f"the notebook could not be read ({err.strerror})"
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        stamp = hashlib.sha256(f"{info.st_size}:{info.st_mtime_ns}".encode()).hexdigest()
        too_big = (f"the notebook is {info.st_size / 2**20:.0f} MiB; the limit is "
                   f"{MAX_NOTEBOOK_BYTES / 2**20:.0f} MiB (clear the outputs and resubmit)")
        if not stat.S_ISREG(info.st_mode):
            return None, stamp, "the notebook is not a regular file"
        if info.st_size > MAX_NOTEBOOK_BYTES:
            return None, stamp, too_big
        raw = fh.read(MAX_NOTEBOOK_BYTES + 1)
        if len(raw) > MAX_NOTEBOOK_BYTES:  # it grew while we read
            return None, stamp, too_big
    return raw, hashlib.sha256(raw).hexdigest(), None


def _default_db_url(out_dir: Path) -> str:
    return f"sqlite:///{(out_dir / 'gradebook.db').resolve()}"


def _sqlite_path(db_url: str):
    if db_url.startswith("sqlite:///"):
        return Path(db_url[len("sqlite:///"):])
    return None


def prepare_gradebook(db_url: str, assignment: str, release: dict, course_id="dlcourse"):
    """Make sure the gradebook knows the assignment, its notebook and its cells (as
    ``nbgrader generate_assignment`` would record them), so stock nbgrader tools work."""
    from nbgrader.api import Gradebook
    from autograder.notebooks import cell_role, code_cells, nbgrader_meta

    nb_id = notebook_name(assignment)[: -len(".ipynb")]
    with Gradebook(db_url, course_id=course_id) as gb:
        gb.update_or_create_assignment(assignment)
        gb.update_or_create_notebook(nb_id, assignment)
        for cell in code_cells(release):
            meta = nbgrader_meta(cell)
            gid = meta.get("grade_id")
            if not gid:
                continue
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            role = cell_role(cell)
            if role == "test":
                gb.update_or_create_grade_cell(gid, nb_id, assignment, max_score=float(meta.get("points", 0)),
                                               cell_type="code")
            elif role == "solution":
                gb.update_or_create_solution_cell(gid, nb_id, assignment)
            gb.update_or_create_source_cell(gid, nb_id, assignment, cell_type="code",
                                            locked=bool(meta.get("locked")), source=source,
                                            checksum=meta.get("checksum"))
    return nb_id


def record_in_gradebook(db_url: str, result: SubmissionResult, nb_id: str, course_id="dlcourse"):
    from nbgrader.api import Gradebook

    with Gradebook(db_url, course_id=course_id) as gb, warnings.catch_warnings():
        # nbgrader's add_submission trips a harmless SQLAlchemy autoflush warning.
        warnings.simplefilter("ignore")
        gb.update_or_create_student(result.student)
        gb.update_or_create_submission(result.assignment, result.student)
        for task in result.tasks:
            grade = gb.find_grade(task.grade_id, nb_id, result.assignment, result.student)
            grade.auto_score = task.points
        gb.db.commit()


def csv_cell(value):
    """``value``, with text that a spreadsheet would run as a formula (it starts with ``=``,
    ``+``, ``-``, ``@``, a tab or a carriage return) prefixed by ``'``, as OWASP advises."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def write_grades_csv(path: Path, results: list, tasks):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "assignment", *[t.grade_id for t in tasks], "score", "max_score"])
        for r in sorted(results, key=lambda r: r.student):
            by_id = {t.grade_id: t.points for t in r.tasks}
            writer.writerow([csv_cell(r.student), csv_cell(r.assignment),
                             *[by_id.get(t.grade_id, 0.0) for t in tasks], r.score, r.max_score])
    os.replace(tmp, path)


def _check_spec_against_notebook(assignment, tasks, release):
    declared = grade_cells(release)
    for task in tasks:
        if task.grade_id not in declared:
            raise ValueError(f"{assignment}: the spec grades '{task.grade_id}' but the released "
                             f"notebook has no such graded cell")
        if abs(declared[task.grade_id] - task.points) > 1e-9:
            raise ValueError(f"{assignment}: '{task.grade_id}' is worth {declared[task.grade_id]} "
                             f"points in the notebook but {task.points} in the spec")


class GraderFault(RuntimeError):
    """Some submissions could not be graded for a reason of the grader's (not the student's):
    they were left ungraded, so a re-run grades them."""


CANARY_CELLS = [{"label": "canary", "source": "import numpy as np\n\n\ndef canary(x):\n"
                                              "    return np.asarray(x) * 2\n"}]


# What the last preflight in this process found: {"isolation": level, "confinement": layers}.
SANDBOX = {}


def preflight(modes, limits=None, private_paths=(), allow_weak_sandbox=False) -> str:
    """Run a trivial honest notebook through the very sandbox grading will use, once per kind
    of task (``"numpy"``, ``"torch"``); return the isolation level.  Raises
    :class:`SandboxUnavailable`, saying what failed, when the canary does not come back right:
    a sandbox that cannot run honest code would otherwise give every student 0."""
    level = ""
    for mode in modes:
        task = Task("canary", 1.0, cases=lambda rng: [Case((np.arange(3.0),))], library=mode)
        report = run_in_sandbox(CANARY_CELLS, [(task, task.cases(None))], mode, Limits(**(limits or {})),
                                private_paths=private_paths, require_isolation=not allow_weak_sandbox)
        got = report.calls.get(("canary", 0))
        if got is not None and got.array is not None and np.array_equal(got.array, [0.0, 2.0, 4.0]):
            level = report.isolation
            SANDBOX.update(isolation=level, confinement=report.confinement)
            continue
        reason = (report.grader_fault or (got.error if got is not None else None)
                  or report.task_failures.get("canary") or "; ".join(report.cell_errors.values())
                  or "it returned a wrong answer")
        raise SandboxUnavailable(
            f"preflight failed: a trivial honest notebook did not run in the grader's sandbox "
            f"(isolation {report.isolation}, {mode} task): {reason}. Nothing was graded or "
            f"written. The sandbox starts {sys.executable}: check that this interpreter and its "
            f"libraries are readable there (not under /tmp or a hidden folder for the "
            f"namespaces levels), that `bwrap` works (Debian package bubblewrap, as root), or "
            f"see docs/grading.md, 'Isolation'.")
    return level


def _preflight_here(modes, limits, private_paths, allow_weak_sandbox):
    """:func:`preflight` on a Dask worker, with its own checkout hidden as in :func:`_grade_here`."""
    return preflight(modes, limits, [*private_paths, str(COURSE_ROOT)], allow_weak_sandbox)


FAILED = "could not grade: "


def failed_result(job: dict, reason: str) -> dict:
    """The record of a submission that gets 0 on every task for ``reason`` (shown to the
    student), as :meth:`SubmissionResult.to_dict`."""
    result = SubmissionResult(student=job["student"], assignment=job["assignment"],
                              notices=list(job.get("notices", ())),
                              submission_sha256=job.get("sha256", ""))
    result.tasks = [TaskResult(t.grade_id, t.function, 0.0, float(t.points), FAILED + reason)
                    for t in load_tasks(job["assignment"])]
    return result.to_dict()


def _grader_failed(job, err) -> dict:
    text = f"{type(err).__name__}: {err}"
    return dict(failed_result(job, f"the grader failed on this submission ({text[:300]}); your "
                                   f"instructor was told"), grader_failure=text[:300])


def _grade_here(job: dict) -> dict:
    """:func:`grade_submission` on whichever machine runs it, with that machine's own copy of
    the course hidden from the sandbox too: a Dask worker's checkout need not live at the
    client's path, which is all the job's ``private_paths`` name.

    Never raises: anything raised while grading this one submission (``MemoryError``,
    ``RecursionError``, a bug of ours met only by this notebook) becomes its recorded failure
    with the reason, so it cannot stop the batch, and no re-run dies on it again."""
    try:
        if job.get("refused"):
            return failed_result(job, job["refused"])
        private = list(job.get("private_paths", ()))
        if str(COURSE_ROOT) not in private:
            job = dict(job, private_paths=[*private, str(COURSE_ROOT)])
        return grade_submission(job)
    except Exception as err:  # noqa: BLE001 - one submission's failure is never the batch's
        return _grader_failed(job, err)


def _map_jobs(jobs, workers, scheduler):
    """Yield results as they finish, from a local process pool or a Dask cluster.

    A grading process that dies (the OS killed it for memory, a crash in a C library) takes
    its pool with it: the jobs it left are graded again one at a time, each in a fresh
    process, so only the submission that kills its own process is recorded as failed."""
    if scheduler:
        from distributed import Client, as_completed as dask_completed

        with Client(scheduler) as client:
            futures = client.map(_grade_here, jobs, pure=False)
            job_of = dict(zip(futures, jobs))
            for future in dask_completed(futures):
                try:
                    yield future.result()
                except Exception as err:  # noqa: BLE001 - e.g. KilledWorker
                    yield _grader_failed(job_of[future], err)
        return
    if workers <= 1:
        for job in jobs:
            yield _grade_here(job)
        return
    broken = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(_grade_here, job): job for job in jobs}
        for future in as_completed(futures):
            try:
                yield future.result()
            except BrokenProcessPool:
                broken.append(futures[future])
            except Exception as err:  # noqa: BLE001 - e.g. a result that cannot be pickled
                yield _grader_failed(futures[future], err)
    for job in broken:
        with ProcessPoolExecutor(max_workers=1) as pool:
            try:
                yield pool.submit(_grade_here, job).result()
            except BrokenProcessPool as err:
                yield _grader_failed(job, RuntimeError(f"the grading process died ({err})"))


def grade(assignment: str, submissions, workers: int = 2, db_url: str | None = None,
          out_dir="grading", scheduler: str | None = None, limits: dict | None = None,
          secret: str | None = None, progress: bool = True, course_root=None,
          allow_weak_sandbox: bool = False) -> list:
    """Grade every submission of ``assignment`` under ``submissions``; return the results.

    Refuses to run (``SandboxUnavailable``) where student code cannot be isolated in Linux
    namespaces, unless ``allow_weak_sandbox`` is set, and where the preflight canary (a trivial
    honest notebook) does not come back right through the sandbox on every worker; then nothing
    is written.  A submission the sandbox failed on before any student code ran is left
    ungraded (no record, no gradebook row) and the batch ends with :class:`GraderFault`.

    Writes ``<out>/<assignment>/results/<student>.json``, ``<out>/<assignment>/grades.csv``,
    ``<out>/<assignment>/feedback/<student>/<assignment>.{md,html}`` and the gradebook at
    ``db_url`` (default ``sqlite:///<out>/gradebook.db``).
    """
    course_root = Path(course_root) if course_root else COURSE_ROOT
    submissions = Path(submissions).resolve()
    out_dir = Path(out_dir).resolve()
    work = out_dir / assignment
    (work / "results").mkdir(parents=True, exist_ok=True)
    db_url = db_url or _default_db_url(out_dir)
    tasks = load_tasks(assignment)
    release = load_notebook(course_root / "exercises" / assignment / notebook_name(assignment))
    solution = load_notebook(course_root / "solutions" / assignment / notebook_name(assignment))
    _check_spec_against_notebook(assignment, tasks, release)
    private = [course_root, submissions, out_dir]
    db_file = _sqlite_path(db_url)
    if db_file is not None:
        private.append(db_file.resolve().parent)
    # Before anything is written: can this sandbox run an honest notebook, on every worker?
    modes = sorted({t.library for t in tasks})
    args = (modes, limits, [str(p) for p in private], allow_weak_sandbox)
    if scheduler:
        from distributed import Client

        with Client(scheduler) as client:
            client.run(_preflight_here, *args)
    else:
        preflight(*args[:2], private_paths=args[2], allow_weak_sandbox=allow_weak_sandbox)
    with tools_on_path():  # a new gradebook runs nbgrader's `alembic` migrations
        nb_id = prepare_gradebook(db_url, assignment, release)
    secret = secret or secrets.token_hex(16)

    jobs, results = [], []
    solution_cells = solution_code(solution)
    for student, path, notices, refusal in discover(assignment, submissions):
        job = {
            "student": student, "assignment": assignment, "notebook": None,
            "release": release, "solution_cells": solution_cells,
            "seed": seed_for(secret, student, assignment), "limits": limits or {},
            "private_paths": [str(p) for p in private], "notices": notices,
            "allow_weak_sandbox": allow_weak_sandbox, "sha256": hashlib.sha256(b"").hexdigest(),
        }
        if refusal:
            job["refused"] = refusal
        elif path is not None:
            job["notebook"], job["sha256"], refused = read_submission(path)
            if refused:
                job["refused"] = refused
        record = work / "results" / f"{student}.json"
        if record.exists():
            try:
                previous = SubmissionResult.from_dict(json.loads(record.read_text()))
            except (ValueError, KeyError, TypeError):
                previous = None
            if previous is not None and previous.submission_sha256 == job["sha256"]:
                results.append(previous)
                continue
        jobs.append(job)

    bar = tqdm(total=len(jobs), desc=f"grading {assignment}", unit="submission", disable=not progress)
    faults, failures = [], []
    for data in _map_jobs(jobs, workers, scheduler):
        bar.update(1)
        if data.get("grader_error"):
            faults.append(f"{data['student']!r}: {data['grader_error']}")
            continue
        if data.get("grader_failure"):
            failures.append(f"{data['student']}: {data['grader_failure']}")
        try:
            result = SubmissionResult.from_dict(data)
            record_in_gradebook(db_url, result, nb_id)
            feedback.write(work / "feedback" / result.student, result)
            # The record comes last: once it exists, this submission counts as graded.
            record = work / "results" / f"{result.student}.json"
            tmp = record.with_suffix(".tmp")
            tmp.write_text(json.dumps(result.to_dict(), indent=1), encoding="utf-8")
            os.replace(tmp, record)
        except Exception as err:  # noqa: BLE001 - e.g. the gradebook's server went away
            faults.append(f"{data.get('student')!r}: recording it failed ({type(err).__name__}: "
                          f"{str(err)[:300]})")
            continue
        results.append(result)
    bar.close()
    if failures:
        print(f"warning: the grader failed on {len(failures)} submission(s); each was recorded "
              f"with 0 points and the reason: " + "; ".join(failures[:10]), file=sys.stderr)
    if faults:
        # No grades.csv: a table missing students would read as final.
        raise GraderFault(f"{len(faults)} submission(s) were left ungraded because the grader's "
                          f"sandbox failed, not the student's code (run again to grade them): "
                          + "; ".join(faults[:10]))
    write_grades_csv(work / "grades.csv", results, tasks)
    return sorted(results, key=lambda r: r.student)
