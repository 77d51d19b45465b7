"""The process that runs a student's code, inside the sandbox.

It is copied alone into the sandbox directory and started as ``python -I -B worker.py FD``:
it imports nothing from the course, only the standard library, NumPy and (for torch tasks)
PyTorch.  It reads ``job.json`` and ``runs the notebook's code cells one by one under a
per-cell timeout, then reads the test inputs (an ``.npz`` archive) from its standard input,
which the grader sends only once every cell has run, so code in a cell never sees them.  It
calls the graded functions on the inputs and reports on file descriptor FD, one JSON object per
line:

    {"event": "cell_start", "cell": i}          {"event": "cell_done", "cell": i, "error": ...}
    {"event": "cells_done"}                      {"event": "call_start", "task": t, "case": c}
    {"event": "call_done", "task": t, "case": c, "npy": base64 | null, "error": ..., "forbidden": ...}
    {"event": "done"}

Outputs travel as ``.npy`` bytes of plain numeric arrays (never pickles).  A task that returns a
tuple of arrays (``"tuple_output"`` in the job) sends ``"npy"`` as a list with one ``.npy`` per
element, or, for an element that is itself a tuple, a list of those: ``[Y, [h_T, c_T]]``.  Nothing secret is in
this process: no expected values, no hidden tests.  The parent process enforces the hard limits
(wall clock, kill); the timers here only let a slow cell fail without losing the others.
"""
import base64
import builtins
import importlib.machinery
import io
import json
import os
import resource
import signal
import sys
import types

MAX_MESSAGE = 2000  # characters of an error message sent back
MAX_PARTS = 32  # elements of a tuple result (and of a tuple inside it); the grader checks it too

# Libraries a NumPy task may not use; the course library too, since it holds reference answers.
# cffi (installed with nbgrader) calls any C function of the process, past every audit hook.
FORBIDDEN_IN_NUMPY = ("torch", "scipy", "dlcourse", "tensorflow", "jax", "jaxlib", "cupy",
                      "numba", "sklearn", "skimage", "cv2", "autograder", "cffi", "_cffi_backend")
FORBIDDEN_IN_TORCH = ("dlcourse", "autograder", "scipy", "cffi", "_cffi_backend")


def package_dirs(names):
    """Real paths of the installed folders (and single-file modules) of the top-level packages
    ``names``, with their vendored ``<name>.libs`` folders: what a task may not load *by file*
    (an extension loaded under another module name still comes from one of these paths).
    Looked up without importing anything; absent packages are skipped."""
    import importlib.util

    found = []
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            continue
        places = list(spec.submodule_search_locations or [])
        if not places and spec.origin and os.path.isabs(spec.origin):
            places = [spec.origin]
        for place in places:
            real = os.path.realpath(place)
            found.append(real)
            vendored = real + ".libs"
            if os.path.isdir(vendored):
                found.append(vendored)
    return sorted(set(found))


def _under(path, roots):
    real = os.path.realpath(os.fsdecode(path))
    return any(real == r or real.startswith(r + os.sep) for r in roots)


class CellTimeout(BaseException):
    """Raised by the timer inside a cell or call that runs past its time."""


class ForbiddenLibrary(ImportError):
    """Raised when a task touches a library it may not use."""


def _on_alarm(signum, frame):
    raise CellTimeout()


def _limit(name, value):
    if value is None:
        return
    kind = getattr(resource, name)
    _, hard = resource.getrlimit(kind)
    value = int(value)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    try:
        resource.setrlimit(kind, (value, value))
    except (ValueError, OSError):
        pass


class _Sink(io.TextIOBase):
    """Swallows what student code prints, so megabytes of output cost nothing."""

    def writable(self):
        return True

    def write(self, text):
        return len(text)


class _Reporter:
    def __init__(self, fd):
        self._fd = fd

    def send(self, **message):
        data = (json.dumps(message) + "\n").encode()
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]


def _error_text(exc):
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "..."


class _ForbiddenModule(types.ModuleType):
    """Stands in for a library a NumPy task may not use: importing works, using does not."""

    def __init__(self, name, log):
        super().__init__(name)
        self.__dict__["_log"] = log
        self.__dict__["__path__"] = []  # a package, so its submodules import (as stubs too)

    def __getattr__(self, attr):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        self.__dict__["_log"].append(self.__name__)
        raise ForbiddenLibrary(f"{self.__name__} may not be used in a NumPy task")


class _StubFinder:
    """First on ``sys.meta_path`` in a NumPy task: any module of a forbidden library, submodules
    included, imports as a :class:`_ForbiddenModule`.  Without it ``import torch.nn.functional
    as F`` at the top of an answer cell raised, the cell stopped there and the NumPy functions
    it defines (which may never touch PyTorch) were lost: 0 points for honest work."""

    def __init__(self, names, log):
        self.names, self.log = set(names), log

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] not in self.names:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        return _ForbiddenModule(spec.name, self.log)

    def exec_module(self, module):
        pass


def _install_audit_hook(box, forbidden, log, stub_finder=None, trace_gate=None, forbidden_dirs=()):
    """Block what graded code never needs: other processes, the network, forbidden imports,
    writing outside the sandbox.  Audit hooks cannot be removed once added.

    ``forbidden_dirs``: real paths of the forbidden packages' files; an extension module loaded
    from there (under any module name) is refused, whatever name it is imported under."""
    box = os.path.realpath(box)
    forbidden_dirs = tuple(forbidden_dirs)
    blocked_events = {
        "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
        "subprocess.Popen", "pty.spawn", "socket.connect", "socket.bind", "socket.sendto",
        "socket.getaddrinfo", "ctypes.dlopen", "ctypes.dlsym", "os.kill", "os.killpg",
        "signal.pthread_kill", "sys.setprofile", "sys.settrace", "os.chmod", "os.chown",
        # Walking the heap would reach the refusing kernels' registration handles (see
        # _refuse_operators) and the worker's own state; graded code never needs it.
        "gc.get_objects", "gc.get_referrers", "gc.get_referents",
    }

    def hook(event, args):
        if event == "sys.settrace" and trace_gate and trace_gate["open"]:
            return  # the worker's own line counter (see _count_lines)
        if event in blocked_events:
            if event == "os.kill" and args and args[0] == os.getpid():
                return
            raise PermissionError(f"the grader's sandbox does not allow {event}")
        if event == "import":
            top = str(args[0]).split(".")[0]
            filename = args[1] if len(args) > 1 else None
            if isinstance(filename, (str, bytes)) and forbidden_dirs and _under(filename, forbidden_dirs):
                log.append(os.path.basename(os.fsdecode(filename)).split(".")[0])
                raise ForbiddenLibrary(f"{os.fsdecode(filename)} belongs to a library that may not be used here")
            meta_path = args[3] if len(args) > 3 else None
            if stub_finder is not None and meta_path and meta_path[0] is stub_finder:
                return  # the stub finder answers first: the import yields a stub
            if top in forbidden:
                log.append(top)
                raise ForbiddenLibrary(f"{top} may not be used here")
        elif event == "open":
            path, mode = args[0], args[1]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(args[2], int) and args[2] & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
            if writing and isinstance(path, (str, bytes)):
                real = os.path.realpath(os.fsdecode(path))
                if not (real == box or real.startswith(box + os.sep) or real == os.devnull):
                    raise PermissionError(f"the grader's sandbox does not allow writing {real}")

    sys.addaudithook(hook)


def _line_tracer(counter):
    """A trace function counting the lines run in code compiled from notebook cells."""

    def tracer(frame, event, arg):
        if not frame.f_code.co_filename.startswith("<cell "):
            return None  # library code (NumPy's Python parts) is not the student's loop
        if event == "line":
            counter[0] += 1
        return tracer

    return tracer


def _arrays_in(values, path=()):
    """``[(path, array)]`` for every array argument, looking inside tuples and lists."""
    for index, value in enumerate(values):
        if isinstance(value, (tuple, list)):
            yield from _arrays_in(value, path + (index,))
        elif hasattr(value, "shape"):
            yield path + (index,), value


def _snapshot(values):
    """Copies of the array arguments, to tell afterwards whether a call modified them."""
    return [(where, value.detach().clone() if hasattr(value, "detach") else value.copy())
            for where, value in _arrays_in(values)]


def _modified(values, snapshot, np):
    """The argument number (1-based, with the position inside a tuple) of a modified array."""
    for where, before in snapshot:
        after = values
        for index in where:
            after = after[index]
        if hasattr(after, "detach"):
            after, before = after.detach().cpu().numpy(), before.cpu().numpy()
        if not np.array_equal(np.asarray(after), np.asarray(before), equal_nan=True):
            return ".".join(str(i + 1) for i in where)
    return None


def _strip_magics(source):
    # IPython magics and shell escapes mean nothing outside a kernel; keep line numbers.
    lines = source.split("\n")
    return "\n".join(("pass  # " + ln) if ln.lstrip().startswith(("%", "!")) else ln for ln in lines)


def _decode(value, arrays, to_tensor):
    if isinstance(value, dict) and "__array__" in value:
        arr = arrays[value["__array__"]]
        return to_tensor(arr) if to_tensor else arr
    if isinstance(value, dict) and "__tuple__" in value:
        return tuple(_decode(v, arrays, to_tensor) for v in value["__tuple__"])
    if isinstance(value, list):
        return [_decode(v, arrays, to_tensor) for v in value]
    if isinstance(value, dict):
        return {k: _decode(v, arrays, to_tensor) for k, v in value.items()}
    return value


def _encode_result(result, np):
    if hasattr(result, "detach") and hasattr(result, "cpu") and hasattr(result, "numpy"):
        result = result.detach().cpu().numpy()
    arr = np.asarray(result)
    if type(arr) is not np.ndarray:
        arr = np.array(arr, copy=True).view(np.ndarray)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"returned {type(result).__name__} with dtype {arr.dtype}, not an array of numbers")
    buffer = io.BytesIO()
    np.save(buffer, arr.copy(order="C"), allow_pickle=False)  # keeps 0-d results 0-d
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _encode_output(result, np, as_tuple):
    """``.npy`` (base64) of ``result``; for a task returning a tuple, a list of them, one level
    of nesting deep (``(Y, (h_T, c_T))``).  The grader compares the structure with its own."""
    if not as_tuple or not isinstance(result, (tuple, list)):
        return _encode_result(result, np)

    def parts(values, path):
        if len(values) > MAX_PARTS:
            raise TypeError(f"returned a tuple of {len(values)} elements; at most {MAX_PARTS} are accepted")
        encoded = []
        for index, value in enumerate(values, start=1):
            here = path + (index,)
            if isinstance(value, (tuple, list)) and len(here) == 1:
                encoded.append(parts(value, here))
                continue
            try:
                encoded.append(_encode_result(value, np))
            except (TypeError, ValueError) as err:
                raise TypeError(f"element {'.'.join(map(str, here))} of the returned tuple: {err}") from None
        return encoded

    return parts(result, ())


class _OpRecorder:
    """Records which ATen operators a torch task calls, whatever Python path it took."""

    def __init__(self, torch):
        from torch.utils._python_dispatch import TorchDispatchMode

        recorder = self
        self.ops = set()

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                recorder.ops.add(func._schema.name.split("::")[-1])
                return func(*args, **(kwargs or {}))

        self.mode_class = Mode


# Backend keys whose kernels compute values; a refused operator loses its kernel on each of them.
_COMPUTE_KEYS = ("CPU", "MkldnnCPU", "QuantizedCPU", "SparseCPU", "CompositeExplicitAutograd",
                 "CompositeExplicitAutogradNonFunctional")


def _refuse_operators(torch, names, log):
    """Replace every kernel of the operators called ``names`` (in any namespace, any overload)
    with one that raises.

    The dispatch-mode recorder alone is advisory: student code runs in this process and can
    leave the mode (``torch.utils._python_dispatch._disable_current_modes``) or reach the
    recorder through frames.  With the kernels gone, a forbidden operator cannot produce a
    value by any Python path; the student's function fails instead.

    Undoing a replacement takes its registration handle (``handle.reset()``).  No Python object
    refers to the handles once this function returns: each is kept alive only by one reference
    count added here on purpose and never given back (they are pybind11 objects, which the
    garbage collector does not track, so not even ``gc.get_objects`` lists them).  The refusing
    kernel closes over its operator's name and the log only: its frame, which student code can
    reach through the exception's traceback, leads nowhere near a handle.  (The test
    ``test_undoing_the_kernel_guard_through_the_exception_traceback_fails`` is the attack that
    worked while the kernel kept the handles in a default argument.)
    """
    import ctypes

    wanted = set(names)
    if not wanted:
        return
    keep_alive = ctypes.PyDLL(None).Py_IncRef  # a private handle on the C API, not ctypes.pythonapi
    keep_alive.argtypes = [ctypes.py_object]
    keep_alive.restype = None
    libraries = {}

    def refusing(qualname):
        short = qualname.split("::")[-1].split(".")[0]

        def kernel(*args, **kwargs):
            log.append(f"torch operator {short}")
            raise PermissionError(f"the grader's sandbox does not allow the PyTorch operator "
                                  f"{qualname} in this task")
        return kernel

    for qualname in torch._C._dispatch_get_all_op_names():
        namespace, _, name = qualname.partition("::")
        if name.split(".")[0] not in wanted:
            continue
        for key in _COMPUTE_KEYS:
            if not torch._C._dispatch_has_kernel_for_dispatch_key(qualname, key):
                continue
            if (namespace, key) not in libraries:
                libraries[(namespace, key)] = torch._C._dispatch_library("IMPL", namespace, key)
            try:
                libraries[(namespace, key)].impl(name, key, refusing(qualname), False)
            except (RuntimeError, TypeError, ValueError):
                pass
    for handle in libraries.values():
        keep_alive(handle)
    libraries.clear()


def main():
    fd = int(sys.argv[1])
    reporter = _Reporter(fd)
    box = os.getcwd()
    with open("job.json", encoding="utf-8") as fh:
        job = json.load(fh)
    limits = job.get("limits", {})
    _limit("RLIMIT_AS", limits.get("memory_bytes"))
    _limit("RLIMIT_CPU", limits.get("cpu_seconds"))
    _limit("RLIMIT_FSIZE", limits.get("file_bytes"))
    _limit("RLIMIT_NPROC", limits.get("processes"))
    _limit("RLIMIT_NOFILE", limits.get("open_files", 256))
    _limit("RLIMIT_CORE", 0)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails instead of killing
    signal.signal(signal.SIGALRM, _on_alarm)

    import numpy as np

    inputs_fd = os.dup(0)  # keep the channel; student code gets an empty stdin
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    mode = job["mode"]
    forbidden_log = []
    refused_log = []  # forbidden operators whose (refusing) kernel ran, whatever the path
    to_tensor = None
    recorder = None
    if mode == "torch":
        import torch

        torch.set_num_threads(1)
        to_tensor = torch.from_numpy
        recorder = _OpRecorder(torch)
        import warnings

        with warnings.catch_warnings():  # "overriding a previously registered kernel"
            warnings.simplefilter("ignore")
            _refuse_operators(torch, {op for t in job["tasks"] for op in t.get("forbidden_ops", ())},
                              refused_log)
        forbidden = FORBIDDEN_IN_TORCH
    else:
        forbidden = FORBIDDEN_IN_NUMPY
    forbidden_dirs = package_dirs(forbidden)  # before any stub stands in for them
    if mode != "torch":
        for name in forbidden:
            sys.modules[name] = _ForbiddenModule(name, forbidden_log)
        stub_finder = _StubFinder(forbidden, forbidden_log)
        sys.meta_path.insert(0, stub_finder)
    trace_gate = {"open": False}
    _install_audit_hook(box, set(forbidden), forbidden_log,
                        stub_finder=stub_finder if mode != "torch" else None, trace_gate=trace_gate,
                        forbidden_dirs=forbidden_dirs)
    settrace = sys.settrace

    # From here on, student code runs.  Keep our own references first.
    setitimer, ITIMER_REAL = signal.setitimer, signal.ITIMER_REAL
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    sys.stdout = sys.stderr = _Sink()
    skip = set(job.get("skip_cells", []))
    for index, cell in enumerate(job["cells"]):
        if index in skip:
            continue
        reporter.send(event="cell_start", cell=index)
        error = None
        try:
            code = compile(_strip_magics(cell["source"]), f"<cell {cell['label']}>", "exec")
            setitimer(ITIMER_REAL, job["cell_timeout"])
            try:
                exec(code, namespace)
            finally:
                setitimer(ITIMER_REAL, 0)
        except CellTimeout:
            error = f"timed out after {job['cell_timeout']:g} s"
        except BaseException as exc:  # noqa: BLE001 - SystemExit and friends are student errors too
            error = _error_text(exc)
        reporter.send(event="cell_done", cell=index, error=error)

    reporter.send(event="cells_done")
    with os.fdopen(inputs_fd, "rb") as channel:
        payload = channel.read()
    arrays = dict(np.load(io.BytesIO(payload), allow_pickle=False)) if payload else {}

    for task in job["tasks"]:
        name = task["function"]
        function = namespace.get(name)
        failed = False
        for case_index, case in enumerate(task["cases"]):
            reporter.send(event="call_start", task=name, case=case_index)
            message = {"event": "call_done", "task": name, "case": case_index,
                       "npy": None, "error": None, "forbidden": None}
            if not callable(function):
                message["error"] = "not defined"
                reporter.send(**message)
                break
            if failed:
                break  # one failing case fails the task; do not spend time on the rest
            del forbidden_log[:]
            del refused_log[:]
            mode_ctx = recorder.mode_class() if recorder else None
            if recorder:
                recorder.ops.clear()
            try:
                args = _decode(case["args"], arrays, to_tensor)
                kwargs = _decode(case["kwargs"], arrays, to_tensor)
                snapshot = _snapshot(args) if task.get("inputs_must_not_change", True) else []
                lines = [0]
                counting = bool(case.get("count_lines")) and task.get("max_python_lines", 0) > 0
                if counting:
                    trace_gate["open"] = True
                    settrace(_line_tracer(lines))
                    trace_gate["open"] = False
                setitimer(ITIMER_REAL, task["call_timeout"])
                try:
                    if mode_ctx is not None:
                        with mode_ctx:
                            result = function(*args, **kwargs)
                    else:
                        result = function(*args, **kwargs)
                finally:
                    setitimer(ITIMER_REAL, 0)
                    if counting:
                        trace_gate["open"] = True
                        settrace(None)
                        trace_gate["open"] = False
                changed = _modified(args, snapshot, np)
                if changed is not None:
                    raise ValueError(f"it modified its input argument number {changed}; "
                                     f"the inputs must not be changed (work on a copy)")
                if counting and lines[0] > task["max_python_lines"]:
                    raise ValueError(
                        f"it ran {lines[0]} lines of Python for one call (limit "
                        f"{task['max_python_lines']}): use array operations instead of a Python "
                        f"loop over the output")
                message["npy"] = _encode_output(result, np, task.get("tuple_output", False))
            except CellTimeout:
                message["error"] = f"timed out after {task['call_timeout']:g} s"
            except BaseException as exc:  # noqa: BLE001
                message["error"] = _error_text(exc)
            if forbidden_log:
                message["forbidden"] = sorted(set(forbidden_log))
            elif recorder is not None:
                used = sorted(recorder.ops & set(task.get("forbidden_ops", ())))
                used = sorted({f"torch operator {op}" for op in used} | set(refused_log))
                if used:
                    message["forbidden"] = used
            failed = message["error"] is not None or message["forbidden"] is not None
            reporter.send(**message)
    reporter.send(event="done")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
