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
    {"event": "call_done", "task": t, "case": c, "npy": base64 | null, "error": ..., "forbidden": ...,
     "inputs": [sha256 hex of each input array after the call]}
    {"event": "done"}

From ``cells_done`` on, each line is ``MAC {json}``: the JSON carries a ``"seq"`` number and MAC
is its HMAC-SHA256 in hex under the key the grader passed on the pipe named ``key_fd`` in the job
(read and closed before any student code runs).  The grader ignores those events without a
valid MAC, so student code writing to the same channel cannot fake them.

Whether a call modified its inputs is decided by the grader, from ``inputs``.  Outputs travel
as ``.npy`` bytes of plain numeric arrays (never pickles).  A task that returns a
tuple of arrays (``"tuple_output"`` in the job) sends ``"npy"`` as a list with one ``.npy`` per
element, or, for an element that is itself a tuple, a list of those: ``[Y, [h_T, c_T]]``.
Nothing secret is in this process: no expected values, no hidden tests.  The parent process enforces the hard limits
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
import time
import types

MAX_MESSAGE = 2000  # characters of an error message sent back
MAX_PARTS = 32  # elements of a tuple result (and of a tuple inside it); the grader checks it too

# Libraries a NumPy task may not use; the course library too, since it holds reference answers.
FORBIDDEN_IN_NUMPY = ("torch", "scipy", "dlcourse", "tensorflow", "jax", "jaxlib", "cupy",
                      "numba", "sklearn", "skimage", "cv2", "autograder")
FORBIDDEN_IN_TORCH = ("dlcourse", "autograder", "scipy")


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
        if attr[:1].isupper():
            # A class name (``torch.Tensor``): libraries allowed in the task ask
            # ``isinstance(x, sys.modules["torch"].Tensor)`` (matplotlib does, to plot any
            # array); the answer is no, and making one is refused.
            log, name = self.__dict__["_log"], f"{self.__name__}.{attr}"

            def refuse(cls, *args, **kwargs):
                log.append(name.split(".")[0])
                raise ForbiddenLibrary(f"{name} may not be used in a NumPy task")

            stub = type(attr, (), {"__new__": refuse, "__init_subclass__": classmethod(refuse),
                                   "__module__": self.__name__})
            self.__dict__[attr] = stub
            return stub
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


# Where PEP 578 hands out frame objects: with a frame, student code reaches the worker's own
# locals through ``f_back`` (which raises no event) and could rewrite its bookkeeping.
_FRAME_EVENTS = frozenset({"sys._getframe", "sys._current_frames"})
_FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})


def _install_audit_hook(box, forbidden, log, stub_finder=None, trace_gate=None, forbidden_dirs=(),
                        library_roots=(), worker_file=None, hide_frames=True, calls=None):
    """Block what graded code never needs: other processes, the network, forbidden imports,
    writing outside the sandbox, frame objects, code claiming a library's file name.  Audit
    hooks cannot be removed once added, but PEP 578 says plainly that they are no security
    boundary (ctypes, C extensions and signal handlers pass them): every check here is a second
    layer behind the sandbox's file system, namespaces and the grader's own comparisons.

    ``forbidden_dirs``: real paths of the forbidden packages' files; an extension module loaded
    from there (under any module name) is refused.  ``library_roots``: real paths of the
    interpreter's prefixes; an extension module from anywhere else (a copy in the box) is
    refused too.  ``hide_frames``: refuse frame objects once the graded calls begin (not in
    torch tasks: PyTorch takes frames in the modules it imports lazily, at the first dispatch
    mode; not while the cells run: pyparsing, which matplotlib uses, takes frames too).

    ``calls``: ``(run, arguments)``, the graded calls, held here and nowhere else until the
    worker raises the audit event ``autograder.calls`` after the cells: ``run(*arguments)``
    then runs inside this hook, in a frame no frame a cell could have kept leads to, and never
    returns.  A cell that raises the event first runs the calls itself, before the grader has
    sent the inputs: it waits for them until the cell's time runs out.  Paths are resolved by the kernel (``/proc/self/fd``), and everything the hook
    calls is bound here, before student code runs: replacing ``os.path.realpath``,
    ``builtins.isinstance`` or the worker's globals later changes nothing in here."""
    box = os.path.realpath(box)
    forbidden_dirs = tuple(d + os.sep for d in forbidden_dirs) + tuple(forbidden_dirs)
    library_roots = tuple(r.rstrip(os.sep) + os.sep for r in library_roots)
    code_names = ("<frozen ",) + library_roots + ((worker_file,) if worker_file else ())
    blocked_events = frozenset({
        "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
        "subprocess.Popen", "pty.spawn", "socket.connect", "socket.bind", "socket.sendto",
        "socket.getaddrinfo", "ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle",
        "ctypes.call_function", "ctypes.cdata", "ctypes.cdata/buffer", "ctypes.memmove",
        "ctypes.memset", "ctypes.string_at", "ctypes.wstring_at", "ctypes.addressof",
        "os.kill", "os.killpg", "signal.pthread_kill", "sys.setprofile", "sys.settrace",
        "os.chmod", "os.chown",
        # Walking the heap would reach the worker's own state; graded code never needs it.
        "gc.get_objects", "gc.get_referrers", "gc.get_referents",
    })
    frame_events = _FRAME_EVENTS if hide_frames else frozenset()
    frame_attributes = _FRAME_ATTRIBUTES if hide_frames else frozenset()
    pending = [calls] if calls else []
    in_calls = [False]
    _isinstance, _str, _bytes, _len, _int, _tuple = isinstance, str, bytes, len, int, tuple
    _decode_bytes, _startswith, _split = bytes.decode, str.startswith, str.split
    _open, _close, _readlink, _getpid = os.open, os.close, os.readlink, os.getpid
    _realpath, _O_PATH = os.path.realpath, getattr(os, "O_PATH", 0)
    _writing_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT
    _PermissionError, _ValueError, _Forbidden = PermissionError, ValueError, ForbiddenLibrary
    _append = log.append
    _any = any

    def resolved(path):
        """The real path of an existing file as the kernel sees it (symlinks, ``..``, bind
        mounts), without calling any Python-level path code."""
        if _isinstance(path, _bytes):
            path = _decode_bytes(path, "utf-8", "surrogateescape")
        if not _O_PATH:
            return _realpath(path)
        fd = _open(path, _O_PATH)
        try:
            return _readlink("/proc/self/fd/" + _str(fd))
        finally:
            _close(fd)

    _read, _fstat, _O_RDONLY = os.read, os.fstat, os.O_RDONLY

    def file_bytes(path):
        try:
            fd = _open(path, _O_RDONLY)
        except OSError:
            return None
        try:
            size = _fstat(fd).st_size
            if size > 64 * 2**20:
                return None
            data, chunk = b"", b"."
            while chunk and _len(data) < size:
                chunk = _read(fd, size - _len(data))
                data += chunk
            return data
        finally:
            _close(fd)

    def hook(event, args):
        if event == "autograder.calls":
            if not pending:
                raise _PermissionError("the graded calls have started already")
            run, arguments = pending.pop()
            in_calls[0] = True
            run(*arguments, *args)  # does not return: the worker exits at its end
        if event == "sys.settrace" and trace_gate and trace_gate["open"]:
            return  # the worker's own line counter
        if event in blocked_events:
            if event == "os.kill" and args and args[0] == _getpid():
                return
            raise _PermissionError("the grader's sandbox does not allow " + event)
        if in_calls[0] and (event in frame_events or (event == "object.__getattr__" and _len(args) > 1
                                                     and args[1] in frame_attributes)):
            # ValueError is what ``sys._getframe`` raises on a short stack: the standard
            # library's callers (logging, namedtuple, typing) fall back without a frame.
            raise _ValueError("the grader's sandbox does not hand out frame objects")
        if event == "compile" or event == "code.__new__":
            filename = args[1] if _len(args) > 1 else None
            if _isinstance(filename, _bytes):
                filename = _decode_bytes(filename, "utf-8", "surrogateescape")
            if _isinstance(filename, _str) and _startswith(filename, code_names):
                if event == "compile" and _isinstance(args[0], _bytes) and args[0] == file_bytes(filename):
                    return  # the import system compiling a library's own source file
                raise _PermissionError("the grader's sandbox does not allow code that claims the "
                                       "file name " + filename)
            return
        if event == "import":
            top = _split(_str(args[0]), ".")[0]
            filename = args[1] if _len(args) > 1 else None
            if _isinstance(filename, (_str, _bytes)) and (forbidden_dirs or library_roots):
                try:
                    real = resolved(filename)
                except OSError:
                    real = None
                if real is not None and forbidden_dirs and (real in forbidden_dirs or
                                                            _startswith(real, forbidden_dirs)):
                    _append(_split(_split(real, "/")[-1], ".")[0])
                    raise _Forbidden(real + " belongs to a library that may not be used here")
                if real is not None and library_roots and not _startswith(real, library_roots):
                    _append(_split(_split(real, "/")[-1], ".")[0])
                    raise _Forbidden(real + " is a compiled extension from outside the installed "
                                     "libraries (a copy?); it may not be loaded here")
            meta_path = args[3] if _len(args) > 3 else None
            if stub_finder is not None and meta_path and meta_path[0] is stub_finder:
                return  # the stub finder answers first: the import yields a stub
            if top in forbidden:
                _append(top)
                raise _Forbidden(top + " may not be used here")
        elif event == "open":
            path, mode = args[0], args[1]
            writing = (_isinstance(mode, _str) and _any(c in mode for c in "wax+")) or (
                _isinstance(args[2], _int) and args[2] & _writing_flags)
            if writing and _isinstance(path, (_str, _bytes)):
                if _isinstance(path, _bytes):
                    path = _decode_bytes(path, "utf-8", "surrogateescape")
                real = _realpath(path)
                if not (real == box or _startswith(real, box + "/") or real == "/dev/null"):
                    raise _PermissionError("the grader's sandbox does not allow writing " + real)

    hook.__cantrace__ = True  # the graded calls run inside it, and the line counter must see them
    sys.addaudithook(hook)


def _line_counter(gettrace, settrace, trace_gate, library_roots, trusted_codes):
    """``(start, stop)`` of a counter of the lines of the student's Python run by one call.

    Every line counts except those of the interpreter's installed libraries (by file; the audit
    hook refuses code compiled under such a file name unless it is that file's own source) and
    of this worker (by code object).  Student code cannot reach the counter through
    ``sys.gettrace`` (which returns None to it while counting) nor through frames (the audit
    hook refuses to hand them out), and ``stop`` checks, after the call, that the tracer was
    still installed and that no frame it traced had its tracing turned off or replaced
    (``frame.f_trace_lines = False``); either makes the call fail.  Threads are checked by the
    caller: a loop in another thread is not traced at all."""
    _startswith, _len, _append = str.startswith, len, list.append

    def start():
        count, traced = [0], []

        def local(frame, event, arg):
            if event == "line":
                count[0] += 1
            return local

        def tracer(frame, event, arg):
            code = frame.f_code
            if code in trusted_codes or _startswith(code.co_filename, library_roots):
                return None
            frame.f_trace_lines = True
            _append(traced, frame)
            return local

        trace_gate["open"] = True
        settrace(tracer)
        trace_gate["open"] = False
        return count, traced, tracer, local

    def stop(state):
        count, traced, tracer, local = state
        intact = gettrace() is tracer
        trace_gate["open"] = True
        settrace(None)
        trace_gate["open"] = False
        for frame in traced:
            if not frame.f_trace_lines or (frame.f_trace is not None and frame.f_trace is not local):
                intact = False
        del traced[:]
        return count[0], intact

    return start, stop


def _trusted_codes(namespace):
    """Every code object of this module's functions and classes (nested ones included): frames
    running the worker's own code are not the student's lines.  Taken before student code runs."""
    pending = []
    for value in namespace.values():
        if isinstance(value, types.FunctionType):
            pending.append(value.__code__)
        elif isinstance(value, type) and value.__module__ == namespace.get("__name__"):
            for member in vars(value).values():
                member = getattr(member, "__func__", member)
                if isinstance(member, types.FunctionType):
                    pending.append(member.__code__)
    found = set()
    while pending:
        code = pending.pop()
        found.add(code)
        pending.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return frozenset(found)


def input_digest(array, sha256, tobytes):
    """What the grader compares to tell whether a call modified an input array: a digest of its
    dtype, shape and bytes (taken in the worker after the call, and in the grader from its own
    copy of the inputs).  ``sha256`` and ``tobytes`` (``np.ndarray.tobytes``) are passed in, as
    bound before any student code ran."""
    digest = sha256(f"{array.dtype.str} {array.shape}".encode())
    digest.update(tobytes(array))
    return digest.hexdigest()


def argument_label(path):
    """``(1, 2)`` -> ``'number 2.3'``; ``('scale',)`` -> ``'scale'``: how a message names an
    input array (positions 1-based, keyword arguments by name)."""
    if path and isinstance(path[0], str):
        return ".".join([path[0]] + [str(p + 1) for p in path[1:]])
    return "number " + ".".join(str(p + 1) for p in path)


def _strip_magics(source):
    # IPython magics and shell escapes mean nothing outside a kernel; keep line numbers.
    lines = source.split("\n")
    return "\n".join(("pass  # " + ln) if ln.lstrip().startswith(("%", "!")) else ln for ln in lines)


def _decode(value, arrays, to_tensor, record=None, path=()):
    """A case's ``args`` / ``kwargs`` as the student's function receives them.  ``record``
    collects ``(path, array)`` for every input array, in order: what the inputs check digests
    (a tensor made by ``to_tensor`` shares the array's memory, so writes show in both)."""
    if isinstance(value, dict) and "__array__" in value:
        arr = arrays[value["__array__"]]
        if record is not None:
            record.append((path, arr))
        return to_tensor(arr) if to_tensor else arr
    if isinstance(value, dict) and "__tuple__" in value:
        return tuple(_decode(v, arrays, to_tensor, record, path + (i,))
                     for i, v in enumerate(value["__tuple__"]))
    if isinstance(value, list):
        return [_decode(v, arrays, to_tensor, record, path + (i,)) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _decode(v, arrays, to_tensor, record, path + (k,)) for k, v in value.items()}
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


def _json_writer(fd, key=None, sha256=None):
    """``send(**message)``: one JSON line on ``fd``, built with references bound now.  Student
    code can later replace ``json.dumps`` (or the encoder it calls), ``os.write`` or builtins;
    the worker's own reports then still say what the worker measured.

    With ``key`` (the grader's per-run secret, see :func:`_read_key`) every line carries a
    sequence number and starts with its HMAC-SHA256 in hex, ``MAC {json}``: student code can
    write to this channel too, but not lines the grader accepts after the cells."""
    import json.encoder

    quote = json.encoder.encode_basestring_ascii  # C when _json is there
    write, _isinstance, _str, _int, _bool = os.write, isinstance, str, int, bool
    _list, _tuple, _join, _encode, _memoryview = list, tuple, ", ".join, str.encode, memoryview
    if key is not None:
        # HMAC (RFC 2104) by hand on the C hash bound before student code: the ``hmac``
        # module's Python could be rewritten by a cell to leak the key it is given.
        padded = key + bytes(64 - len(key))
        inner, outer = bytes(b ^ 0x36 for b in padded), bytes(b ^ 0x5C for b in padded)
    sequence = [0]

    def value(v):
        if v is None:
            return "null"
        if _isinstance(v, _bool):
            return "true" if v else "false"
        if _isinstance(v, _int):
            return _str(_int(v))
        if _isinstance(v, _str):
            return quote(v)
        if _isinstance(v, (_list, _tuple)):
            return "[" + _join([value(x) for x in v]) + "]"
        raise TypeError("not a message value")

    def send(**message):
        fields = [quote(k) + ": " + value(v) for k, v in message.items()]
        if key is not None:
            sequence[0] += 1
            fields.append('"seq": ' + _str(sequence[0]))
        body = _encode("{" + _join(fields) + "}", "ascii")
        if key is not None:
            mac = sha256(outer + sha256(inner + body).digest()).hexdigest()
            body = _encode(mac + " ", "ascii") + body
        view = _memoryview(body + b"\n")
        while view:
            view = view[write(fd, view):]

    return send


def _read_key(fd, read=os.read, close=os.close):
    """The grader's per-run key, read (and its pipe closed) before any student code runs; it
    then lives only in the closure of the graded calls' writer."""
    if fd is None:
        return None
    key = b""
    try:
        while len(key) < 32:
            chunk = read(fd, 32 - len(key))
            if not chunk:
                break
            key += chunk
    finally:
        close(fd)
    return key if len(key) == 32 else None


def _all_tensors(result, Tensor, _isinstance):
    """Whether ``result`` is a tensor, or a tuple/list (nested one level) of tensors."""
    if _isinstance(result, (tuple, list)):
        return len(result) > 0 and all(_isinstance(r, Tensor) or (_isinstance(r, (tuple, list)) and
                                       all(_isinstance(q, Tensor) for q in r)) for r in result)
    return _isinstance(result, Tensor)


def _threads_started_probe(start_new_thread, allocate_lock, get_native_id, count, sleep):
    """The thread id the kernel gives a new thread now.  In the sandbox's own PID namespace ids
    are handed out in order to this process's threads only, so two probes around a call tell
    whether any thread (or process) was started during it, even one that has ended since.
    Returns once the probe thread is gone (``count``: ``_thread._count``)."""
    got = []
    done = allocate_lock()
    done.acquire()
    before = count()

    def probe():
        got.append(get_native_id())
        done.release()

    start_new_thread(probe, ())
    if not done.acquire(True, 2.0):
        return -1  # no answer (a starved thread): no evidence either way
    for _ in range(2000):
        if count() <= before:
            break
        sleep(0.0005)
    return got[0]


def _private_copies():
    """This module's functions re-bound to a private copy of its globals (and of builtins).
    Student code can reach the module's own functions (the SIGALRM handler, ``sys.stdout``'s
    type, the import stubs) and through them rewrite the module's globals or a function's
    ``__code__``; the copies share neither."""
    private = dict(globals())
    private["__builtins__"] = dict(builtins.__dict__)
    public = globals()
    for name, value in list(private.items()):
        if isinstance(value, types.FunctionType) and value.__globals__ is public:
            copy = types.FunctionType(value.__code__, private, value.__name__, value.__defaults__,
                                      value.__closure__)
            copy.__kwdefaults__ = value.__kwdefaults__
            private[name] = copy
    return private


def _other_threads_cpu(listdir, read_first_line, own_tid):
    """``{tid: nanoseconds of CPU}`` of this process's other threads, from the kernel's
    ``/proc/self/task/<tid>/schedstat`` (exact; the process CPU clock is only as fine as the
    scheduler tick once RLIMIT_CPU is set)."""
    found = {}
    for name in listdir("/proc/self/task"):
        if name != own_tid:
            line = read_first_line(f"/proc/self/task/{name}/schedstat")
            if line:
                found[name] = int(line.split()[0])
    return found


def _read_first_line(path, _open=os.open, _read=os.read, _close=os.close, _flags=os.O_RDONLY):
    try:
        fd = _open(path, _flags)
    except OSError:
        return ""
    try:
        return _read(fd, 256).decode("ascii", "replace")
    except OSError:  # the thread ended between open and read (ESRCH): it has no time to report
        return ""
    finally:
        _close(fd)


def main():
    # Everything the worker uses once student code has run is bound to a local name here, first:
    # student code can reach and rewrite this module's globals (through any of its functions'
    # ``__globals__``), builtins, and the attributes of numpy, json, os and hashlib.
    import _thread
    import hashlib

    fd = int(sys.argv[1])
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
    stub_finder = None
    if mode != "torch":
        for name in forbidden:
            # Only where one is loaded already; the others appear (as stubs) when imported, so
            # an allowed library that asks ``"tensorflow" in sys.modules`` is told the truth.
            if name in sys.modules:
                sys.modules[name] = _ForbiddenModule(name, forbidden_log)
        stub_finder = _StubFinder(forbidden, forbidden_log)
        sys.meta_path.insert(0, stub_finder)
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    library_roots = tuple(sorted({os.path.realpath(p) for p in prefixes} | prefixes))
    worker_file = os.path.realpath(__file__)
    trace_gate = {"open": False}
    private = _private_copies()
    kit = dict(
        job=json.loads(json.dumps(job)),  # the calls' own copy: ``job`` stays in this frame
        send=private["_json_writer"](fd, private["_read_key"](job.get("key_fd")), hashlib.sha256),
        counter=private["_line_counter"](sys.gettrace, sys.settrace, trace_gate,
                              tuple(r.rstrip(os.sep) + os.sep for r in library_roots) + ("<frozen ",),
                              _trusted_codes(globals())),
        setitimer=signal.setitimer, ITIMER_REAL=signal.ITIMER_REAL,
        decode=private["_decode"], encode_output=private["_encode_output"],
        error_text=private["_error_text"], digest_of=private["input_digest"],
        sha256=hashlib.sha256, tobytes=np.ndarray.tobytes, np=np,
        load_npz=np.load, BytesIO=io.BytesIO, fdopen=os.fdopen, exit=os._exit,
        others_cpu=private["_other_threads_cpu"], listdir=os.listdir,
        read_first_line=private["_read_first_line"], native_id=_thread.get_native_id,
        process_time=time.process_time, thread_time=time.thread_time,
        probe=private["_threads_started_probe"],
        probe_args=(_thread.start_new_thread, _thread.allocate_lock, _thread.get_native_id,
                    _thread._count, time.sleep),
        own_pid_namespace=bool(job.get("own_pid_namespace")),
        Timeout=CellTimeout, forbidden_log=forbidden_log, refused_log=refused_log,
        recorder=recorder, to_tensor=to_tensor,
        Tensor=torch.Tensor if mode == "torch" else None, all_tensors=private["_all_tensors"],
    )
    calls = (private["_run_calls"], (kit, inputs_fd))
    _install_audit_hook(box, set(forbidden), forbidden_log, stub_finder=stub_finder,
                        trace_gate=trace_gate, forbidden_dirs=forbidden_dirs,
                        library_roots=library_roots, worker_file=worker_file,
                        hide_frames=mode != "torch", calls=calls)
    # Nothing the graded calls use stays in this frame, which a cell can reach (its own frame's
    # ``f_back``): the audit hook holds it and hands it over after the cells.
    del kit, calls, private, trace_gate
    audit, setitimer, ITIMER_REAL = sys.audit, signal.setitimer, signal.ITIMER_REAL
    error_text, strip_magics, Timeout = _error_text, _strip_magics, CellTimeout

    # The notebook's code runs in a module of its own, which is also ``sys.modules["__main__"]``
    # (as in a Jupyter kernel): ``import __main__`` reaches the student's names, not the worker.
    student_main = types.ModuleType("__main__")
    namespace = student_main.__dict__
    namespace["__builtins__"] = builtins
    sys.modules["__main__"] = student_main
    sys.gettrace = lambda: None  # the line counter is not the student's to see (or reset)
    sys.stdout = sys.stderr = _Sink()

    # From here on, student code runs.  The cells' reports use their own writer.
    send = _json_writer(fd)
    skip = set(job.get("skip_cells", []))
    for index, cell in enumerate(job["cells"]):
        if index in skip:
            continue
        send(event="cell_start", cell=index)
        error = None
        try:
            code = compile(strip_magics(cell["source"]), f"<cell {cell['label']}>", "exec")
            setitimer(ITIMER_REAL, job["cell_timeout"])
            try:
                exec(code, namespace)
            finally:
                setitimer(ITIMER_REAL, 0)
        except Timeout:
            error = f"timed out after {job['cell_timeout']:g} s"
        except BaseException as exc:  # noqa: BLE001 - SystemExit and friends are student errors too
            error = error_text(exc)
        send(event="cell_done", cell=index, error=error)
    # "cells_done" is sent by the graded calls' own writer, with the key: a cell cannot fake it.
    audit("autograder.calls", namespace)  # runs the graded calls (see _install_audit_hook)
    os._exit(3)  # not reached unless a cell took the calls: they have run already


def _run_calls(kit, inputs_fd, namespace):
    """The graded calls, run inside the audit hook (see :func:`_install_audit_hook`) with the
    references ``kit`` bound before any student code ran.  Ends the process."""
    job, send, np = kit["job"], kit["send"], kit["np"]
    counter_start, counter_stop = kit["counter"]
    setitimer, ITIMER_REAL, Timeout = kit["setitimer"], kit["ITIMER_REAL"], kit["Timeout"]
    decode, encode_output, error_text = kit["decode"], kit["encode_output"], kit["error_text"]
    digest_of, sha256, tobytes = kit["digest_of"], kit["sha256"], kit["tobytes"]
    probe, probe_args = kit["probe"], kit["probe_args"]
    others_cpu, listdir, read_first_line = kit["others_cpu"], kit["listdir"], kit["read_first_line"]
    own_tid = str(kit["native_id"]())
    process_time, thread_time = kit["process_time"], kit["thread_time"]
    own_pid_namespace, to_tensor = kit["own_pid_namespace"], kit["to_tensor"]
    forbidden_log, refused_log, recorder = kit["forbidden_log"], kit["refused_log"], kit["recorder"]
    _callable, _sorted, _set, _bool, _tuple = callable, sorted, set, bool, tuple
    _isinstance, _all_tensors = isinstance, kit["all_tensors"]
    get = dict.get

    send(event="cells_done")
    with kit["fdopen"](inputs_fd, "rb") as channel:
        payload = channel.read()
    arrays = dict(kit["load_npz"](kit["BytesIO"](payload), allow_pickle=False)) if payload else {}

    for task in job["tasks"]:
        name = task["function"]
        function = get(namespace, name)
        failed = False
        for case_index, case in enumerate(task["cases"]):
            send(event="call_start", task=name, case=case_index)
            message = {"event": "call_done", "task": name, "case": case_index,
                       "npy": None, "error": None, "forbidden": None, "inputs": None}
            if not _callable(function):
                message["error"] = "not defined"
                send(**message)
                break
            if failed:
                break  # one failing case fails the task; do not spend time on the rest
            del forbidden_log[:]
            del refused_log[:]
            mode_ctx = recorder.mode_class() if recorder else None
            if recorder:
                recorder.ops.clear()
            record = []
            try:
                args = decode(case["args"], arrays, to_tensor, record)
                kwargs = decode(case["kwargs"], arrays, to_tensor, record)
                record = _tuple(record)  # (a list could be refilled with pristine copies)
                counting = _bool(case.get("count_lines")) and task.get("max_python_lines", 0) > 0
                if counting:
                    # Another thread is not traced.  A notebook's threads may live on (tqdm's
                    # monitor does) but must not work during the call: the kernel's CPU clocks
                    # tell the process's time from this thread's.
                    first_id = probe(*probe_args) if own_pid_namespace else None
                    skip_tid = str(first_id)
                    others_before = others_cpu(listdir, read_first_line, own_tid)
                    cpu_start, own_start = process_time(), thread_time()
                    state = counter_start()
                setitimer(ITIMER_REAL, task["call_timeout"])
                try:
                    if mode_ctx is not None:
                        with mode_ctx:
                            result = function(*args, **kwargs)
                    else:
                        result = function(*args, **kwargs)
                    if task.get("tensor_output") and not _all_tensors(result, kit["Tensor"], _isinstance):
                        raise TypeError(f"it returned {type(result).__name__}, not a torch.Tensor: "
                                        f"return a tensor (on the inputs' device, no .numpy())")
                    # Still counted: an object whose __array__ loops is the student's loop too.
                    encoded = encode_output(result, np, task.get("tuple_output", False))
                finally:
                    setitimer(ITIMER_REAL, 0)
                    if counting:
                        lines, intact = counter_stop(state)
                if counting:
                    others_after = others_cpu(listdir, read_first_line, own_tid)
                    others = sum(ns - get(others_before, tid, 0) for tid, ns in others_after.items()
                                 if tid != skip_tid) / 1e9
                    if any(tid not in others_after and tid != skip_tid for tid in others_before):
                        # A thread ended during the call: its time is gone from /proc, but not
                        # from the process's clock (coarse: a scheduler tick, so 10 ms of slack).
                        own = thread_time() - own_start
                        others = max(others, process_time() - cpu_start - own - 0.010)
                    second_id = probe(*probe_args) if own_pid_namespace else -1
                    started = first_id is not None and first_id >= 0 and second_id >= 0 and second_id != first_id + 1
                    # A notebook thread that merely lives on (spinning, even) shares the CPU
                    # with the call; one that does the call's work uses far more than it.
                    own = thread_time() - own_start
                    if not intact or started or others > 0.025 + 2 * own:
                        raise ValueError(
                            "the call " + ("started a thread" if started else
                                           "switched off the counting of its Python lines"
                                           if not intact else
                                           f"let another thread work ({others * 1e3:.1f} ms of CPU)")
                            + ": a task with a line budget must run in the calling thread, traced")
                    if lines > task["max_python_lines"]:
                        raise ValueError(
                            f"it ran {lines} lines of Python for one call (limit "
                            f"{task['max_python_lines']}): use array operations instead of a "
                            f"Python loop over the output")
                message["npy"] = encoded
            except Timeout:
                message["error"] = f"timed out after {task['call_timeout']:g} s"
            except BaseException as exc:  # noqa: BLE001
                message["error"] = error_text(exc)
            # The grader compares these with its own copy of the inputs: whether the call
            # modified one is decided there, not here.
            message["inputs"] = [digest_of(array, sha256, tobytes) for _, array in record]
            if forbidden_log:
                message["forbidden"] = _sorted(_set(forbidden_log))
            elif recorder is not None:
                used = recorder.ops & _set(task.get("forbidden_ops", ()))
                used = _sorted({f"torch operator {op}" for op in used} | _set(refused_log))
                if used:
                    message["forbidden"] = used
            failed = message["error"] is not None or message["forbidden"] is not None
            send(**message)
    send(event="done")
    kit["exit"](0)


if __name__ == "__main__":
    main()
