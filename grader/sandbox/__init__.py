"""The one place student code runs: a child process spoken to in plain numbers.

The parent starts `child.py` in a fresh session, sends it the submission and
reads back JSON lines. Everything it reads is untrusted: replies are size-capped
and validated by `grader.probe`; student output is capped and kept apart.
"""
import mmap
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
from ..tempdirs import temp_dir
from .wire import dumps, loads

MAX_REPLY = 8 << 20  # bytes in one reply line
# A load or call still running after this share of its time limit is moved to the
# lowest CPU priority: a `while True` then waits out its timeout on CPU nobody else
# wants, not the batch's. Honest gate calls take microseconds.
PATIENCE = {"load": 0.5, "call": 0.1}
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
    """Runs one submission in a child process that loads it and answers the checks.

    If the child dies (a crash, hang or exit), the next check loads the
    submission again in a new one, so that costs just the check in progress."""

    def __init__(self, loaded, limits=None, allow=None, spawner=None, on_slow=None):
        self.loaded = loaded
        self.on_slow = on_slow  # called when a load or call is found slow (see PATIENCE)
        self.limits = limits or Limits()
        self.spawner = spawner or Fresh(allow)
        self.report = None  # the first load report
        self.isolation = {}
        self.output = bytearray()  # what the student's code printed while loading
        self.output_dropped = 0
        self._child = None
        self._progress = None  # a page the child counts the calls it has done in
        self._buf = b""
        self._n = 0  # requests sent; replies echo the number
        self._loading = False

    def __enter__(self):
        self.deadline = time.monotonic() + self.limits.submission_timeout
        self.scratch = Path(tempfile.mkdtemp(prefix="bpgrade-", dir=self.spawner.root)) \
            if self.spawner.root else temp_dir()
        self.loaded.copy_to(self.scratch)
        self.plan = self.spawner.plan(self.scratch)
        self._progress = progress_page()
        return self

    def __exit__(self, *exc):
        self._kill()
        if self._progress is not None:
            fd, view = self._progress
            page = view.obj
            view.release()
            page.close()
            os.close(fd)
        shutil.rmtree(self.scratch, ignore_errors=True)

    # -- lifecycle ----------------------------------------------------------

    def start(self):
        """Start the loader and load the submission; returns the load report."""
        if self._child is not None:
            return self.report
        try:
            self._child = self.spawner.start(self.plan, self.scratch,
                                             self._progress[0] if self._progress else None)
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
        report = self._receive(self.limits.load_timeout, "loading the submission",
                               patience=PATIENCE["load"])
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
        """A session for one check, with a fresh CPU budget and no old objects
        (in a new child, loaded again, if the last one died)."""
        self.start()
        yield Session(self)

    # -- plumbing -----------------------------------------------------------

    def _send(self, obj):
        self._n += 1
        obj = dict(obj, n=self._n)
        try:
            data = dumps(obj)
            while data:
                data = data[os.write(self._child.to, data):]
        except (BrokenPipeError, OSError):
            self._kill()
            raise SandboxError("the submission's process has exited")

    def _receive(self, timeout, doing, steps=(), patience=None):
        """The reply to the last request. `steps` names the calls of a batch:
        each has `timeout` to return, counted from when the one before it did.
        After `patience` * timeout on one step, the child gets the lowest priority."""
        while True:
            reply = self._read_line(timeout, doing, steps, patience)
            if reply.get("n") in (None, self._n):
                return reply

    def _done(self):
        """How many calls of the current batch the child says it has done."""
        return self._progress[1][0] if self._progress is not None else None

    def _read_line(self, timeout, doing, steps=(), patience=None):
        """Read one reply line, draining student output meanwhile; fail closed."""
        if time.monotonic() >= self.deadline:
            self._kill()
            raise SandboxError("the time for grading this submission (%g s) ran out"
                               % self.limits.submission_timeout)
        watch = bool(steps) and self._progress is not None
        end, done = min(time.monotonic() + timeout, self.deadline), self._done()
        lower_at = time.monotonic() + timeout * patience if patience else None
        while b"\n" not in self._buf:
            now = time.monotonic()
            if watch and self._done() != done:  # a call returned: the next has its own time
                end, done = min(now + timeout, self.deadline), self._done()
                if lower_at is not None:
                    lower_at = now + timeout * patience
            if lower_at is not None and now >= lower_at:
                self._child.lower_priority()
                lower_at = None
                if self.on_slow is not None:
                    self.on_slow()
            if now >= end:
                self._kill()
                if end >= self.deadline:
                    raise SandboxError("the time for grading this submission (%g s) ran out"
                                       % self.limits.submission_timeout)
                doing = self._step(doing, steps)
                verb = "did not finish" if " " in doing else "did not return"
                raise SandboxError("%s %s within %g s" % (doing, verb, timeout))
            wait = min(end - now, timeout / 10) if watch else end - now
            if lower_at is not None:
                wait = max(0.0, min(wait, lower_at - now))
            ready, _, _ = select.select([self._child.frm, self._child.log], [], [], wait)
            if self._child.log in ready:
                self._drain_log()
            if self._child.frm in ready:
                chunk = os.read(self._child.frm, 1 << 16)
                if not chunk:
                    doing = self._step(doing, steps)
                    status = self._kill(grace=1.0, status=True)
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
            reply = loads(line)
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

    def _step(self, doing, steps):
        """The call of a batch that is running: the one after those done."""
        done = self._done()
        return steps[done] if steps and done is not None and 0 <= done < len(steps) else doing

    def _kill(self, grace=0.0, status=False):
        """Kill the child with everything it started; with `status`, return its
        exit code, waiting up to `grace` seconds for one that is ending anyway."""
        child, self._child = self._child, None
        return child.kill(grace, status) if child is not None else None


def progress_page():
    """(fd, counter): a page shared with the child, or None where there is none."""
    try:
        fd = os.memfd_create("bpgrade-progress", os.MFD_CLOEXEC)
    except (AttributeError, OSError):
        return None
    os.ftruncate(fd, mmap.PAGESIZE)
    return fd, memoryview(mmap.mmap(fd, 8)).cast("q")


class Session:
    """One check's conversation with the child."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.gates = 0  # gates of this check so far: the next one's id is gates + 1
        self.to_make = []  # gates not made in the child yet
        self.started = False  # the first request starts the check in the child
        self.log = []  # (gate, method, args, raw answer) in call order, for diagnosis

    def request(self, msg, doing, steps=()):
        """Send one request; `steps` names each call of a batch, for messages."""
        box = self.sandbox
        if box._progress is not None:
            box._progress[1][0] = 0
        if not self.started:
            msg, self.started = dict(msg, check=True), True
        box._send(msg)
        while True:
            reply = box._receive(box.limits.call_timeout, doing, steps, PATIENCE["call"])
            done = reply.get("progress")  # a child without the shared page
            if done is None:
                return reply
            if isinstance(done, int) and 0 <= done < len(steps):
                doing = steps[done]  # the next call has this long to return


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
