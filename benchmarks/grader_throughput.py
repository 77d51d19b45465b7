"""Throughput of our grader (1 and 2 workers) against stock ``nbgrader autograde``.

    .venv/bin/python benchmarks/grader_throughput.py [--n 40] [--assignment A] [--json PATH]

Generates ``--n`` honest submissions of one assignment (a mix of full marks, one task wrong and
untouched releases), puts them in a throwaway nbgrader course (the repository's
``nbgrader_config.py``, ``solutions/`` as the source, ``nbgrader generate_assignment`` run
first, a temp gradebook) and grades the same files three ways, each through its command line
and timed from the command's start to its end:

* ``python -m autograder grade --workers 1``
* ``python -m autograder grade --workers 2``
* ``nbgrader autograde`` (stock; one kernel per notebook, one notebook at a time)

Both sides start from a gradebook that already knows the assignment (``generate_assignment``
creates it for nbgrader; for ours an empty ``grade()`` run creates it, timed separately), so
the one-time gradebook creation is not in the per-batch figures.  The script checks that the
three runs give every submission the same per-task points, then times the pieces of one
submission (profile) so a slow result can be explained.  Prints a table and writes JSON with
the machine's description (``benchmarks/results/grader_throughput.json`` by default).

Not a test: it takes several minutes.  The machine's load is recorded beside each figure
because other work on a small machine moves them.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import nbgrader_course  # noqa: E402  (tests/nbgrader_course.py)
from submissions import make_submission, write_submission  # noqa: E402

WRONG = {  # honest wrong answers: they run, and give wrong values
    "ch01_cross_correlation": [
        ("corr2d_batch", "import numpy as np\ndef corr2d_batch(X, K):\n"
                         "    return np.zeros((X.shape[0], X.shape[1] - K.shape[0] + 1, X.shape[2] - K.shape[1] + 1))\n"),
        ("input_gradient", "import numpy as np\ndef input_gradient(X, K, Y):\n"
                           "    return np.zeros(np.shape(X))\n"),
    ],
    "ch02_padding_stride": [
        ("pad2d", "import numpy as np\ndef pad2d(X, padding):\n    return np.asarray(X)\n"),
        ("conv_output_size", "def conv_output_size(n, k, padding, stride):\n    return n - k + 1\n"),
    ],
    "ch03_channels": [
        ("conv1x1_batch", "import numpy as np\ndef conv1x1_batch(X, K, b):\n"
                          "    X, K = np.asarray(X), np.asarray(K)\n"
                          "    return np.zeros((X.shape[0], K.shape[0]) + X.shape[2:])\n"),
        ("corr2d_depthwise", "import numpy as np\ndef corr2d_depthwise(X, K):\n"
                             "    X, K = np.asarray(X), np.asarray(K)\n"
                             "    return np.zeros((X.shape[0], X.shape[1] - K.shape[1] + 1, X.shape[2] - K.shape[2] + 1))\n"),
    ],
}


def generate(folder: Path, assignment: str, n: int) -> dict:
    """``n`` submissions: 2 in 5 full, 1 in 5 with each kind of wrong task, 1 in 5 untouched."""
    kinds = {}
    wrong = WRONG[assignment]
    for i in range(n):
        student = f"s{i:03d}"
        k = i % 5
        if k in (0, 1):
            nb, kind = make_submission(assignment), "full"
        elif k in (2, 3):
            gid, source = wrong[k - 2]
            nb, kind = make_submission(assignment, {gid: source}), f"wrong:{gid}"
        else:
            nb, kind = make_submission(assignment, fill="release"), "untouched"
        write_submission(folder, student, assignment, nb)
        kinds[student] = kind
    return kinds


def loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def timed(cmd, cwd, env=None, timeout=3600):
    """Run ``cmd``; return its wall-clock seconds and the machine's load around and during it
    (the 1-minute load average sampled every second: other work on a small machine moves the
    figures, so they are stored beside them)."""
    import threading

    before = loadavg()
    samples, stop = [], threading.Event()

    def sample():
        while not stop.wait(1.0):
            samples.append(loadavg()[0] if loadavg() else None)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    during = [x for x in samples if x is not None]
    load = {"load_before": before, "load_after": loadavg(),
            "load_1m_during": {"mean": round(statistics.mean(during), 2), "max": max(during)} if during else None}
    sandbox_line = [ln for ln in done.stderr.splitlines() if ln.startswith("sandbox: ")]
    if sandbox_line:
        load["sandbox"] = sandbox_line[-1][len("sandbox: "):]
    return seconds, load


def ours_scores(out: Path, assignment: str) -> dict:
    with open(out / assignment / "grades.csv") as fh:
        rows = list(csv.DictReader(fh))
    ids = [k for k in rows[0] if k.startswith("test_")] if rows else []
    return {r["student"]: {gid: float(r[gid]) for gid in ids} for r in rows}


def machine_info():
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    versions = {}
    for mod in ("numpy", "torch", "nbgrader", "nbclient", "jupyter_client", "ipykernel"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - informational only
            versions[mod] = None
    from autograder.batch import SANDBOX
    from autograder.sandbox import isolation_level

    return {
        "sandbox_kernel_layers": SANDBOX.get("confinement"),
        "cpu": cpu, "nproc": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gib": mem, "os": platform.platform(), "python": platform.python_version(),
        "versions": versions, "sandbox_isolation": isolation_level(), "euid": os.geteuid(),
    }


def git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    except OSError:
        return None


def median_time(fn, repeat=5):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 3)


def profile(assignment: str, tmp: Path, records: Path) -> dict:
    """Where one submission's time goes, each piece timed alone (median of a few runs)."""
    from autograder.sandbox import Limits, isolation_level, run_in_sandbox
    from autograder.spec import load_tasks

    py = sys.executable
    run = lambda *cmd: subprocess.run(cmd, capture_output=True, check=True)  # noqa: E731
    out = {
        "python_start_s": median_time(lambda: run(py, "-I", "-B", "-c", "pass")),
        "python_import_numpy_s": median_time(lambda: run(py, "-I", "-B", "-c", "import numpy")),
        "python_import_torch_s": median_time(lambda: run(py, "-I", "-B", "-c", "import torch"), 3),
        "autograder_cli_import_s": median_time(
            lambda: run(py, "-c", "import autograder.batch, autograder.__main__"), 3),
        "nbgrader_cli_start_s": median_time(lambda: run(str(Path(py).parent / "nbgrader"), "--version"), 3),
    }
    level = isolation_level()
    if level == "bubblewrap":
        from autograder.sandbox import _bubblewrap_works

        out["bwrap_start_python_numpy_s"] = median_time(_bubblewrap_works, 3)
    if level.startswith("namespaces"):
        userns = ["--user", "--map-root-user"] if level == "namespaces-user" else []
        out["unshare_namespaces_s"] = median_time(lambda: run(
            "unshare", *userns, "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
            "sh", "-c", "mount -t tmpfs -o size=1m none /tmp"))
    # One full sandbox run (cells of the solution, every task called), as grade_submission does it.
    import numpy as np

    from autograder.notebooks import parse_notebook, plan_cells, load_notebook

    release = load_notebook(REPO / "exercises" / assignment / f"{assignment}.ipynb")
    plan = plan_cells(parse_notebook(json.dumps(make_submission(assignment)).encode()), release)
    tasks = load_tasks(assignment)
    rng = np.random.default_rng(0)
    for mode in ("numpy", "torch"):
        mode_tasks = [(t, t.cases(rng)) for t in tasks if t.library == mode]
        if mode_tasks:
            out[f"sandbox_run_{mode}_s"] = median_time(
                lambda: run_in_sandbox(plan.cells, mode_tasks, mode, Limits(), private_paths=[REPO, tmp]), 3)
            if mode == "numpy":  # what the kernel layers (Landlock, seccomp) cost
                from autograder import sandbox

                sandbox.CONFINE = False
                try:
                    out["sandbox_run_numpy_without_kernel_layers_s"] = median_time(
                        lambda: run_in_sandbox(plan.cells, mode_tasks, mode, Limits(), private_paths=[REPO, tmp]), 3)
                finally:
                    sandbox.CONFINE = True
    seconds = [json.loads(p.read_text())["seconds"] for p in records.glob("*.json")]
    if seconds:
        # What the grading process does per submission besides waiting: the gradebook write
        # (nbgrader's API, one transaction per submission so that a crash loses nothing).
        from autograder.batch import record_in_gradebook
        from autograder.grading import SubmissionResult

        result = SubmissionResult.from_dict(json.loads(next(records.glob("*.json")).read_text()))
        db = f"sqlite:///{records.parents[1] / 'gradebook.db'}"
        names = iter(range(100))

        def write():
            result.student = f"profile-{next(names)}"
            record_in_gradebook(db, result, assignment)

        out["gradebook_write_per_submission_s"] = median_time(write)
        out["grade_submission_s"] = {"median": round(statistics.median(seconds), 3),
                                     "mean": round(statistics.mean(seconds), 3),
                                     "max": round(max(seconds), 3)}
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=40, help="number of submissions (default 40)")
    parser.add_argument("--assignment", default="ch01_cross_correlation", choices=sorted(WRONG))
    parser.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "grader_throughput.json"),
                        help="where to write the results ('' for nowhere)")
    parser.add_argument("--keep", default=None, help="keep the work folder here (default: a temp folder)")
    parser.add_argument("--note", default="", help="free text stored with the results")
    args = parser.parse_args(argv)
    a, n = args.assignment, args.n

    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="grader-bench-"))
    if args.keep and tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    course = tmp / "course"
    subs = course / "submitted"
    kinds = generate(subs, a, n)
    print(f"{n} submissions of {a} in {subs}", flush=True)

    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    runs, scores = {}, {}

    # Gradebooks that already know the assignment (not timed as part of a batch).
    start = time.perf_counter()
    nbgrader_course.make_course(course, [a])
    setup_stock = time.perf_counter() - start
    from autograder.batch import grade

    empty = tmp / "empty"
    empty.mkdir()
    setup_ours = {}
    for workers in (1, 2):
        start = time.perf_counter()
        grade(a, empty, out_dir=tmp / f"ours{workers}", progress=False)
        setup_ours[workers] = round(time.perf_counter() - start, 2)

    for workers in (1, 2):
        out = tmp / f"ours{workers}"
        cmd = [sys.executable, "-m", "autograder", "grade", "--assignment", a, "--submissions", str(subs),
               "--out", str(out), "--workers", str(workers)]
        print(f"ours, {workers} worker(s) ...", flush=True)
        seconds, load = timed(cmd, REPO, env)
        runs[f"ours_{workers}_workers"] = {"seconds": round(seconds, 2), **load}
        scores[f"ours_{workers}_workers"] = ours_scores(out, a)

    print("stock nbgrader autograde ...", flush=True)
    seconds, load = timed([str(Path(sys.executable).parent / "nbgrader"), "autograde", a, "--force"], course,
                          {**env, "DLCOURSE_DB_URL": nbgrader_course.db_url(course)})
    runs["stock_nbgrader_autograde"] = {"seconds": round(seconds, 2), **load}
    scores["stock_nbgrader_autograde"] = nbgrader_course.stock_scores(course, a)

    reference = scores["stock_nbgrader_autograde"]
    agreement = {name: sum(1 for s in reference if got.get(s) == reference[s]) for name, got in scores.items()}
    stock_rate = n / runs["stock_nbgrader_autograde"]["seconds"] * 60
    for name, r in runs.items():
        r["submissions_per_minute"] = round(n / r["seconds"] * 60, 1)
        r["vs_stock"] = round(r["submissions_per_minute"] / stock_rate, 2)
        r["same_scores_as_stock"] = f"{agreement[name]}/{n}"

    print("profiling one submission ...", flush=True)
    prof = profile(a, tmp, tmp / "ours1" / a / "results")
    prof["one_time_setup_s"] = {"ours_new_gradebook_and_checks": setup_ours[1],
                                "stock_generate_assignment_new_gradebook": round(setup_stock, 2)}

    mix = {}
    for kind in kinds.values():
        mix[kind] = mix.get(kind, 0) + 1
    result = {
        "benchmark": "benchmarks/grader_throughput.py",
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": git_commit(), "assignment": a, "submissions": n, "mix": mix,
        "machine": machine_info(), "runs": runs, "profile": prof, "note": args.note,
        "how": "each figure is one run of the command line on the same files, wall clock from start to "
               "end; gradebooks created beforehand; submissions per minute = n / seconds * 60",
    }

    print()
    print(f"{'grader':<28}{'seconds':>9}{'subs/min':>10}{'vs stock':>10}{'same scores':>13}{'load 1m':>9}"
          f"{'during':>8}")
    for name, r in runs.items():
        during = r["load_1m_during"]["mean"] if r.get("load_1m_during") else ""
        print(f"{name:<28}{r['seconds']:>9.1f}{r['submissions_per_minute']:>10.1f}{r['vs_stock']:>9.2f}x"
              f"{r['same_scores_as_stock']:>13}{r['load_before'][0] if r['load_before'] else '':>9}{during:>8}")
    print()
    print("profile (seconds):", json.dumps(prof, indent=1))
    print(f"machine: {result['machine']['cpu']}, {result['machine']['nproc']} CPUs, "
          f"sandbox {result['machine']['sandbox_isolation']}")
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {path}")
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    bad = [name for name, count in agreement.items() if count != n]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
