"""Confinement applied inside the child before any student code runs.

Standalone like child.py: it imports nothing from the grader. The parent
decides what to apply (`config["isolation"]`); each layer reports whether it
took hold, and the parent records what really ran.

Layers: rlimits; a different uid (root only); Landlock (files: read the Python
installation minus the grader, write only the scratch folder); seccomp (no
sockets, exec, kill, ptrace, new sessions; per check also no fork). The audit
hook only turns refusals into friendly messages: it is not a defence.
"""
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


def lower_priority(pid):
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


def confine(config):
    """Apply every layer the parent asked for; return what took hold."""
    limits, wanted = config["limits"], config.get("isolation", {})
    _set(resource.RLIMIT_CORE, 0)
    _set(resource.RLIMIT_FSIZE, limits["file_size_mb"] * MiB)
    _set(resource.RLIMIT_NOFILE, limits["open_files"])
    _set(resource.RLIMIT_CPU, limits["load_cpu_seconds"],
         limits["load_cpu_seconds"] + int(limits["submission_timeout"]) + 5)
    if limits["memory_mb"]:
        _set(resource.RLIMIT_AS, _virtual_size() + limits["memory_mb"] * MiB)
    layers = ["child process", "rlimits"]
    if wanted.get("uid") is not None:
        os.setgroups([])
        os.setgid(wanted["gid"])
        os.setuid(wanted["uid"])
        layers.append("uid %d" % os.getuid())
    if wanted.get("landlock") and landlock(wanted["landlock"]):
        layers.append("landlock")
    if drop_capabilities():
        layers.append("no capabilities")
    if wanted.get("seccomp") and seccomp(wanted["seccomp"], "load"):
        layers.append("seccomp")
    sys.addaudithook(_friendly)
    return layers


def limit_check(limits, wanted):
    """At each check: a fresh CPU budget. The first time, also stop this
    process from starting others."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    soft = int(usage.ru_utime + usage.ru_stime) + 1 + limits["cpu_seconds"]
    _set(resource.RLIMIT_CPU, soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard)
    if not _state["checking"]:
        _state["checking"] = True
        if wanted.get("seccomp"):
            seccomp(wanted["seccomp"], "check")


def drop_capabilities():
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

_state = {"checking": False}  # the checks have started
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
}


def _friendly(event, args):
    if event in _MESSAGES:
        raise PermissionError(_MESSAGES[event])
    if event == "os.fork":
        raise PermissionError("the submission tried to start a process, which is not allowed")


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


def landlock(rules):
    """rules: {"read": [paths], "list": [dirs], "write": [paths]}. True if enforced."""
    abi = _libc.syscall(_SYS_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi < 1:
        return False
    everything = (1 << (13 if abi == 1 else 14 if abi == 2 else 15)) - 1
    # ABI 4+: no TCP bind or connect at all (sockets made through io_uring too);
    # ABI 6+: no signals or abstract sockets outside this sandbox
    handled = _RulesetAttr(everything, _TCP_BIND | _TCP_CONNECT if abi >= 4 else 0,
                           _SCOPE_SIGNAL | _SCOPE_ABSTRACT_UNIX if abi >= 6 else 0)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    fd = _libc.syscall(_SYS_CREATE, ctypes.byref(handled), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if fd < 0:
        return False
    try:
        for key, rights in (("list", READ_DIR), ("read", EXECUTE | READ_FILE | READ_DIR),
                            ("write", everything)):
            for path in rules.get(key, []):
                _allow(fd, path, rights)
        if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return False
        return _libc.syscall(_SYS_RESTRICT, fd, ctypes.c_uint32(0)) == 0
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

LOAD_DENY = [
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
]
CHECK_DENY = ["fork", "vfork"]
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000
_CLONE_THREAD, _NE, _MASKED_EQ = 0x00010000, 1, 7


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


_lib = {}
_programs = {}  # (library, filter) -> BPF bytes, made once in the fork server
_FILTERS = {"load": (LOAD_DENY, False), "check": (CHECK_DENY, True)}


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def prepare(path):
    """Build the filters once (a fork server does, for every loader it forks)."""
    for which in _FILTERS:
        program(path, which)


def seccomp(path, which):
    """Make the system calls of filter `which` ("load" or "check") fail with
    EPERM. True if the filter loaded."""
    bpf = program(path, which)
    if not bpf:
        return False
    buf = ctypes.create_string_buffer(bpf, len(bpf))
    prog = _SockFprog(len(bpf) // 8, ctypes.cast(buf, ctypes.c_void_p))
    if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    return _libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) == 0


def program(path, which):
    """The filter as BPF bytes, built with libseccomp (b"" if it cannot be)."""
    if (path, which) not in _programs:
        _programs[path, which] = _build(path, *_FILTERS[which]) if path else b""
    return _programs[path, which]


def _build(path, names, clone_threads_only):
    try:
        lib = _lib.get(path) or _lib.setdefault(path, ctypes.CDLL(path))
    except OSError:
        return b""
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.c_void_p]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    ctx = lib.seccomp_init(_ALLOW)
    if not ctx:
        return b""
    try:
        deny = _ERRNO | errno.EPERM
        for name in names:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr >= 0:
                lib.seccomp_rule_add_array(ctx, deny, nr, 0, None)
        nr = lib.seccomp_syscall_resolve_name(b"prlimit64")
        if nr >= 0:  # limits of this process only (pid 0), never another's
            cmp = _ArgCmp(0, _NE, 0, 0)
            lib.seccomp_rule_add_array(ctx, deny, nr, 1, ctypes.byref(cmp))
        if clone_threads_only:  # threads may start; processes may not
            nr = lib.seccomp_syscall_resolve_name(b"clone")
            cmp = _ArgCmp(0, _MASKED_EQ, _CLONE_THREAD, 0)
            lib.seccomp_rule_add_array(ctx, deny, nr, 1, ctypes.byref(cmp))
            nr = lib.seccomp_syscall_resolve_name(b"clone3")
            if nr >= 0:  # arguments unreadable: make libc fall back to clone
                lib.seccomp_rule_add_array(ctx, _ERRNO | errno.ENOSYS, nr, 0, None)
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
    finally:
        lib.seccomp_release(ctx)
