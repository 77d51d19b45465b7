"""Run a student's cells and graded calls in an isolated process; collect plain arrays back.

Isolation, strongest first, each layer used where the OS allows it:

* ``bubblewrap`` (``bwrap``, the sandbox behind Flatpak), as root: the student's process sees a
  root file system built for it, an *allowlist*: the system's ``/usr`` (read-only), the
  interpreter's prefixes (the virtualenv and its base Python, read-only, with the folders of the
  libraries the task may not use covered), a private ``/dev`` and ``/proc`` (its own PID
  namespace), a 1 MB ``/tmp`` and in it the size-capped box holding a copy of the job.  Nothing
  else of the machine exists in there: no course folder, no home, no host ``/tmp``, ``/var/tmp``
  or ``/dev/shm``, no data folder.  Everything but the box is read-only.  Private network, IPC,
  UTS and cgroup namespaces; the worker runs as a dedicated uid above every real user's (no
  entry in ``/etc/passwd`` can own a file it may touch), with no capabilities and no_new_privs.
* Linux namespaces (``unshare``): a private network namespace with no interfaces (no network),
  a private PID namespace (the student sees and can signal only its own processes; they all die
  with it), and a private mount namespace in which the course folder (solutions, hidden checks,
  gradebook, other students) and ``/tmp`` are covered by empty tmpfs mounts.  The submission
  runs in a fresh size-capped tmpfs as a dedicated unprivileged user id (as root) or with every
  capability dropped (as a normal user, in a user namespace).
* Kernel layers on every level (``confine.py``, run before the worker in its process): Landlock
  (reads on the same allowlist, writes only in the box, no TCP, scoped signals and abstract
  sockets) and a seccomp filter (no namespaces, mounts, ptrace, BPF, io_uring, SysV IPC or
  sockets), where the kernel has them; the first message says which applied.
* Resource limits set by the worker before any student code: address space, CPU seconds,
  file size, open files, processes.
* An audit hook in the worker refusing sockets, subprocesses, forks, writes outside the
  sandbox and imports of forbidden libraries.
* The parent's wall clock per cell and per call: a step that runs past its time kills the
  process group; the worker is restarted without that step, so the other tasks are still graded.

Where ``unshare`` is unavailable (macOS, locked-down containers) the worker runs as a plain
subprocess with the limits and the audit hook only; :func:`isolation_level` says which.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import io
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

WORKER_SOURCE = Path(__file__).with_name("worker.py")
CONFINE_SOURCE = Path(__file__).with_name("confine.py")
# The worker starts as ``python -I -B confine.py worker.py FD``: Landlock and seccomp first.
ENTRY = "confine.py worker.py"
CONFINE = True  # tests switch it off to show what the other layers alone allow
MAX_REPORT_BYTES = 64 * 2**20  # a worker may send at most this much back
GRACE_SECONDS = 2.0  # the parent's kill comes this long after the worker's own timer


@dataclass
class Limits:
    """Per-submission limits.  Times in seconds, sizes in bytes."""

    cell_timeout: float = 10.0
    call_timeout: float = 10.0
    notebook_timeout: float = 120.0
    memory_bytes: int = 3 * 2**30
    file_bytes: int = 16 * 2**20
    tmpfs_bytes: int = 64 * 2**20
    processes: int = 64
    open_files: int = 256


@dataclass
class CallResult:
    array: np.ndarray | None = None
    error: str | None = None
    forbidden: list | None = None
    inputs: list | None = None  # digests of the input arrays after the call (see the worker)


@dataclass
class RunReport:
    """What came back from the sandbox for one mode (numpy or torch)."""

    cell_errors: dict = field(default_factory=dict)  # cell index -> message
    calls: dict = field(default_factory=dict)  # (task, case) -> CallResult
    task_failures: dict = field(default_factory=dict)  # task -> message (timeout / crash)
    restarts: int = 0
    isolation: str = ""
    # Set when the sandbox failed before any student code ran (the interpreter could not start,
    # bwrap refused): the grader's fault, never to be recorded as the student's score.
    grader_fault: str = ""
    # The kernel layers confine.py applied before any student code ("Landlock ABI 7 + seccomp
    # filter"), or what was missing and why.
    confinement: str = ""


@lru_cache(maxsize=1)
def isolation_level() -> str:
    """``'bubblewrap'``, ``'namespaces-root'``, ``'namespaces-user'`` or ``'rlimits'``: the
    strongest isolation this machine allows (probed by starting Python in it)."""
    if sys.platform != "linux" or shutil.which("unshare") is None or shutil.which("setpriv") is None:
        return "rlimits"
    if _bubblewrap_works():
        return "bubblewrap"
    base = ["unshare", "--net", "--ipc", "--mount", "--pid", "--fork", "--kill-child"]
    probe = "mount -t tmpfs -o size=1m none /mnt 2>/dev/null || mount -t tmpfs -o size=1m none /tmp"
    for level, extra in (("namespaces-root", []), ("namespaces-user", ["--user", "--map-root-user"])):
        if level == "namespaces-root" and os.geteuid() != 0:
            continue
        try:
            done = subprocess.run([*base[:1], *extra, *base[1:], "sh", "-c", probe],
                                  capture_output=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            return level
    return "rlimits"

# Far above any uid a real account gets (useradd stops at 60000, systemd's dynamic users at
# 65519, container ranges at a few million): files the sandbox creates belong to nobody real.
SANDBOX_UID_BASE = 3_000_000_000


def _sandbox_uid():
    return SANDBOX_UID_BASE + os.getpid() % 1_000_000


def _python_prefixes():
    """Real paths of the folders the interpreter needs: the virtualenv and its base Python."""
    paths = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    paths.add(Path(sys.executable).resolve().parent.parent)
    # A prefix inside another (or under /usr, bound whole) needs no bind of its own.
    paths = sorted(p for p in paths if p != Path("/usr") and Path("/usr") not in p.parents)
    return [p for p in paths if not any(o in p.parents for o in paths)]


def _sandbox_python():
    """The interpreter's path as the sandbox sees it.

    ``sys.executable`` may run through a symlinked folder (a checkout whose ``.venv`` links to
    another checkout's): the sandbox binds only the real prefixes, so the same file is named
    by its real prefix there, keeping the virtualenv (its ``pyvenv.cfg`` is found beside it)."""
    exe = Path(sys.executable)
    for prefix in (sys.prefix, sys.exec_prefix):
        try:
            rel = exe.relative_to(prefix)
        except ValueError:
            continue
        return str(Path(prefix).resolve() / rel)
    return str(exe)


def _bubblewrap_command(job_dir, limits, uid, mode, write_fd):
    """The ``bwrap`` command line that starts the worker in its allowlist root."""
    cmd = ["bwrap", "--unshare-net", "--unshare-ipc", "--unshare-pid", "--unshare-uts",
           "--unshare-cgroup-try", "--hostname", "sandbox", "--die-with-parent", "--new-session",
           "--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        top = Path("/") / name
        if top.is_symlink():
            cmd += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            cmd += ["--ro-bind", str(top), str(top)]
    if Path("/etc/ld.so.cache").exists():
        cmd += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    cmd += ["--proc", "/proc", "--dev", "/dev",
            "--size", str(2**20), "--perms", "1777", "--tmpfs", "/tmp"]
    made = {Path("/"), Path("/tmp"), Path("/usr"), Path("/etc")}
    prefixes = _python_prefixes()
    for prefix in prefixes:
        for parent in reversed(prefix.parents):
            if parent not in made:
                cmd += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        cmd += ["--ro-bind", str(prefix), str(prefix)]
    # The libraries this kind of task may not use are not there at all (the worker's audit hook
    # and stubs are a second layer only).
    from autograder.policy import hidden_package_dirs

    for folder in hidden_package_dirs(mode):
        if folder.is_dir() and any(p == folder or p in folder.parents for p in prefixes):
            cmd += ["--size", "4096", "--perms", "0555", "--tmpfs", str(folder)]
    cmd += ["--ro-bind", str(job_dir), "/job",
            "--size", str(limits.tmpfs_bytes), "--perms", "0700", "--tmpfs", "/tmp/box",
            "--remount-ro", "/", "--chdir", "/tmp/box"]
    drop = (f"setpriv --reuid={uid} --regid={uid} --clear-groups --no-new-privs "
            f"--bounding-set=-all --inh-caps=-all")
    script = (f"cp -r /job/. /tmp/box/ && chown -R {uid}:{uid} /tmp/box && "
              f'exec {drop} -- "$0" -I -B {ENTRY} "$1"')
    return [*cmd, "sh", "-c", script, _sandbox_python(), str(write_fd)]


def _bubblewrap_works():
    """Whether bwrap can start this Python, with NumPy, in the allowlist root (needs root for
    the uid drop; an unprivileged bwrap would map every file to the grader's own uid)."""
    if os.geteuid() != 0 or shutil.which("bwrap") is None:
        return False
    with tempfile.TemporaryDirectory(prefix="autograder-probe-") as job:
        Path(job, "worker.py").write_text("import numpy\nopen('probe', 'w').write('ok')\n"
                                          "import os\nos.write(int(__import__('sys').argv[1]), b'ok')\n")
        shutil.copyfile(CONFINE_SOURCE, Path(job, "confine.py"))
        Path(job, "confine.json").write_text('{"enabled": false}')
        read_fd, write_fd = os.pipe()
        try:
            command = _bubblewrap_command(job, Limits(), _sandbox_uid(), "numpy", write_fd)
            done = subprocess.run(command, capture_output=True, timeout=60, pass_fds=(write_fd,),
                                  env=_scrubbed_env("/tmp/box"))
            os.close(write_fd)
            write_fd = None
            os.set_blocking(read_fd, False)
            try:
                got = os.read(read_fd, 4096)
            except BlockingIOError:
                got = b""
        except (OSError, subprocess.TimeoutExpired):
            return False
        finally:
            if write_fd is not None:
                os.close(write_fd)
            os.close(read_fd)
        return done.returncode == 0 and got.endswith(b"ok")


def _hidden_paths(private_paths):
    """Paths to cover inside the sandbox: each given path, except the Python environment.

    A folder that contains the running Python (a virtual environment inside the course folder)
    is not covered itself; its other entries are, recursively.
    """
    prefixes = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    hidden = []

    def visit(path: Path):
        if not path.exists():
            return
        if any(path == p or path in p.parents for p in prefixes):
            if path.is_dir() and not any(path == p for p in prefixes):
                for child in sorted(path.iterdir()):
                    visit(child)
            return
        hidden.append(path)

    for p in private_paths:
        visit(Path(p).resolve())
    # A path inside another hidden folder is covered already (and cannot be mounted on once
    # its parent is an empty tmpfs), e.g. an output folder inside the submissions folder.
    unique = sorted(set(hidden), key=lambda q: len(q.parts))
    return [q for i, q in enumerate(unique) if not any(o in q.parents for o in unique[:i])]


def _namespace_script(level, hidden, uid, limits):
    """Shell run as (namespace) root before the worker: mounts, then drop every privilege."""
    lines = ["set -e", "cd \"$1\"", "mount --make-rprivate / 2>/dev/null || true"]
    for path in hidden:
        if path.is_dir():
            lines.append(f"mount -t tmpfs -o size=1k,mode=0555 none {_q(path)}")
        else:
            lines.append(f"mount --bind /dev/null {_q(path)}")
    # A fresh /tmp, and inside it a size-capped box holding a copy of the job (never the original).
    lines += [
        "mount -t tmpfs -o size=1m,mode=1777 none /tmp",
        "mkdir /tmp/box",
        f"mount -t tmpfs -o size={limits.tmpfs_bytes},mode=0700 none /tmp/box",
        "cp -r . /tmp/box/",
        "mount -t tmpfs -o size=1k,mode=0555 none /dev/shm 2>/dev/null || true",
    ]
    if level == "namespaces-root":
        lines.append(f"chown -R {uid}:{uid} /tmp/box")
        drop = f"setpriv --reuid={uid} --regid={uid} --clear-groups --no-new-privs --bounding-set=-all"
    else:
        drop = "setpriv --no-new-privs --bounding-set=-all --inh-caps=-all"
    lines += ["cd /tmp/box", f'exec {drop} -- "$2" -I -B {ENTRY} "$3"']
    return "\n".join(lines)


def _q(path):
    return "'" + str(path).replace("'", "'\\''") + "'"


def _confine_read_paths(level):
    """What the worker may read and execute under Landlock: what the bubblewrap root shows."""
    paths = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc/ld.so.cache",
             "/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"]
    # In a PID namespace /proc shows only the sandbox's own processes; outside one, only ours.
    paths += ["/proc"] if level != "rlimits" else ["/proc/self", "/proc/cpuinfo", "/proc/meminfo", "/proc/stat"]
    for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix, Path(sys.executable).parent.parent):
        paths += [str(prefix), str(Path(prefix).resolve())]
    return sorted(set(paths))


def exposed_private_paths(report, paths):
    """Why ``paths`` (a judged task's data folders) may have been readable by the student code of
    this run, or None when they were not.  The namespace levels mount over them and bubblewrap's
    root never shows them; at the ``rlimits`` level only Landlock's read allowlist hides them,
    so a run without Landlock, or with one of them inside the allowlist, could have read them."""
    if report.isolation != "rlimits" or not paths:
        return None
    if not report.confinement.startswith("Landlock"):
        return ("the sandbox runs at the rlimits level without Landlock here, so the data the "
                "judged task holds back could not be hidden from student code; grade it where "
                "bubblewrap or Linux namespaces work, or on a kernel with Landlock")
    allowed = [Path(p) for p in _confine_read_paths("rlimits")]
    for path in paths:
        real = Path(path).resolve()
        if any(real == a or a in real.parents for a in allowed):
            return (f"the judged task's data folder {real} lies inside what the sandbox lets "
                    f"student code read ({next(a for a in allowed if real == a or a in real.parents)}); "
                    f"move it out of the Python installation")
    return None


def _scrubbed_env(home):
    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": home,
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",
    }
    # Some processors need these for OpenBLAS to compute correctly; they carry no secret.
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def _encode_cases(tasks, default_call_timeout):
    """JSON-able task list plus one npz payload holding every array argument."""
    arrays = {}

    def enc(value):
        if isinstance(value, np.ndarray):
            key = f"a{len(arrays)}"
            arrays[key] = value
            return {"__array__": key}
        if isinstance(value, tuple):
            return {"__tuple__": [enc(v) for v in value]}
        if isinstance(value, list):
            return [enc(v) for v in value]
        if isinstance(value, dict):
            return {k: enc(v) for k, v in value.items()}
        if isinstance(value, np.generic):
            return value.item()
        return value

    encoded = []
    for task, cases in tasks:
        encoded.append({
            "function": task.function,
            "call_timeout": task.call_timeout or default_call_timeout,
            "forbidden_ops": list(task.forbidden_ops),
            "max_python_lines": task.max_python_lines,
            "inputs_must_not_change": task.inputs_must_not_change,
            "tuple_output": bool(getattr(task, "output_names", ())),
            "tensor_output": bool(getattr(task, "returns_tensor", False)),
            "cases": [{"args": enc(tuple(c.args))["__tuple__"], "kwargs": enc(dict(c.kwargs)),
                       "count_lines": bool(c.count_lines)} for c in cases],
        })
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return encoded, buffer.getvalue()


class SandboxUnavailable(RuntimeError):
    """This machine cannot isolate student code, and weak isolation was not allowed."""


def run_in_sandbox(cells, tasks, mode, limits: Limits, private_paths=(), uid=None,
                   require_isolation=True) -> RunReport:
    """Run ``cells`` (dicts with ``label`` and ``source``) then call every task on its cases.

    ``tasks`` is a list of ``(Task, [Case, ...])``; ``mode`` is ``"numpy"`` or ``"torch"``.
    ``private_paths`` are folders and files the student must not see (the course folder, the
    gradebook, the submissions root, the output folder).  Returns a :class:`RunReport`; never
    raises because of anything the student did.
    """
    level = isolation_level()
    if level == "rlimits" and require_isolation:
        raise SandboxUnavailable(
            "this machine cannot run student code in Linux namespaces (unshare/setpriv missing "
            "or not permitted), so the course folder, the gradebook and the network would be "
            "reachable from student code. Grade on Linux (as root or with user namespaces), or "
            "pass --allow-weak-sandbox to accept the weaker isolation knowingly.")
    report = RunReport(isolation=level)
    # A task that declares its own (long) call time, e.g. training a model, extends the budget.
    extra = sum(task.call_timeout for task, _ in tasks if task.call_timeout)
    limits = dataclasses.replace(limits, notebook_timeout=limits.notebook_timeout + extra)
    encoded_tasks, payload = _encode_cases(tasks, limits.call_timeout)
    skip_cells: set = set()
    pending = list(encoded_tasks)
    deadline = time.monotonic() + limits.notebook_timeout
    uid = uid if uid is not None else _sandbox_uid()
    hidden = _hidden_paths(private_paths) if level.startswith("namespaces") else []

    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            for task in pending:
                report.task_failures.setdefault(task["function"], "the notebook ran out of time")
            break
        outcome = _run_once(cells, pending, payload, mode, limits, skip_cells, report, level,
                            hidden, uid, remaining)
        if outcome is None or report.grader_fault:
            break
        kind, where = outcome
        report.restarts += 1
        if kind == "cell":
            skip_cells.add(where)
        else:
            pending = [t for t in pending if t["function"] != where]
        if report.restarts > len(cells) + len(encoded_tasks) + 1:
            break
    return report


def _run_once(cells, tasks, payload, mode, limits, skip_cells, report, level, hidden, uid, remaining):
    """One worker process.  Returns None when it finished, else ("cell", i) or ("task", name)
    naming the step during which it hung or died."""
    with tempfile.TemporaryDirectory(prefix="autograder-") as workdir:
        box = Path(workdir)
        shutil.copyfile(WORKER_SOURCE, box / "worker.py")
        shutil.copyfile(CONFINE_SOURCE, box / "confine.py")
        (box / "confine.json").write_text(json.dumps({"enabled": CONFINE, "read": _confine_read_paths(level)}))
        job = {
            "mode": mode,
            "cells": cells,
            "tasks": tasks,
            "skip_cells": sorted(skip_cells),
            "cell_timeout": limits.cell_timeout,
            # Thread ids are then handed out to the worker alone, in order (see the worker).
            "own_pid_namespace": level != "rlimits",
            "limits": {
                "memory_bytes": limits.memory_bytes,
                "cpu_seconds": int(limits.notebook_timeout) + 5,
                "file_bytes": limits.file_bytes,
                "processes": limits.processes if level != "rlimits" else None,
                "open_files": limits.open_files,
            },
        }
        # The per-run key that authenticates the worker's reports after the cells (see
        # _supervise): it travels through a pipe the worker reads and closes before any student
        # code runs, never through a file, which a cell could read.
        key = os.urandom(32) if AUTHENTICATE_REPORTS else None
        key_read, key_write = os.pipe()
        os.write(key_write, key or b"")
        os.close(key_write)
        if key is not None:
            job["key_fd"] = key_read
        (box / "job.json").write_text(json.dumps(job), encoding="utf-8")
        read_fd, write_fd = os.pipe()
        if level == "bubblewrap":
            env = _scrubbed_env("/tmp/box")
            command = _bubblewrap_command(box, limits, uid, mode, write_fd)
            cwd = box
            pass_fds = (write_fd, key_read)
        elif level == "rlimits":
            env = _scrubbed_env(str(box))
            command = [sys.executable, "-I", "-B", *ENTRY.split(), str(write_fd)]
            cwd = box
            pass_fds = (write_fd, key_read)
        else:
            env = _scrubbed_env("/tmp/box")
            script = _namespace_script(level, hidden, uid, limits)
            userns = ["--user", "--map-root-user"] if level == "namespaces-user" else []
            command = ["unshare", *userns, "--net", "--ipc", "--mount", "--pid", "--fork", "--kill-child",
                       "--mount-proc", "sh", "-c", script, "sandbox", str(box), sys.executable,
                       str(write_fd)]
            cwd = box
            pass_fds = (write_fd, key_read)
        try:
            proc = subprocess.Popen(
                command, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, pass_fds=pass_fds, start_new_session=True,
            )
        finally:
            os.close(write_fd)
            os.close(key_read)
        try:
            return _supervise(proc, read_fd, tasks, payload, limits, report, remaining, len(cells),
                              key=key)
        finally:
            _kill(proc)
            os.close(read_fd)


def _kill(proc):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    for stream in (proc.stdin,):
        try:
            if stream:
                stream.close()
        except OSError:
            pass


def _supervise(proc, read_fd, tasks, payload, limits, report, remaining, n_cells=10**6, key=None):
    """Read the worker's messages until it is done, hangs or dies; never block on it.

    Student code runs in the worker's process and can write to the report channel, so every
    message is checked before use (:func:`_well_formed`, then against the job: a cell or task
    the job does not have is ignored).  From ``cells_done`` on, the events that carry grades
    (``cells_done``, ``call_start``, ``call_done``, ``done``) count only with a valid MAC under
    ``key`` and a sequence number above the last one (:func:`_authentic`): the key reached the
    worker before any student code and lives where graded Python cannot reach it, so a cell, a
    thread or a graded call that duplicates the channel cannot forge a result, a line count or
    an inputs digest, nor replay a real line.  The inputs are written without blocking, in
    pieces, from this loop, so a worker that never reads them cannot hold the grader past its
    deadlines."""
    task_timeouts = {t["function"]: t["call_timeout"] for t in tasks}
    n_cases = {t["function"]: len(t["cases"]) for t in tasks}
    selector = selectors.DefaultSelector()
    selector.register(read_fd, selectors.EVENT_READ)
    os.set_blocking(read_fd, False)
    stdin_fd = proc.stdin.fileno() if proc.stdin else None
    pending_input = None  # memoryview of the inputs still to write, once "cells_done" came
    buffer = b""
    received = 0
    hard_deadline = time.monotonic() + remaining
    # Starting the interpreter (and PyTorch) gets the time of one cell on top.
    step = ("start", None)
    step_deadline = time.monotonic() + limits.cell_timeout + 30.0
    finished = False
    eof = False
    inputs_sent = False
    last_cell, calls_started = None, False
    spoke = False  # the worker sent a message of ours: it started, so student code may have run
    last_sequence = 0  # of the last authenticated line
    while True:
        now = time.monotonic()
        wait = min(step_deadline, hard_deadline) - now
        if wait <= 0:
            break
        events = selector.select(timeout=min(wait, 1.0))
        if not events:
            if proc.poll() is not None:
                break
            continue
        readable = False
        for selected, _ in events:
            if selected.fd == stdin_fd:
                pending_input = _write_some(stdin_fd, pending_input)
                if pending_input is None:
                    selector.unregister(stdin_fd)
                    _close_stdin(proc)
            else:
                readable = True
        if not readable:
            continue
        try:
            chunk = os.read(read_fd, 1 << 16)
        except BlockingIOError:
            continue
        if not chunk:
            eof = True
            break
        received += len(chunk)
        if received > MAX_REPORT_BYTES:
            break
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            signed = _authentic(line, key, last_sequence) if key is not None else None
            if signed is not None:
                line, last_sequence = signed
            try:
                message = json.loads(line)
            except (ValueError, RecursionError):
                continue  # not ours: garbage written to our channel is ignored
            if not _well_formed(message) or not _fits_job(message, n_cells, n_cases):
                continue  # forged or malformed: never let its fields reach the grader
            event = message["event"]
            if key is not None and (event in _SIGNED_EVENTS) != (signed is not None):
                continue  # a grading event without the key's MAC (or a signed cell event): forged
            now = time.monotonic()
            if event == "confined":
                # Sent by confine.py before any student code; a later copy is a forgery.  It
                # does not count as the worker speaking: a worker that dies after it (say the
                # kernel layers keep NumPy from loading) ran no student code, so that is the
                # grader's fault, and the preflight refuses.
                if not spoke and not report.confinement:
                    report.confinement = _describe_confinement(message)
                continue
            spoke = True
            if event == "cell_start":
                step = ("cell", int(message["cell"]))
                last_cell = step[1]
                step_deadline = now + limits.cell_timeout + GRACE_SECONDS
            elif event == "cell_done":
                if step != ("cell", message["cell"]):
                    continue  # not the cell that is running: forged
                if message.get("error"):
                    report.cell_errors[int(message["cell"])] = str(message["error"])[:2000]
                step = ("between", None)
                step_deadline = now + limits.cell_timeout + GRACE_SECONDS
            elif event == "cells_done":
                if inputs_sent:
                    continue  # only the first counts: the inputs go out once
                inputs_sent = True
                if step[0] != "cell" or key is not None:
                    # Without a key, one sent from inside a cell may be student code (a
                    # thread's, or a lie): the cell keeps its own deadline and the blame if it
                    # hangs.  The inputs go out all the same (they are no secret).
                    step = ("inputs", None)
                    step_deadline = now + limits.cell_timeout + GRACE_SECONDS + 5.0
                if stdin_fd is not None:
                    os.set_blocking(stdin_fd, False)
                    pending_input = _write_some(stdin_fd, memoryview(payload))
                    if pending_input is None:
                        _close_stdin(proc)
                    else:
                        selector.register(stdin_fd, selectors.EVENT_WRITE)
            elif event == "call_start":
                calls_started = True
                name = str(message["task"])
                step = ("task", name)
                step_deadline = now + task_timeouts.get(name, limits.cell_timeout) + GRACE_SECONDS
            elif event == "call_done":
                name = str(message["task"])
                result = CallResult(error=message.get("error"), forbidden=message.get("forbidden"),
                                    inputs=message.get("inputs"))
                if message.get("npy") is not None:
                    try:
                        result.array = _load_result(message["npy"])
                    except (ValueError, OSError, TypeError, MemoryError, RecursionError):
                        result.error = "returned something that is not an array of numbers"
                report.calls[(name, int(message["case"]))] = result
                step = ("between", None)
                step_deadline = now + limits.cell_timeout + GRACE_SECONDS
            elif event == "done":
                if not _all_called(tasks, report):
                    # Student code can write to this channel too (it runs in the worker's
                    # process): an early "done" would end the run before the graded calls and
                    # cost the student the points of honest answers.  The real worker sends
                    # "done" only after every task was called or broken off; wait for it.
                    # (Not gated on the step: a thread forging "cell_start" at the wrong
                    # moment would make the real "done" look early.)
                    continue
                finished = True
                break
        if finished:
            break
    if finished:
        return None
    # The worker hung, died or flooded us.  Blame the step it was in.
    if eof:
        # Its end of the channel closed: it is exiting.  Give the process (``unshare`` waits
        # for the sandboxed PID 1) a moment to be reaped, or an exit would read as a timeout.
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    timed_out = proc.poll() is None
    _kill(proc)
    code = proc.returncode
    how = "ran past its time limit" if timed_out else _describe_exit(code)
    if not spoke:
        report.grader_fault = (f"the sandbox ({report.isolation}) {how} before running any "
                               f"student code")
        return None
    kind, where = step
    if kind == "cell":
        report.cell_errors[where] = f"the cell {how}"
        return ("cell", where)
    if kind == "task":
        report.task_failures[where] = f"calling it {how}"
        return ("task", where)
    if kind in ("between", "inputs") and last_cell is not None and not calls_started:
        # Between the cells and the calls only the worker's own code runs, unless a cell lied
        # (a forged "cell_done"/"cells_done" and then a hang) or left a thread behind: blame
        # the last cell that started, and run again without it.
        report.cell_errors[last_cell] = f"the cell {how} (after it or a thread it started " \
                                        f"wrote to the grader's channel)"
        return ("cell", last_cell)
    # Died between calls: blame the next pending task.
    for task in tasks:
        if not any((task["function"], c) in report.calls for c in range(len(task["cases"]))):
            report.task_failures[task["function"]] = f"the sandbox {how}"
            return ("task", task["function"])
    return None


def _write_some(fd, data):
    """Write what the pipe takes now; return the rest (None when all is written or the reader
    is gone)."""
    while data is not None and len(data):
        try:
            written = os.write(fd, data[: 1 << 16])
        except BlockingIOError:
            return data
        except OSError:  # BrokenPipeError: the worker is gone; its exit is handled elsewhere
            return None
        data = data[written:]
    return None


def _close_stdin(proc):
    try:
        proc.stdin.close()
    except (OSError, ValueError):
        pass


# Off only in the test that proves a forged report worked without it.
AUTHENTICATE_REPORTS = True
_SIGNED_EVENTS = frozenset({"cells_done", "call_start", "call_done", "done"})
MAC_HEX = 64  # characters of an HMAC-SHA256 in hex


def _authentic(line, key, last_sequence):
    """``(json_bytes, sequence)`` when ``line`` is ``MAC {json}`` with a valid HMAC-SHA256 of
    the JSON under ``key`` and a ``"seq"`` above ``last_sequence``; else None."""
    if len(line) <= MAC_HEX + 1 or line[MAC_HEX:MAC_HEX + 1] != b" ":
        return None
    mac, body = line[:MAC_HEX], line[MAC_HEX + 1:]
    expected = hmac.new(key, body, hashlib.sha256).hexdigest().encode("ascii")
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        sequence = json.loads(body).get("seq")
    except (ValueError, RecursionError, AttributeError):
        return None
    if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence <= last_sequence:
        return None  # a replayed line
    return body, sequence


def _fits_job(message, n_cells, n_cases):
    """Whether a well-formed message names a cell, task and case this job has."""
    if "cell" in message and message["cell"] >= n_cells:
        return False
    if "task" in message:
        return message["task"] in n_cases and message["case"] < n_cases[message["task"]]
    return True


def _describe_confinement(message):
    layers = []
    if message["landlock"]:
        layers.append(f"Landlock ABI {message['landlock']}")
    if message["seccomp"]:
        layers.append("seccomp filter")
    text = " + ".join(layers) if layers else "none"
    if message["reason"]:
        text += f" (missing: {message['reason'][:300]})"
    return text


_FIELDS = {  # event -> {field: allowed types}; every message is checked before use
    "cell_start": {"cell": (int,)},
    "cell_done": {"cell": (int,), "error": (str, type(None))},
    "cells_done": {},
    "call_start": {"task": (str,), "case": (int,)},
    "call_done": {"task": (str,), "case": (int,), "npy": (str, list, type(None)),
                  "error": (str, type(None)), "forbidden": (list, type(None)),
                  "inputs": (list, type(None))},
    "done": {},
    "confined": {"landlock": (int,), "seccomp": (bool,), "reason": (str,)},
}


def _well_formed(message) -> bool:
    """Whether ``message`` is one of the worker's events with fields of the right types."""
    if not isinstance(message, dict) or message.get("event") not in _FIELDS:
        return False
    for name, types in _FIELDS[message["event"]].items():
        value = message.get(name)
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            return False
        if isinstance(value, int) and not 0 <= value < 10**6:
            return False
    forbidden = message.get("forbidden")
    if forbidden is not None and not all(isinstance(f, str) for f in forbidden):
        return False
    inputs = message.get("inputs")  # digests of the input arrays after the call
    if inputs is not None and (len(inputs) > 10_000 or not all(isinstance(d, str) and len(d) <= 128
                                                              for d in inputs)):
        return False
    return _npy_well_formed(message.get("npy"))


MAX_PARTS = 32  # elements of a tuple result, and of a tuple inside it (as the worker's)


def _npy_well_formed(npy, depth=0):
    """A result is one ``.npy`` (base64 text) or, for a tuple, a list of at most
    :data:`MAX_PARTS` of them, nested at most one level (``[Y, [h_T, c_T]]``)."""
    if npy is None or isinstance(npy, str):
        return depth == 0 or npy is not None
    if not isinstance(npy, list) or depth > 1 or len(npy) > MAX_PARTS:
        return False
    return all(_npy_well_formed(part, depth + 1) for part in npy)


def _load_result(npy):
    """The array, or tuple of arrays (nested as sent), of a well-formed ``npy`` field."""
    if isinstance(npy, list):
        return tuple(_load_result(part) for part in npy)
    return _load_npy(base64.b64decode(npy, validate=True))


def _load_npy(raw: bytes) -> np.ndarray:
    """An array from ``.npy`` bytes, refusing a header whose shape or dtype the bytes do not
    back (a forged header claiming terabytes would otherwise raise MemoryError in np.load)."""
    stream = io.BytesIO(raw)
    version = np.lib.format.read_magic(stream)
    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                   else np.lib.format.read_array_header_2_0)
    shape, _, dtype = read_header(stream)
    if dtype.hasobject:
        raise ValueError("object arrays are not accepted")
    if int(np.prod(shape, dtype=object)) * dtype.itemsize != len(raw) - stream.tell():
        raise ValueError("the array's header does not match its data")
    stream.seek(0)
    return np.load(stream, allow_pickle=False)


def _all_called(tasks, report):
    """Whether every task has a result for each case, up to the first that failed (the worker
    stops calling a task after its first failing case)."""
    for task in tasks:
        for case in range(len(task["cases"])):
            got = report.calls.get((task["function"], case))
            if got is None:
                return False
            if got.error is not None or got.forbidden:
                break
    return True


def _describe_exit(code):
    if code is None:
        return "did not finish"
    if code > 128 and code - 128 in {sig.value for sig in signal.Signals}:
        code = 128 - code  # a wrapper (bwrap, sh) reports its child's death by signal N as 128+N
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hints = {"SIGKILL": " (killed: memory, CPU or process limit?)", "SIGXCPU": " (CPU time limit)",
                 "SIGSEGV": " (crashed)"}
        return f"ended the Python process with {name}{hints.get(name, '')}"
    return f"ended the Python process (exit code {code})"
