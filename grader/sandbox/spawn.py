"""Ways to start a submission's loader process.

`FreshInterpreter` starts a new interpreter per submission (simple; ~0.2 s of start-up).
`ForkServer` keeps one warm, confined interpreter that has imported NumPy and
IPython, and forks a loader per submission (milliseconds). Either way the
loader confines itself from its config before any student code runs.
"""
from __future__ import annotations

import atexit
import json
import mmap
import os
import select
import shutil
import signal
import socket
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from backprop_grader.sandbox.child.confine import lower_priority
from backprop_grader.tempdirs import temp_dir
from backprop_grader.sandbox.isolation import Plan


def child_env(home: Path | str) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(home),
            "LANG": "C.UTF-8", "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class Child:
    """A running loader: its pipes, how to kill it with all it started, and how
    to give it the lowest CPU priority (a loader that spins only uses idle CPU)."""

    def __init__(self, to, frm, log, kill, lower):
        self.to, self.frm, self.log, self._kill, self._lower = to, frm, log, kill, lower
        self.lowered = False

    def lower_priority(self) -> None:
        if not self.lowered:
            self.lowered = True
            self._lower()

    def kill(self, grace: float = 0.0, status: bool = True) -> int | None:
        """Kill the loader's process group; with `status`, return its exit code
        (-N for signal N), else don't wait for it to go."""
        status = self._kill(grace, status)
        for fd in (self.to, self.frm, self.log):
            try:
                os.close(fd)
            except OSError:
                pass
        return status


def progress_page() -> tuple[int, memoryview] | None:
    """(fd, counter): a page shared with the child, or None where there is none."""
    try:
        fd = os.memfd_create("bpgrade-progress", os.MFD_CLOEXEC)
    except (AttributeError, OSError):
        return None
    os.ftruncate(fd, mmap.PAGESIZE)
    return fd, memoryview(mmap.mmap(fd, 8)).cast("q")


def close_page(progress: tuple[int, memoryview] | None) -> None:
    if progress is not None:
        fd, view = progress
        page = view.obj
        view.release()
        page.close()
        os.close(fd)


def pipes() -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    r_in, w_in = os.pipe()
    r_out, w_out = os.pipe()
    log_r, log_w = os.pipe()
    return (r_in, w_out, log_w), (w_in, r_out, log_r)


class FreshInterpreter:
    root = None  # scratch folders go in the system's temporary folder

    def __init__(self, allow=None):
        self.allow = allow

    def plan(self, scratch: Path) -> Plan:
        return Plan(scratch, self.allow)

    def start(self, plan: Plan, scratch: Path, progress: int | None = None,
              notebook: bool = False) -> Child:
        """`notebook`: a hint that makes the child ready IPython before it is told
        what to load."""
        (r_in, w_out, log_w), (w_in, r_out, log_r) = pipes()
        extra = () if progress is None else (progress,)
        proc = subprocess.Popen(
            plan.argv([str(fd) for fd in (r_in, w_out) + extra] + (["--notebook"] if notebook else [])),
            pass_fds=(r_in, w_out) + extra,
            stdin=subprocess.DEVNULL,
            stdout=log_w, stderr=log_w, cwd=scratch, env=child_env(scratch), start_new_session=True)
        for fd in (r_in, w_out, log_w):
            os.close(fd)

        def kill(grace, status):
            try:
                proc.wait(timeout=grace)  # ended by itself: keep its own status
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            status = proc.wait()
            plan.kill_leftovers()
            return status

        return Child(w_in, r_out, log_r, kill, lambda: lower_priority(proc.pid))

    def take_early(self) -> Early | None:
        """The child `start_early` started, for a sandbox of default isolation."""
        return _early.pop() if _early and self.allow is None else None

    def close(self) -> None:
        pass


class Early:
    """A child started before the grader has read the submission (its scratch
    folder, plan and progress page with it): a self-check's interpreter start
    and imports overlap the grader's own. The first default sandbox takes it."""

    def __init__(self, notebook: bool):
        self.scratch = temp_dir()
        self.plan = Plan(self.scratch)
        self.progress = progress_page()
        self.child = FreshInterpreter().start(self.plan, self.scratch,
                                              self.progress[0] if self.progress else None, notebook)

    def discard(self) -> None:
        self.child.kill(0.0, status=True)
        close_page(self.progress)
        shutil.rmtree(self.scratch, ignore_errors=True)


_early: list = []


def start_early(notebook: bool = False) -> None:
    """Start one child for the grading this process is about to do (see Early);
    one nobody takes is removed at exit. Failing to start one is not an error:
    the sandbox starts its own."""
    if _early:
        return
    try:
        _early.append(Early(notebook))
    except OSError:
        return
    atexit.register(_discard_early)


def _discard_early() -> None:
    while _early:
        _early.pop().discard()


def _new_launcher():
    global _launcher
    _launcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bpgrade-launcher")


_new_launcher()
os.register_at_fork(after_in_child=_new_launcher)  # a forked process has no such thread


class ForkServer:
    """A warm fork server, started once per grading process and shared by its
    threads (a request and its reply are one at a time)."""

    def __init__(self, allow=None):
        self.allow = allow
        self._lock = threading.RLock()
        self.root = temp_dir("forkserver-")
        os.chmod(self.root, 0o711)
        self.outer = Plan(self.root, allow, server=True)
        self._proc = None
        self._started = 0  # servers started so far: a loader belongs to one of them
        atexit.register(self.close)

    def plan(self, scratch: Path) -> Plan:
        return Plan(scratch, self.allow, outer=self.outer)

    def _ensure(self):
        if self._proc is not None and self._proc.poll() is None:
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # started from a thread that lives as long as this process: bubblewrap's
        # --die-with-parent follows the thread that started it, and the thread
        # asking now may be done before the others sharing the server
        self._proc = _launcher.submit(
            subprocess.Popen, self.outer.argv(["--fork-server", str(theirs.fileno()),
                                                   self.outer.config["seccomp"] or ""]),
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, cwd=self.root, env=child_env(self.root),
            start_new_session=True).result()
        theirs.close()
        self.sock = ours
        self._started += 1

    def _ask(self, msg, fds=(), reply=True):
        with self._lock:
            if self._proc is None:
                raise OSError("the fork server is not running")
            socket.send_fds(self.sock, [json.dumps(msg).encode()], list(fds))
            if not reply:
                return None
            return self._reply()

    def _reply(self):
        if not select.select([self.sock], [], [], 30)[0]:
            raise OSError("the fork server did not answer")
        reply = self.sock.recv(1 << 16)
        if not reply:
            raise OSError("the fork server exited")
        return json.loads(reply)

    def start(self, plan: Plan, scratch: Path, progress: int | None = None) -> Child:
        theirs, ours = pipes()
        try:
            fds = theirs + (() if progress is None else (progress,))
            with self._lock:
                self._ensure()
                pid = self._ask({"op": "spawn", "dir": str(scratch)}, fds)["pid"]
                server = self._started
        except OSError:
            self.close_server()  # start again from a fresh server next time
            raise
        finally:
            for fd in theirs:
                os.close(fd)

        def kill(grace, status):  # the server reports a loader that already ended as it was
            code = None
            try:
                with self._lock:
                    if self._started != server or self._proc is None:
                        raise ProcessLookupError("its fork server is gone")
                    if status:
                        code = self._ask({"op": "kill", "pid": pid})["status"]
                    else:  # don't wait: the server reaps it later
                        self._ask({"op": "kill", "pid": pid, "reply": False}, reply=False)
            except (OSError, ValueError, KeyError) as exc:
                # the server is gone (or talking nonsense): kill the loader's group
                # ourselves; inside bubblewrap the namespace died with the server
                if not isinstance(exc, ProcessLookupError):
                    self.close_server()
                if not plan.in_bwrap:
                    try:
                        os.killpg(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                code = None
            plan.kill_leftovers()
            return None if code is None else os.waitstatus_to_exitcode(code)

        def lower():
            try:
                with self._lock:
                    if self._started == server and self._proc is not None:
                        self._ask({"op": "lower", "pid": pid}, reply=False)
            except OSError:
                pass
        return Child(*ours, kill, lower)

    def close_server(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
            self.sock.close()

    def close(self) -> None:
        self.close_server()
        shutil.rmtree(self.root, ignore_errors=True)
