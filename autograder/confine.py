"""Kernel-enforced limits the sandboxed worker puts on itself before any student code runs.

Started as ``python -I -B confine.py worker.py FD`` in the sandbox's box (the current folder).
It applies, where the kernel has them, then runs ``worker.py`` in the same process:

* **Landlock** (Linux 5.13+; raw syscalls through ctypes): reading and executing only the paths
  listed in ``confine.json`` (the interpreter's prefixes, ``/usr``, ``/proc``, ``/dev``, ...),
  writing, creating, deleting, renaming and linking only inside the box (and ``/dev/null``);
  from ABI 4 no TCP bind or connect at all; from ABI 6 no signal to a process outside the
  sandbox and no connection to an abstract UNIX socket outside it.  Landlock binds the process
  and everything it starts, and cannot be lifted: ``ctypes``, ``cffi`` and C extensions are
  bound like Python code, which is what the audit hook cannot promise.
* **seccomp** (x86-64 only: the filter names syscalls by number): ``EPERM`` for the calls graded
  code never needs and that reach past the other layers: new namespaces (``unshare``,
  ``setns``, ``clone`` with a namespace flag; ``clone3`` answers ``ENOSYS`` so the C library
  falls back to ``clone``), mounts, ``ptrace`` and ``process_vm_*``, BPF, ``perf_event_open``,
  ``userfaultfd``, ``io_uring``, keyrings, kernel modules, SysV shared memory, semaphores and
  message queues, POSIX message queues, and ``socket`` of any family (a host UNIX socket
  included; ``socketpair`` stays).

The outcome is sent to the grader first on the report channel as
``{"event": "confined", "landlock": ABI or 0, "seccomp": bool, "reason": "..."}``; where a
layer is missing (an older kernel, another architecture, no ctypes) the reason says why and the
worker runs with the other layers.  This file imports only the standard library.
"""
import json
import os
import runpy
import struct
import sys

# --- Landlock (include/uapi/linux/landlock.h) ---------------------------------------------
SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_WRITES_V1 = sum(1 << b for b in range(4, 13))  # remove dir/file, make char/dir/reg/sock/fifo/block/sym
FS_REFER, FS_TRUNCATE = 1 << 13, 1 << 14
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1
READ = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE  # all a rule on a file may hold

# --- seccomp -------------------------------------------------------------------------------
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
RET_KILL_PROCESS, RET_ERRNO, RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000
EPERM, ENOSYS = 1, 38
LD_W_ABS, JEQ_K, JGE_K, JSET_K, RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
AUDIT_ARCH_X86_64 = 0xC000003E
CLONE_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 \
    | 0x40000000 | 0x00000080  # NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWTIME
X86_64_DENIED = {  # name -> number (arch/x86/entry/syscalls/syscall_64.tbl)
    "shmget": 29, "shmat": 30, "shmctl": 31, "semget": 64, "semop": 65, "semctl": 66,
    "msgget": 68, "msgsnd": 69, "msgrcv": 70, "msgctl": 71, "ptrace": 101, "syslog": 103,
    "pivot_root": 155, "chroot": 161, "acct": 163, "mount": 165, "umount2": 166, "swapon": 167,
    "swapoff": 168, "reboot": 169, "init_module": 175, "delete_module": 176, "quotactl": 179,
    "mq_open": 240, "kexec_load": 246, "add_key": 248, "request_key": 249, "keyctl": 250,
    "unshare": 272, "perf_event_open": 298, "fanotify_init": 300, "name_to_handle_at": 303,
    "open_by_handle_at": 304, "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311,
    "finit_module": 313, "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428,
    "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "mount_setattr": 442,
    "socket": 41,  # any family: no network, no host UNIX socket (socketpair stays allowed)
}
X86_64_CLONE, X86_64_CLONE3 = 56, 435


def _insn(code, k, jt=0, jf=0):
    return struct.pack("HBBI", code, jt, jf, k)


def seccomp_program_x86_64() -> bytes:
    """The classic-BPF filter described in the module docstring, for x86-64."""
    prog = [
        _insn(LD_W_ABS, 4),  # seccomp_data.arch
        _insn(JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        _insn(RET_K, RET_KILL_PROCESS),
        _insn(LD_W_ABS, 0),  # seccomp_data.nr
        _insn(JGE_K, 0x40000000, 0, 1),  # the x32 ABI: other numbers, refuse it whole
        _insn(RET_K, RET_ERRNO | EPERM),
    ]
    for number in sorted(X86_64_DENIED.values()):
        prog += [_insn(JEQ_K, number, 0, 1), _insn(RET_K, RET_ERRNO | EPERM)]
    prog += [_insn(JEQ_K, X86_64_CLONE3, 0, 1), _insn(RET_K, RET_ERRNO | ENOSYS)]
    prog += [  # clone(flags, ...): no new namespace
        _insn(JEQ_K, X86_64_CLONE, 0, 4),
        _insn(LD_W_ABS, 16),  # args[0], low 32 bits (little-endian)
        _insn(JSET_K, CLONE_NAMESPACES, 0, 1),
        _insn(RET_K, RET_ERRNO | EPERM),
        _insn(RET_K, RET_ALLOW),
    ]
    prog.append(_insn(RET_K, RET_ALLOW))
    return b"".join(prog)


def _landlock(libc, ctypes, read_paths, box):
    """Apply the Landlock ruleset; return its ABI version, or raise OSError saying why not."""
    abi = libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, 0, CREATE_RULESET_VERSION)
    if abi < 1:
        err = ctypes.get_errno()
        raise OSError(err, f"Landlock unavailable ({os.strerror(err)})")
    handled_fs = READ | FS_WRITE_FILE | FS_WRITES_V1
    if abi >= 2:
        handled_fs |= FS_REFER
    if abi >= 3:
        handled_fs |= FS_TRUNCATE
    handled_net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    if abi >= 6:
        attr = struct.pack("QQQ", handled_fs, handled_net, scoped)
    elif abi >= 4:
        attr = struct.pack("QQ", handled_fs, handled_net)
    else:
        attr = struct.pack("Q", handled_fs)
    buf = ctypes.create_string_buffer(attr, len(attr))
    ruleset = libc.syscall(SYS_LANDLOCK_CREATE_RULESET, buf, ctypes.c_size_t(len(attr)), 0)
    if ruleset < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"landlock_create_ruleset failed ({os.strerror(err)})")
    try:
        rules = [(p, READ) for p in read_paths] + [(box, handled_fs), (os.devnull, FS_READ_FILE | FS_WRITE_FILE)]
        for path, access in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # not on this machine (e.g. no /lib32)
            try:
                if not os.path.isdir(path):
                    access &= FILE_RIGHTS
                access &= handled_fs
                rule = ctypes.create_string_buffer(struct.pack("=Qi", access, fd), 12)
                if libc.syscall(SYS_LANDLOCK_ADD_RULE, ruleset, RULE_PATH_BENEATH, rule, 0) < 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"landlock_add_rule({path}) failed ({os.strerror(err)})")
            finally:
                os.close(fd)
        if libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0) < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"landlock_restrict_self failed ({os.strerror(err)})")
    finally:
        os.close(ruleset)
    return abi


def _seccomp(libc, ctypes):
    import platform

    if platform.machine() not in ("x86_64", "AMD64"):
        raise OSError(0, f"no seccomp filter for {platform.machine()} (its syscall numbers are not tabulated)")
    code = seccomp_program_x86_64()
    filters = ctypes.create_string_buffer(code, len(code))

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = Prog(len(code) // 8, ctypes.cast(filters, ctypes.c_void_p))
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp filter refused ({os.strerror(err)})")


def confine(read_paths, box):
    """Apply both layers; return ``(landlock ABI or 0, seccomp applied, reasons)``."""
    reasons = []
    landlock, seccomp = 0, False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    except (ImportError, OSError, AttributeError) as err:
        return 0, False, [f"no ctypes/libc here ({err})"]
    try:
        landlock = _landlock(libc, ctypes, read_paths, box)
    except OSError as err:
        reasons.append(str(err.strerror or err))
    try:
        _seccomp(libc, ctypes)
        seccomp = True
    except OSError as err:
        reasons.append(str(err.strerror or err))
    return landlock, seccomp, reasons


def main():
    worker, fd = sys.argv[1], int(sys.argv[2])
    box = os.getcwd()
    try:
        with open("confine.json", encoding="utf-8") as fh:
            config = json.load(fh)
    except (OSError, ValueError):
        config = {}
    if sys.platform == "linux" and config.get("enabled", True):
        landlock, seccomp, reasons = confine(config.get("read", []), box)
    else:
        landlock, seccomp, reasons = 0, False, ["not Linux" if sys.platform != "linux" else "disabled"]
    # Leave no trace a student could use: ctypes is imported afresh (and audited) if wanted.
    for name in [m for m in sys.modules if m == "ctypes" or m.startswith("ctypes.")]:
        del sys.modules[name]
    message = {"event": "confined", "landlock": landlock, "seccomp": seccomp, "reason": "; ".join(reasons)}
    os.write(fd, (json.dumps(message) + "\n").encode())
    sys.argv = [worker, str(fd)]
    runpy.run_path(worker, run_name="__main__")


if __name__ == "__main__":
    main()
