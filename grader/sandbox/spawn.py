"""Ways to start a submission's loader process.

`Fresh` starts a new interpreter per submission (simple; ~0.2 s of start-up).
`Zygote` keeps one warm, confined interpreter that has imported NumPy and
IPython, and forks a loader per submission (milliseconds). Either way the
loader confines itself from its config before any student code runs.
"""
import atexit
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

from .isolation import Plan


def child_env(home):
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(home),
            "LANG": "C.UTF-8", "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class Child:
    """A running loader: its pipes, and how to kill it with all it started."""

    def __init__(self, to, frm, log, kill):
        self.to, self.frm, self.log, self._kill = to, frm, log, kill

    def kill(self, grace=0.0, status=True):
        """Kill the loader's process group; with `status`, return its exit code
        (-N for signal N), else don't wait for it to go."""
        status = self._kill(grace, status)
        for fd in (self.to, self.frm, self.log):
            try:
                os.close(fd)
            except OSError:
                pass
        return status


def pipes():
    r_in, w_in = os.pipe()
    r_out, w_out = os.pipe()
    log_r, log_w = os.pipe()
    return (r_in, w_out, log_w), (w_in, r_out, log_r)


class Fresh:
    root = None  # scratch folders go in the system's temporary folder

    def __init__(self, allow=None):
        self.allow = allow

    def plan(self, scratch):
        return Plan(scratch, self.allow)

    def start(self, plan, scratch, progress=None):
        (r_in, w_out, log_w), (w_in, r_out, log_r) = pipes()
        extra = () if progress is None else (progress,)
        proc = subprocess.Popen(
            plan.argv([str(fd) for fd in (r_in, w_out) + extra]), pass_fds=(r_in, w_out) + extra,
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
        return Child(w_in, r_out, log_r, kill)

    def close(self):
        pass


class Zygote:
    """A warm fork server, started once per grading process."""

    def __init__(self, allow=None):
        self.allow = allow
        self.root = Path(tempfile.mkdtemp(prefix="bpgrade-zygote-"))
        os.chmod(self.root, 0o711)
        self.outer = Plan(self.root, allow, server=True)
        self._proc = None
        atexit.register(self.close)

    def plan(self, scratch):
        return Plan(scratch, self.allow, outer=self.outer)

    def _ensure(self):
        if self._proc is not None and self._proc.poll() is None:
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._proc = subprocess.Popen(
            self.outer.argv(["--zygote", str(theirs.fileno())]), pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            cwd=self.root, env=child_env(self.root), start_new_session=True)
        theirs.close()
        self.sock = ours

    def _ask(self, msg, fds=()):
        socket.send_fds(self.sock, [json.dumps(msg).encode()], list(fds))
        if not select.select([self.sock], [], [], 30)[0]:
            raise OSError("the fork server did not answer")
        reply = self.sock.recv(1 << 16)
        if not reply:
            raise OSError("the fork server exited")
        return json.loads(reply)

    def start(self, plan, scratch, progress=None):
        theirs, ours = pipes()
        try:
            self._ensure()
            fds = theirs + (() if progress is None else (progress,))
            pid = self._ask({"op": "spawn", "dir": str(scratch)}, fds)["pid"]
        except OSError:
            self.close_server()  # start again from a fresh server next time
            raise
        finally:
            for fd in theirs:
                os.close(fd)

        def kill(grace, status):  # the server reports a loader that already ended as it was
            try:
                if not status:
                    socket.send_fds(self.sock, [json.dumps(
                        {"op": "kill", "pid": pid, "reply": False}).encode()], [])
                    plan.kill_leftovers()
                    return None
                status = self._ask({"op": "kill", "pid": pid})["status"]
            except (OSError, ValueError, KeyError):
                # the server is gone (or talking nonsense): kill the loader's group
                # ourselves; inside bubblewrap the namespace died with the server
                self.close_server()
                if not plan.in_bwrap:
                    try:
                        os.killpg(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                status = None
            plan.kill_leftovers()
            return None if status is None else os.waitstatus_to_exitcode(status)
        return Child(*ours, kill)

    def close_server(self):
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
            self.sock.close()

    def close(self):
        self.close_server()
        shutil.rmtree(self.root, ignore_errors=True)
