"""The one place student code runs: a child process spoken to in plain numbers.

The parent starts `child.py` in a fresh session, sends it the submission and
reads back JSON lines. Everything it reads is untrusted: replies are size-capped
and validated by `grader.probe`; student output is capped and kept apart.
"""
import json
import os
import select
import shutil
import signal
import subprocess

import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from .isolation import Plan

MAX_REPLY = 8 << 20  # bytes in one reply line


@dataclass
class Limits:
    call_timeout: float = 5.0
    load_timeout: float = 30.0
    submission_timeout: float = 60.0
    cpu_seconds: int = 10
    load_cpu_seconds: int = 30
    memory_mb: int = 1024
    file_size_mb: int = 16
    open_files: int = 64
    output_kb: int = 64


class SandboxError(Exception):
    """Student code failed in a way that costs the check in progress."""

    def __init__(self, message, where=""):
        super().__init__(message)
        self.message = message
        self.where = where


class Sandbox:
    """Runs one submission; `check()` gives each check a fresh forked child."""

    def __init__(self, loaded, limits=None, allow=None):
        self.loaded = loaded
        self.limits = limits or Limits()
        self.allow = allow  # isolation layers to use; None means all available
        self.isolation = {}
        self.report = None  # the first load report
        self.output = bytearray()  # what the student's code printed while loading
        self.output_dropped = 0
        self._proc = None
        self._buf = b""
        self._loading = False

    def __enter__(self):
        self.deadline = time.monotonic() + self.limits.submission_timeout
        self.scratch = Path(tempfile.mkdtemp(prefix="bpgrade-"))
        self.loaded.copy_to(self.scratch)
        self.plan = Plan(self.scratch, self.allow)
        return self

    def __exit__(self, *exc):
        self._kill()
        shutil.rmtree(self.scratch, ignore_errors=True)

    # -- lifecycle ----------------------------------------------------------

    def start(self):
        """Start the child and load the submission; returns the load report."""
        if self._proc is not None:
            return self.report
        r_in, w_in = os.pipe()
        r_out, w_out = os.pipe()
        log_r, log_w = os.pipe()
        self._proc = subprocess.Popen(
            self.plan.argv([str(r_in), str(w_out)]),
            pass_fds=(r_in, w_out), stdin=subprocess.DEVNULL, stdout=log_w,
            stderr=log_w, cwd=self.scratch, env=self._env(), start_new_session=True)
        for fd in (r_in, w_out, log_w):
            os.close(fd)
        self._to, self._from, self._log = w_in, r_out, log_r
        self._buf = b""
        config = dict(self.loaded.config(), limits=asdict(self.limits), isolation=self.plan.child)
        self._loading = self.report is None
        self._send(config)
        confined = self._receive(self.limits.load_timeout, "starting the sandbox").get("confined")
        if not isinstance(confined, list):
            self._kill()
            raise SandboxError("the sandbox did not start")
        layers = [str(l)[:40] for l in confined[:10]]
        self.isolation = {"tier": self.plan.tier(layers), "layers": layers + (["bubblewrap"] if self.plan.bwrap else [])}
        report = self._receive(self.limits.load_timeout, "loading the submission")
        self._loading = False
        if not report.get("ready"):
            self._kill()
            raise SandboxError("the submission did not load")
        if self.report is None:
            self.report = report
        return self.report

    @contextmanager
    def check(self):
        """A fresh child forked from the loaded submission, for one check."""
        self.start()
        self._send({"op": "fork"})
        reply = self._receive(self.limits.call_timeout, "starting the check")
        if "ended" in reply:
            raise SandboxError(ended_message(reply, "starting the check"))
        session = Session(self)
        try:
            yield session
        finally:
            if self._proc is not None and not session.ended:
                try:
                    self._send({"op": "end"})
                    self._receive(self.limits.call_timeout, "ending the check")
                except SandboxError:
                    self._kill()

    # -- plumbing -----------------------------------------------------------

    def _env(self):
        return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.scratch),
                "TMPDIR": str(self.scratch), "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
                "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

    def _send(self, obj):
        try:
            data = (json.dumps(obj) + "\n").encode()
            while data:
                data = data[os.write(self._to, data):]
        except (BrokenPipeError, OSError):
            self._kill()
            raise SandboxError("the submission's process has exited")

    def _receive(self, timeout, doing):
        """Read one reply line, draining student output meanwhile; fail closed."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self._kill()
            raise SandboxError("the time for grading this submission (%g s) ran out"
                               % self.limits.submission_timeout)
        end = time.monotonic() + min(timeout, remaining)
        while b"\n" not in self._buf:
            wait = end - time.monotonic()
            if wait <= 0:
                self._kill()
                if timeout > remaining:
                    raise SandboxError("the time for grading this submission (%g s) ran out"
                                       % self.limits.submission_timeout)
                verb = "did not finish" if " " in doing else "did not return"
                raise SandboxError("%s %s within %g s" % (doing, verb, timeout))
            ready, _, _ = select.select([self._from, self._log], [], [], wait)
            if self._log in ready:
                self._drain_log()
            if self._from in ready:
                chunk = os.read(self._from, 1 << 16)
                if not chunk:
                    status = self._kill()
                    raise SandboxError(exit_message(status, doing))
                self._buf += chunk
                if len(self._buf) > MAX_REPLY:
                    self._kill()
                    raise SandboxError("%s produced an answer larger than %d MB"
                                       % (doing, MAX_REPLY >> 20))
        line, self._buf = self._buf.split(b"\n", 1)
        self._drain_log()
        try:
            reply = json.loads(line)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            self._kill()
            raise SandboxError("%s gave an answer the grader could not read" % doing)
        return reply

    def _drain_log(self):
        while select.select([self._log], [], [], 0)[0]:
            chunk = os.read(self._log, 1 << 16)
            if not chunk:
                return
            if not self._loading:
                self.output_dropped += len(chunk)
                continue
            room = self.limits.output_kb * 1024 - len(self.output)
            self.output += chunk[:max(room, 0)]
            self.output_dropped += max(len(chunk) - max(room, 0), 0)

    def _kill(self):
        """Kill the child's whole process group; return its wait status."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        status = proc.wait()
        self.plan.kill_leftovers()
        for fd in (self._to, self._from, self._log):
            try:
                os.close(fd)
            except OSError:
                pass
        return status


class Session:
    """One check's conversation with a forked child."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.ended = False

    def request(self, msg, doing):
        box = self.sandbox
        box._send(msg)
        reply = box._receive(box.limits.call_timeout, doing)
        if "ended" in reply:
            self.ended = True
            raise SandboxError(ended_message(reply, doing))
        return reply


def ended_message(reply, doing):
    signum = reply.get("signal")
    if signum is not None:
        return signal_message(signum, doing)
    return "%s ended the process (exit code %s)" % (doing, reply.get("code"))


def exit_message(status, doing):
    if status is not None and status < 0:
        return signal_message(-status, doing)
    return "%s ended the process (exit code %s)" % (doing, status)


def signal_message(signum, doing):
    if signum == signal.SIGXCPU:
        return "%s used up its CPU time" % doing
    if signum == signal.SIGXFSZ:
        return "%s wrote a file larger than allowed" % doing
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = "signal %d" % signum
    return "%s crashed the process (%s)" % (doing, name)
