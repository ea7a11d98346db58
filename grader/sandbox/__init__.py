"""The one place student code runs: a child process spoken to in plain numbers.

The parent starts `child.py` in a fresh session, sends it the submission and
reads back JSON lines. Everything it reads is untrusted: replies are size-capped
and validated by `grader.probe`; student output is capped and kept apart.
"""
import json
import os
import re
import select
import shutil
import signal

import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from .spawn import Fresh, Zygote  # noqa: F401  (Zygote: for batch grading)

MAX_REPLY = 8 << 20  # bytes in one reply line
PROGRESS = re.compile(rb'\{"progress": (\d{1,9}), "n": (\d{1,12})\}')


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


class SandboxUnavailable(Exception):
    """The sandbox itself could not start: a fault of the machine, not the student."""


class SandboxError(Exception):
    """Student code failed in a way that costs the check in progress."""

    def __init__(self, message, where=""):
        super().__init__(message)
        self.message = message
        self.where = where


class Sandbox:
    """Runs one submission: a loader process, and a check child forked from it.

    The check child is reused from check to check and forked again only after
    it dies, so a crash, hang or exit costs just the check in progress."""

    def __init__(self, loaded, limits=None, allow=None, spawner=None):
        self.loaded = loaded
        self.limits = limits or Limits()
        self.spawner = spawner or Fresh(allow)
        self.report = None  # the first load report
        self.isolation = {}
        self.output = bytearray()  # what the student's code printed while loading
        self.output_dropped = 0
        self._child = None
        self._checker = False  # a check child is alive and waiting
        self._buf = b""
        self._n = 0  # requests sent; replies echo the number
        self._loading = False

    def __enter__(self):
        self.deadline = time.monotonic() + self.limits.submission_timeout
        self.scratch = Path(tempfile.mkdtemp(prefix="bpgrade-", dir=self.spawner.root))
        self.loaded.copy_to(self.scratch)
        self.plan = self.spawner.plan(self.scratch)
        return self

    def __exit__(self, *exc):
        self._kill()
        shutil.rmtree(self.scratch, ignore_errors=True)

    # -- lifecycle ----------------------------------------------------------

    def start(self):
        """Start the loader and load the submission; returns the load report."""
        if self._child is not None:
            return self.report
        try:
            self._child = self.spawner.start(self.plan, self.scratch)
        except OSError as exc:
            raise SandboxUnavailable("the sandbox could not start (%s)" % exc) from None
        self._buf = b""
        config = dict(self.loaded.config(), limits=asdict(self.limits), isolation=self.plan.child)
        self._loading = self.report is None
        self._send(config)
        try:  # no student code has run yet: a failure here is the machine's
            confined = self._receive(self.limits.load_timeout, "starting the sandbox")
        except SandboxError as exc:
            raise SandboxUnavailable("%s; its output: %s" % (
                exc.message, bytes(self.output[-2000:]).decode("utf-8", "replace"))) from None
        if not isinstance(confined.get("confined"), list):
            self._kill()
            raise SandboxUnavailable("the sandbox did not start")
        confined = confined["confined"]
        layers = [str(layer)[:40] for layer in confined[:10]]
        if self.plan.in_bwrap:
            layers.append("bubblewrap")
        self.isolation = {"tier": self.plan.tier(layers), "layers": layers}
        report = self._receive(self.limits.load_timeout, "loading the submission")
        self._drain_log()  # the loader flushed its output before it reported
        self._loading = False
        if not report.get("ready"):
            self._kill()
            raise SandboxError("the submission did not load")
        if self.report is None:
            self.report = report
        return self.report

    @contextmanager
    def check(self):
        """A session for one check, with a fresh CPU budget and no old objects."""
        self.start()
        if self._checker:
            self._send({"op": "check"})
            reply = self._receive(self.limits.call_timeout, "starting the check")
            self._checker = "ended" not in reply
        if not self._checker:
            self._send({"op": "fork"})
            reply = self._receive(self.limits.call_timeout, "starting the check")
            if "ended" in reply:
                raise SandboxError(ended_message(reply, "starting the check"))
            self._checker = True
        yield Session(self)

    # -- plumbing -----------------------------------------------------------

    def _send(self, obj):
        self._n += 1
        obj = dict(obj, n=self._n)
        try:
            data = (json.dumps(obj) + "\n").encode()
            while data:
                data = data[os.write(self._child.to, data):]
        except (BrokenPipeError, OSError):
            self._kill()
            raise SandboxError("the submission's process has exited")

    def _receive(self, timeout, doing):
        """The reply to the last request (or news that the check child died)."""
        while True:
            reply = self._read_line(timeout, doing)
            if reply.get("n") in (None, self._n):
                return reply

    def _read_line(self, timeout, doing):
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
            ready, _, _ = select.select([self._child.frm, self._child.log], [], [], wait)
            if self._child.log in ready:
                self._drain_log()
            if self._child.frm in ready:
                chunk = os.read(self._child.frm, 1 << 16)
                if not chunk:
                    status = self._kill(grace=1.0)
                    raise SandboxError(exit_message(status, doing))
                self._buf += chunk
                if len(self._buf) > MAX_REPLY:
                    self._kill()
                    raise SandboxError("%s produced an answer larger than %d MB"
                                       % (doing, MAX_REPLY >> 20))
        line, self._buf = self._buf.split(b"\n", 1)
        progress = PROGRESS.fullmatch(line)  # most lines: parsed without json
        if progress:
            return {"progress": int(progress.group(1)), "n": int(progress.group(2))}
        try:
            reply = json.loads(line)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            self._kill()
            raise SandboxError("%s gave an answer the grader could not read" % doing)
        return reply

    def _drain_log(self):
        while select.select([self._child.log], [], [], 0)[0]:
            chunk = os.read(self._child.log, 1 << 16)
            if not chunk:
                return
            if not self._loading:
                continue  # printed during checks: never shown (it could reveal hidden inputs)
            room = self.limits.output_kb * 1024 - len(self.output)
            self.output += chunk[:max(room, 0)]
            self.output_dropped += max(len(chunk) - max(room, 0), 0)

    def _kill(self, grace=0.0):
        """Kill the loader with everything it started; return its exit code.
        `grace`: seconds to let a process that is ending anyway report its status."""
        child, self._child, self._checker = self._child, None, False
        return child.kill(grace) if child is not None else None


class Session:
    """One check's conversation with a forked child."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.log = []  # (gate, method, args, raw answer) in call order, for diagnosis

    def request(self, msg, doing, steps=()):
        """Send one request; `steps` names each call of a batch, for messages."""
        box = self.sandbox
        box._send(msg)
        while True:
            reply = box._receive(box.limits.call_timeout, doing)
            if "ended" in reply:
                box._checker = False
                raise SandboxError(ended_message(reply, doing))
            done = reply.get("progress")
            if done is None:
                return reply
            if isinstance(done, int) and 0 <= done < len(steps):
                doing = steps[done]  # the next call has this long to return


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
