"""Confinement applied inside the child before any student code runs.

Standalone like child.py: it imports nothing from the grader. The parent
decides what to apply (`config["isolation"]`); each layer reports whether it
took hold, and the parent records what really ran.

Layers: rlimits; a different uid (root only); Landlock (files: read the Python
installation minus the grader, write only the scratch folder); seccomp (no
sockets, exec, kill, ptrace, new sessions; per check also no fork). The audit
hook only turns refusals into friendly messages: it is not a defence.
"""
from __future__ import annotations

import ctypes
import errno
import os
import resource
import sys

MiB = 1 << 20


def _set(which, soft, hard=None):
    try:
        resource.setrlimit(which, (soft, soft if hard is None else hard))
    except (ValueError, OSError):
        pass  # not supported here (e.g. RLIMIT_AS on macOS)


LOWEST = 19  # the nice value of a loader that spins


def lower_priority(pid: int) -> None:
    """Give process `pid`, its process group and its session the lowest CPU
    priority. With autogroup scheduling (Linux's default for desktops and many
    servers) each session is scheduled as a group and its nice value, not the
    process's, sets its share. Used by the grader on a fresh child and by the
    fork server on a loader."""
    try:
        os.setpriority(os.PRIO_PGRP, pid, LOWEST)
    except OSError:  # the process is gone
        pass
    try:
        with open("/proc/%d/autogroup" % pid, "w") as f:
            f.write(str(LOWEST))
    except OSError:  # no autogroups (other kernels and systems)
        pass


def _virtual_size():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def confine(config: dict) -> list[str]:
    """Apply every layer the parent asked for; return what took hold."""
    limits, wanted = config["limits"], config.get("isolation", {})
    _set(resource.RLIMIT_CORE, 0)
    _set(resource.RLIMIT_FSIZE, limits["file_size_mb"] * MiB)
    _set(resource.RLIMIT_NOFILE, limits["open_files"])
    # the hard limit caps the whole submission (a process may raise its soft limit
    # up to it); the soft one gives the load, then each check, a budget of its own
    _set(resource.RLIMIT_CPU, limits["load_cpu_seconds"],
         limits["load_cpu_seconds"] + int(limits["submission_timeout"]))
    if limits["memory_mb"]:
        _set(resource.RLIMIT_AS, _virtual_size() + limits["memory_mb"] * MiB)
    layers = ["child process", "rlimits"]
    if wanted.get("uid") is not None:
        os.setgroups([])
        os.setgid(wanted["gid"])
        os.setuid(wanted["uid"])
        layers.append("uid %d" % os.getuid())
    if wanted.get("landlock"):
        abi = landlock(wanted["landlock"], wanted.get("landlock_abi"))
        if abi:
            layers.append("landlock %d" % abi)
    if drop_capabilities():
        layers.append("no capabilities")
    if wanted.get("seccomp") and seccomp(wanted["seccomp"]):
        layers.append("seccomp")
    sys.addaudithook(_friendly)
    return layers


def limit_check(limits: dict) -> None:
    """At each check: a fresh CPU budget (under the submission's hard limit)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    soft = int(usage.ru_utime + usage.ru_stime) + 1 + limits["cpu_seconds"]
    _set(resource.RLIMIT_CPU, soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard)


def drop_capabilities() -> bool:
    """Give up every capability (root keeps its uid, not its powers). True if
    this process now has none."""
    if sys.platform != "linux":
        return False
    for cap in range(64):  # the bounding set, so nothing can come back on exec
        _libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable x 2, all empty
    return _libc.capset(ctypes.byref(header), ctypes.byref(data)) == 0


_PR_CAPBSET_DROP, _CAP_VERSION_3 = 24, 0x20080522


# ---- friendly messages (not a defence) --------------------------------------

_PROGRAM = "the submission tried to run a program, which is not allowed"
_METADATA = ("the submission tried to change a file's permissions, owner, times or attributes, "
             "which is not allowed")
_OWN_FILES = {"os.chmod", "os.utime"}


def _inside_cwd(path):
    """True for a path (or an fd, which only a file already open can give) in
    the working folder: the sandbox's scratch folder."""
    if isinstance(path, int):
        return True
    try:
        here = os.path.realpath(os.getcwd())
        return os.path.realpath(os.fsdecode(path)).startswith(here + os.sep)
    except (OSError, TypeError, ValueError):
        return False


_MESSAGES = {
    "socket.__new__": "the submission tried to open a network connection, which is not allowed",
    "socket.connect": "the submission tried to open a network connection, which is not allowed",
    "subprocess.Popen": "the submission tried to run a program, which is not allowed",
    "os.system": "the submission tried to run a program, which is not allowed",
    "os.exec": "the submission tried to run a program, which is not allowed",
    "os.posix_spawn": "the submission tried to run a program, which is not allowed",
    "os.spawn": "the submission tried to run a program, which is not allowed",
    "os.kill": "the submission tried to signal another process, which is not allowed",
    "os.killpg": "the submission tried to signal another process, which is not allowed",
    "os.chmod": _METADATA, "os.chown": _METADATA, "os.utime": _METADATA,
    "os.setxattr": _METADATA, "os.removexattr": _METADATA, "os.chflags": _METADATA,
    "os.truncate": "the submission tried to truncate a file by name, which is not allowed",
    "os.link": "the submission tried to make a hard link, which is not allowed",
}


def _friendly(event, args):
    if event in _OWN_FILES and _inside_cwd(args[0]):
        return  # its own files: the call goes ahead (and changes nothing, see IGNORED)
    if event in _MESSAGES:
        raise PermissionError(_MESSAGES[event])
    if event == "os.fork":
        raise PermissionError("the submission tried to start a process, which is not allowed")
    if event == "fcntl.fcntl" and args[1] in _SIGNAL_IO:
        raise PermissionError("the submission tried to ask for signals on a file, which is not "
                              "allowed")


# ---- Landlock ----------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_SYS_CREATE, _SYS_ADD, _SYS_RESTRICT = 444, 445, 446  # same on x86-64 and arm64
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1, 2, 4, 8
_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | (1 << 14)  # + TRUNCATE


_TCP_BIND, _TCP_CONNECT = 1, 2
_SCOPE_ABSTRACT_UNIX, _SCOPE_SIGNAL = 1, 2


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi(cap: int | None = None) -> int:
    """The kernel's Landlock ABI (0: none), at most `cap`: a test or an
    instructor can make the grader use only an older kernel's rules."""
    abi = max(_libc.syscall(_SYS_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(1)), 0)
    return abi if cap is None else min(abi, cap)


def landlock(rules: dict, cap: int | None = None) -> int:
    """rules: {"read": [paths], "list": [dirs], "write": [paths]}. Returns the
    ABI enforced, 0 if none."""
    abi = landlock_abi(cap)
    if abi < 1:
        return 0
    everything = (1 << (13 if abi == 1 else 14 if abi == 2 else 15)) - 1
    # ABI 4+: no TCP bind or connect at all (sockets made through io_uring too);
    # ABI 6+: no signals or abstract sockets outside this sandbox
    handled = _RulesetAttr(everything, _TCP_BIND | _TCP_CONNECT if abi >= 4 else 0,
                           _SCOPE_SIGNAL | _SCOPE_ABSTRACT_UNIX if abi >= 6 else 0)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    fd = _libc.syscall(_SYS_CREATE, ctypes.byref(handled), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if fd < 0:
        return 0
    try:
        for key, rights in (("list", READ_DIR), ("read", EXECUTE | READ_FILE | READ_DIR),
                            ("write", everything)):
            for path in rules.get(key, []):
                _allow(fd, path, rights)
        if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return 0
        return abi if _libc.syscall(_SYS_RESTRICT, fd, ctypes.c_uint32(0)) == 0 else 0
    finally:
        os.close(fd)


def _allow(ruleset, path, rights):
    try:
        target = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if not os.path.isdir(path):
            rights &= _FILE_RIGHTS
        rule = _PathBeneath(rights, target)
        _libc.syscall(_SYS_ADD, ruleset, 1, ctypes.byref(rule), ctypes.c_uint32(0))
    finally:
        os.close(target)


# ---- seccomp -----------------------------------------------------------------

# Denied outright (EPERM), from the first line of student code to the last.
DENY = [
    "socket", "socketpair", "execve", "execveat", "kill", "ptrace", "process_vm_readv",
    "process_vm_writev", "setsid", "setpgid", "mount", "umount2", "pivot_root", "chroot",
    "unshare", "setns", "bpf", "perf_event_open", "keyctl", "add_key", "request_key",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot",
    "swapon", "swapoff", "iopl", "ioperm", "userfaultfd", "open_by_handle_at", "acct",
    "settimeofday", "clock_settime", "sethostname", "setdomainname",
    # signals by thread or pidfd, and sockets or I/O behind io_uring's back
    "tkill", "tgkill", "pidfd_send_signal", "pidfd_open", "pidfd_getfd", "rt_sigqueueinfo",
    "rt_tgsigqueueinfo", "io_uring_setup", "io_uring_enter", "io_uring_register",
    # device files, and changing who this process is
    "mknod", "mknodat", "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid",
    "setgroups", "capset", "personality",
    # file metadata, which Landlock does not cover: owners, attributes; truncate by
    # path (Landlock handles it only from ABI 3); hard links. Modes and times: IGNORED
    "chown", "fchown", "lchown", "fchownat", "setxattr", "lsetxattr", "fsetxattr",
    "setxattrat", "removexattr", "lremovexattr", "fremovexattr", "removexattrat",
    "file_setattr", "truncate", "link", "linkat",
    # System V IPC and POSIX message queues outlive the process and are shared
    # with the host outside a namespace
    "shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semctl",
    "msgget", "msgsnd", "msgrcv", "msgctl", "ipc", "mq_open", "mq_unlink", "mq_timedsend",
    "mq_timedreceive", "mq_notify", "mq_getsetattr",
    # other processes of the same uid, and new mount APIs
    "kcmp", "process_madvise", "process_mrelease", "fanotify_init", "fsopen", "fsmount",
    "fspick", "fsconfig", "move_mount", "open_tree", "open_tree_attr", "mount_setattr",
    # no new processes (threads may start): limits stay per submission
    "fork", "vfork",
]
# Modes and times (which Landlock does not cover either) change nothing and report
# success: copying a file (shutil.copy, copystat) sets them, and IPython does, on
# files of the sandbox's own; outside it the audit hook says no first.
IGNORED = ["chmod", "fchmod", "fchmodat", "fchmodat2", "utime", "utimes", "utimensat",
           "futimesat"]
# Syscalls newer than the libseccomp a host may have; numbers shared by every
# architecture since 5.1 (asm-generic).
NEWER = {"fchmodat2": 452, "setxattrat": 463, "removexattrat": 466, "open_tree_attr": 467,
         "file_setattr": 469}
# With arguments: denied when every comparison of a rule holds.
NE, EQ, MASKED_EQ = 1, 4, 7
_F_SETOWN, _F_SETSIG, _F_SETOWN_EX, _F_SETFL = 8, 10, 15, 4
_SIGNAL_IO = (_F_SETOWN, _F_SETSIG, _F_SETOWN_EX)
O_ASYNC, O_TRUNC, O_ACCMODE = 0o20000, 0o1000, 0o3
_CLONE_THREAD = 0x00010000
_IOCTLS = {  # async I/O and its signal owner; terminal input; inode flags
    "FIOASYNC": 0x5452, "FIOSETOWN": 0x8901, "SIOCSPGRP": 0x8902, "TIOCSPGRP": 0x5410,
    "TIOCSTI": 0x5412, "FS_IOC_SETFLAGS": 0x40086602, "FS_IOC_FSSETXATTR": 0x401C5820}
DENY_IF = [
    # signal-driven I/O: the kernel would send a signal of our choosing to an
    # owner of our choosing (any process of the uid, below Landlock ABI 6)
    ("fcntl", [(1, EQ, _F_SETOWN, 0)]), ("fcntl", [(1, EQ, _F_SETSIG, 0)]),
    ("fcntl", [(1, EQ, _F_SETOWN_EX, 0)]),
    ("fcntl", [(1, EQ, _F_SETFL, 0), (2, MASKED_EQ, O_ASYNC, O_ASYNC)]),
    *[("ioctl", [(1, MASKED_EQ, 0xFFFFFFFF, req)]) for req in _IOCTLS.values()],
    # read-only opens that truncate (Landlock checks a write only for write opens)
    ("open", [(1, MASKED_EQ, O_ACCMODE | O_TRUNC, O_TRUNC)]),
    ("openat", [(2, MASKED_EQ, O_ACCMODE | O_TRUNC, O_TRUNC)]),
    # scheduling, I/O priority, memory placement and limits: this process only
    ("setpriority", [(0, NE, 0, 0)]), ("setpriority", [(1, NE, 0, 0)]),
    ("ioprio_set", [(0, NE, 1, 0)]), ("ioprio_set", [(1, NE, 0, 0)]),
    *[(name, [(0, NE, 0, 0)]) for name in (
        "sched_setscheduler", "sched_setparam", "sched_setaffinity", "sched_setattr",
        "migrate_pages", "move_pages", "prlimit64")],
    # a process, not a thread
    ("clone", [(0, MASKED_EQ, _CLONE_THREAD, 0)]),
]
# Arguments that cannot be inspected (behind a pointer): ENOSYS, so libc falls back
# to the older call that the rules above inspect.
UNREADABLE = ["clone3", "openat2"]
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


_lib = {}
_programs = {}  # library -> BPF bytes, made once in the fork server


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def prepare(path: str) -> None:
    """Build the filter once (a fork server does, for every loader it forks)."""
    program(path)


def seccomp(path: str) -> bool:
    """Make the system calls above fail. True if the filter loaded."""
    bpf = program(path)
    if not bpf:
        return False
    buf = ctypes.create_string_buffer(bpf, len(bpf))
    prog = _SockFprog(len(bpf) // 8, ctypes.cast(buf, ctypes.c_void_p))
    if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    return _libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) == 0


def program(path: str) -> bytes:
    """The filter as BPF bytes, built with libseccomp (b"" if it cannot be)."""
    if path not in _programs:
        _programs[path] = _build(path) if path else b""
    return _programs[path]


def _library(path):
    lib = _lib.get(path) or _lib.setdefault(path, ctypes.CDLL(path))
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.c_void_p]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    return lib


def _build(path):
    try:
        lib = _library(path)
    except OSError:
        return b""
    ctx = lib.seccomp_init(_ALLOW)
    if not ctx:
        return b""
    try:
        def number(name):
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            return nr if nr >= 0 else NEWER.get(name, -1)

        def add(action, name, cmps=()):
            nr = number(name)
            if nr < 0:
                return True  # not on this architecture
            args = (_ArgCmp * max(len(cmps), 1))(*[_ArgCmp(*c) for c in cmps])
            return lib.seccomp_rule_add_array(ctx, action, nr, len(cmps), args) == 0

        deny = _ERRNO | errno.EPERM
        ok = all([add(deny, name) for name in DENY] + [add(_ERRNO | 0, name) for name in IGNORED]
                 + [add(deny, name, cmps) for name, cmps in DENY_IF]
                 + [add(_ERRNO | errno.ENOSYS, name) for name in UNREADABLE])
        return _export(lib, ctx) if ok else b""
    finally:
        lib.seccomp_release(ctx)


def _export(lib, ctx):
    r, w = os.pipe()
    try:
        if lib.seccomp_export_bpf(ctx, w) != 0:
            return b""
        os.close(w)
        w = None
        data = b""
        while True:
            chunk = os.read(r, 1 << 16)
            if not chunk:
                return data
            data += chunk
    finally:
        os.close(r)
        if w is not None:
            os.close(w)
