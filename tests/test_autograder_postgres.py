"""The gradebook on a real PostgreSQL server: a batch with two workers, killed with SIGKILL half
way and run again, grades every student exactly once, and stock ``nbgrader export`` reads it.

The test starts its own throw-away server (``initdb`` + ``pg_ctl`` from Debian's ``postgresql``
packages, which ``scripts/system_packages.sh`` installs) on a free loopback port, with a data
folder in a temp dir, and stops it afterwards.  Where no PostgreSQL server binaries exist the
test is skipped with the reason; in CI they are installed, so it runs.
"""
from __future__ import annotations

import csv
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import nbgrader_course
from submissions import REPO, make_submission, write_submission

pytestmark = pytest.mark.slow

A = "ch01_cross_correlation"  # convolve2d_loops 3, corr2d_batch 3, input_gradient 4
BATCH = {  # student -> (expected score, answers)
    "ada": (10.0, {}),
    "bob": (7.0, {"corr2d_batch": "def corr2d_batch(X, K):\n    return X * 0\n"}),
    "cy": (10.0, {}),
    "dee": (6.0, {"input_gradient": "def input_gradient(X, K, Y):\n    return K * 0 + 1\n"}),
    "eve": (0.0, None),
    "fay": (10.0, {}),
}


def _server_binaries():
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``, or None."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    for folder in candidates:
        if all((Path(folder) / exe).exists() for exe in ("initdb", "pg_ctl", "postgres")):
            return Path(folder)
    return None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """``postgresql://`` URL of a fresh database on a server this fixture starts and stops."""
    pytest.importorskip("psycopg", reason="psycopg is in requirements.txt; run `make setup`")
    binaries = _server_binaries()
    if binaries is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl): install Debian's `postgresql` "
                    "(scripts/system_packages.sh does, as root)")
    # PostgreSQL refuses to run as root: run it as the `postgres` account the package creates.
    run_as = []
    owner = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user to run the server as")
        run_as = ["setpriv", f"--reuid={owner.pw_uid}", f"--regid={owner.pw_gid}", "--init-groups", "--"]
    base = Path(tempfile.mkdtemp(prefix="dlcourse-pg-"))
    data, sockets = base / "data", base / "sockets"
    sockets.mkdir()
    os.chmod(base, 0o755)
    if owner is not None:
        for path in (base, sockets):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")

    def run(*cmd, timeout=120):
        done = subprocess.run([*run_as, *map(str, cmd)], capture_output=True, text=True, env=env,
                              timeout=timeout, cwd=base)
        if done.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}")
        return done

    try:
        run(binaries / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(binaries / "pg_ctl", "-D", data, "-o", options, "-l", base / "server.log", "-w", "start")
    except (RuntimeError, subprocess.TimeoutExpired) as err:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL: {err}")
    try:
        import psycopg

        con = psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute("CREATE DATABASE gradebook")
        con.close()
        yield f"postgresql://postgres@127.0.0.1:{port}/gradebook"
    finally:
        try:
            run(binaries / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop", timeout=60)
        finally:
            shutil.rmtree(base, ignore_errors=True)


def _slow(seconds):
    def edit(nb):
        nb["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                            "source": f"import time\ntime.sleep({seconds})"})
    return edit


def _cli(root, out, db_url):
    return [sys.executable, "-m", "autograder", "grade", "--assignment", A, "--submissions", str(root),
            "--out", str(out), "--db", db_url, "--workers", "2", "--cell-timeout", "5"]


def _gradebook_scores(db_url):
    from nbgrader.api import Gradebook

    with Gradebook(db_url, course_id="dlcourse") as gb:
        return {s.student.id: s.score for s in gb.assignment_submissions(A)}


def _submission_rows(db_url):
    import psycopg

    con = psycopg.connect(db_url)
    try:
        with con.cursor() as cur:
            cur.execute("SELECT count(*) FROM submitted_assignment")
            return cur.fetchone()[0]
    finally:
        con.close()


@pytest.fixture(scope="module")
def graded(postgres_url, tmp_path_factory):
    """A batch killed with SIGKILL after its first record, then run again to the end."""
    root = tmp_path_factory.mktemp("submissions")
    out = tmp_path_factory.mktemp("out")
    for student, (_, answers) in BATCH.items():
        nb = (make_submission(A, fill="release", edit=_slow(1)) if answers is None
              else make_submission(A, answers, edit=_slow(1)))
        write_submission(root, student, A, nb)
    results = out / A / "results"
    log = open(out / "first-run.log", "w+")
    proc = subprocess.Popen(_cli(root, out, postgres_url), cwd=REPO, stdout=log, stderr=log,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if results.is_dir() and any(results.glob("*.json")):
                break
            time.sleep(0.02)
        if proc.poll() is not None:
            log.seek(0)
            pytest.fail(f"the batch ended (exit {proc.returncode}) before it could be killed:\n"
                        f"{log.read()[-3000:]}")
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        log.close()
    before = {p.name: p.read_bytes() for p in results.glob("*.json")}
    rerun = subprocess.run(_cli(root, out, postgres_url), capture_output=True, text=True, cwd=REPO,
                           timeout=900)
    return {"url": postgres_url, "out": out, "before": before, "rerun": rerun, "results": results}


def test_the_killed_batch_was_half_done(graded):
    assert 1 <= len(graded["before"]) < len(BATCH)


def test_the_rerun_finishes_and_keeps_what_was_graded_before(graded):
    assert graded["rerun"].returncode == 0, graded["rerun"].stderr[-3000:]
    for name, data in graded["before"].items():
        assert (graded["results"] / name).read_bytes() == data


def test_every_student_is_graded_exactly_once_in_the_postgres_gradebook(graded):
    want = {s: score for s, (score, _) in BATCH.items()}
    assert _submission_rows(graded["url"]) == len(BATCH)
    assert _gradebook_scores(graded["url"]) == want
    records = [json.loads(p.read_text()) for p in graded["results"].glob("*.json")]
    assert sorted(r["student"] for r in records) == sorted(want)
    assert {r["student"]: r["score"] for r in records} == want
    with open(graded["out"] / A / "grades.csv") as fh:
        assert {row["student"]: float(row["score"]) for row in csv.DictReader(fh)} == want


def test_stock_nbgrader_export_reads_the_postgres_gradebook(graded, tmp_path):
    course = nbgrader_course.make_course(tmp_path / "course", [])
    nbgrader_course.nbgrader(course, "export", "--db", graded["url"], "--to", "export.csv")
    with open(course / "export.csv") as fh:
        got = {r["student_id"]: float(r["raw_score"]) for r in csv.DictReader(fh) if r["assignment"] == A}
    assert got == {s: score for s, (score, _) in BATCH.items()}
