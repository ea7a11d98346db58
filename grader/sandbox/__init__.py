"""The one place student code runs: a child process spoken to in plain numbers.

The parent starts `child.py` in a fresh session, sends it the submission and
reads back JSON lines. Everything it reads is untrusted: a reply line is
size-capped, must be plain bounded JSON (`wire.plain`) answering the request in
progress, and its answers are validated by `backprop_grader.judge.probe`; student output is
capped and kept apart; only a count of calls done that rises within the batch
restarts a call's timer; the scratch folder has a size cap.
"""
from __future__ import annotations

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
from typing import Iterator, NoReturn, Sequence

from backprop_grader.sandbox.spawn import ForkServer, FreshInterpreter, close_page, progress_page  # noqa: F401
from backprop_grader.tempdirs import temp_dir
from backprop_grader.sandbox.child.wire import dumps, loads, plain
from backprop_grader.errors import CRASH, LOAD_FAILURE, TIMEOUT, OutOfTime, SandboxError, SandboxUnavailable

MAX_REPLY = 8 << 20  # bytes in one reply line
POLL = 0.05  # seconds between looks at the progress page and the scratch folder while waiting
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
    scratch_mb: int = 100  # what the submission may add to its folder, in all
    scratch_files: int = 1000


def text(value: object, limit: int) -> str | None:
    """A string field of a reply, cut to `limit`; None when it is not a string."""
    return value[:limit] if type(value) is str else None


class Sandbox:
    """Runs one submission in a child process that loads it and answers the checks.

    If the child dies (a crash, hang or exit), the next check loads the
    submission again in a new one, so that costs just the check in progress."""

    def __init__(self, loaded, limits=None, allow=None, spawner=None, on_slow=None):
        self.loaded = loaded
        self.on_slow = on_slow  # called when a load or call is found slow (see PATIENCE)
        self.limits = limits or Limits()
        self.spawner = spawner or FreshInterpreter(allow)
        self.report = None  # the first load report
        self.isolation = {}
        self.output = bytearray()  # what the student's code printed while loading
        self.output_dropped = 0
        self._child = None
        self._progress = None  # a page the child counts the calls it has done in
        self._buf = b""
        self._n = 0  # requests sent; replies echo the number
        self._loading = False
        self._scratch_at = 0.0  # when the scratch folder is next measured while waiting
        self._early = None  # a child started before this sandbox (spawn.Early), not yet used

    def __enter__(self):
        self.deadline = time.monotonic() + self.limits.submission_timeout
        # a child started early (spawn.start_early) comes with its scratch folder and page
        self._early = self.spawner.take_early() if isinstance(self.spawner, FreshInterpreter) else None
        if self._early is not None:
            self.scratch, self._progress = self._early.scratch, self._early.progress
        else:
            self.scratch = Path(tempfile.mkdtemp(prefix="bpgrade-", dir=self.spawner.root)) \
                if self.spawner.root else temp_dir()
            self._progress = progress_page()
        self._fill_scratch()
        return self

    def _fill_scratch(self):
        """Copy the submission into the (empty) scratch folder; its own size is not
        counted against the caps on what the submission writes."""
        self.loaded.copy_to(self.scratch)
        if self._early is not None:  # the early child's plan: its files are the sandbox's now
            self.plan = self._early.plan
            self.plan.own_scratch()
        else:
            self.plan = self.spawner.plan(self.scratch)
        size, files = folder_usage(self.scratch)
        self._scratch_cap = (size + (self.limits.scratch_mb << 20),
                             files + self.limits.scratch_files)

    def __exit__(self, *exc):
        self._kill()
        if self._early is not None:  # never started: the early child goes too
            self._early.child.kill(0.0, status=True)
            self._early = None
        close_page(self._progress)
        shutil.rmtree(self.scratch, ignore_errors=True)

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> dict:
        """Start the loader and load the submission; returns the load report."""
        if self._child is not None:
            return self.report
        self._check_time()  # no new child once the submission's time is up
        try:
            if self._early is not None:
                self._child, self._early = self._early.child, None
            else:
                self._child = self.spawner.start(self.plan, self.scratch,
                                                 self._progress[0] if self._progress else None)
        except OSError as exc:
            raise SandboxUnavailable("the sandbox could not start (%s)" % exc) from None
        self._buf = b""
        config = dict(self.loaded.config(), limits=asdict(self.limits), isolation=self.plan.config)
        self._loading = self.report is None
        self._send(config)
        try:  # no student code has run yet: a failure here is the machine's
            confined = self._receive(self.limits.load_timeout, "starting the sandbox")
        except OutOfTime:
            raise
        except SandboxError as exc:
            raise SandboxUnavailable("%s; its output: %s" % (
                exc.message, bytes(self.output[-2000:]).decode("utf-8", "replace"))) from None
        if not isinstance(confined.get("confined"), list):
            self._kill()
            raise SandboxUnavailable("the sandbox did not start")
        confined = confined["confined"]
        layers = [text(layer, 40) or "?" for layer in confined[:10]]
        if self.plan.in_bwrap:
            layers.append("bubblewrap")
        self.isolation = {"tier": self.plan.tier(layers), "layers": layers}
        report = self._receive(self.limits.load_timeout, "loading the submission",
                               patience=PATIENCE["load"])
        self._drain_log()  # the loader flushed its output before it reported
        self._loading = False
        if report.get("ready") is not True:
            self._kill()
            raise SandboxError("the submission did not load", kind=LOAD_FAILURE)
        if self.report is None:
            self.report = report
        return self.report

    @contextmanager
    def check(self) -> Iterator[Session]:
        """A session for one check, with a fresh CPU budget and no old objects
        (in a new child, loaded again, if the last one died)."""
        self.start()
        yield Session(self)
        self._check_scratch()

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
            raise SandboxError("the submission's process has exited", kind=CRASH)

    def _receive(self, timeout, doing, steps=(), patience=None):
        """The reply to the last request. `steps` names the calls of a batch:
        each has `timeout` to return, counted from when the one before it did
        (see `Clock`). After `patience` * timeout, the child gets the lowest priority."""
        clock = Clock(timeout, steps, patience, self.deadline)
        while True:
            reply = self._read_line(clock, doing)
            if reply.get("n") != self._n or type(reply["n"]) is not int:
                self._unreadable(self._running(clock, doing))
            if "progress" not in reply:
                return reply
            clock.advance(reply["progress"])  # a child without the shared page

    def _done(self):
        """How many calls of the current batch the child says it has done."""
        return self._progress[1][0] if self._progress is not None else None

    def _read_line(self, clock, doing):
        """Read one reply line, draining student output meanwhile; fail closed:
        anything but plain bounded JSON costs the check."""
        self._check_time()
        watch = bool(clock.steps) and self._progress is not None
        while b"\n" not in self._buf:
            now = time.monotonic()
            if watch:
                clock.advance(self._done())
            if clock.lower_at is not None and now >= clock.lower_at:
                clock.lower_at = None
                self._child.lower_priority()
                if self.on_slow is not None:
                    self.on_slow()
            if now >= clock.end:
                self._timed_out(clock, doing)
            wait = min(clock.end - now, POLL)
            if clock.lower_at is not None:
                wait = max(0.0, min(wait, clock.lower_at - now))
            ready, _, _ = select.select([self._child.frm, self._child.log], [], [], wait)
            if self._child.log in ready:
                self._drain_log()
            if self._child.frm not in ready:
                self._watch_scratch()
                continue
            chunk = os.read(self._child.frm, 1 << 16)
            if not chunk:
                doing = self._running(clock, doing)
                status = self._kill(grace=1.0, status=True)
                raise SandboxError(exit_message(status, doing), kind=CRASH)
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
        except ValueError:  # not JSON, not UTF-8, nested too deep
            reply = None
        if not isinstance(reply, dict) or not plain(reply):
            self._unreadable(self._running(clock, doing))
        return reply

    def _running(self, clock, doing):
        """The call of a batch that is running, by the latest count of calls done."""
        if clock.steps and self._progress is not None:
            clock.advance(self._done())
        return clock.step(doing)

    def _unreadable(self, doing):
        """A reply out of protocol: the child cannot be trusted to be in step any more."""
        self._kill()
        raise SandboxError(unreadable(doing))

    def _timed_out(self, clock, doing):
        self._kill()
        if clock.end >= self.deadline:
            raise OutOfTime(out_of_time(self.limits))
        if clock.end >= clock.last and len(clock.steps) > 1:
            raise SandboxError("the %d calls starting with %s did not finish within %g s"
                               % (len(clock.steps), clock.steps[0], clock.last - clock.start), kind=TIMEOUT)
        doing = clock.step(doing)
        verb = "did not finish" if " " in doing else "did not return"
        raise SandboxError("%s %s within %g s" % (doing, verb, clock.timeout), kind=TIMEOUT)

    def _check_time(self):
        if time.monotonic() >= self.deadline:
            self._kill()
            raise OutOfTime(out_of_time(self.limits))

    def _watch_scratch(self):
        """While waiting: measure the scratch folder, at most every POLL seconds."""
        now = time.monotonic()
        if now >= self._scratch_at:
            self._scratch_at = now + POLL
            self._check_scratch()

    def _check_scratch(self):
        """Over a cap: kill the child, and give the next one the submission alone."""
        size, files = folder_usage(self.scratch, *self._scratch_cap)
        if size <= self._scratch_cap[0] and files <= self._scratch_cap[1]:
            return
        self._kill()
        for entry in list(self.scratch.iterdir()):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        self._fill_scratch()
        what = "%d MB" % self.limits.scratch_mb if size > self._scratch_cap[0] else \
            "%d files" % self.limits.scratch_files
        raise SandboxError("the submission wrote more than %s to its folder" % what)

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

    def _kill(self, grace=0.0, status=False):
        """Kill the child with everything it started; with `status`, return its
        exit code, waiting up to `grace` seconds for one that is ending anyway."""
        child, self._child = self._child, None
        return child.kill(grace, status) if child is not None else None


class Clock:
    """The time limits of one request. Each of its `steps` (the calls of a batch)
    has `timeout` to return from when the one before it did; the child's count of
    calls done restarts that timer only when it rises, within the batch. The
    request never outlasts every step's timeout in turn, nor the submission's
    deadline, and its slowness (`patience`) is measured from its start."""

    def __init__(self, timeout, steps, patience, deadline):
        self.start = time.monotonic()
        self.timeout, self.steps, self.done = timeout, steps, 0
        self.last = min(self.start + timeout * max(1, len(steps)), deadline)
        self.end = min(self.start + timeout, self.last)
        self.lower_at = self.start + timeout * patience if patience else None

    def advance(self, count: object) -> None:
        """The child says `count` calls are done; believed only when it rises."""
        if type(count) is int and self.done < count <= len(self.steps):
            self.done = count
            self.end = min(time.monotonic() + self.timeout, self.last)

    def step(self, doing: str) -> str:
        """The call of the batch that is running: the one after those done."""
        return self.steps[self.done] if self.done < len(self.steps) else doing


def unreadable(doing: str) -> str:
    return "%s gave an answer the grader could not read" % doing


def out_of_time(limits: Limits) -> str:
    return "the time for grading this submission (%g s) ran out" % limits.submission_timeout


def folder_usage(root: Path, max_size: float = float("inf"),
                 max_files: float = float("inf")) -> tuple[int, int]:
    """(bytes, files and folders) under `root`, links not followed; it stops
    counting as soon as either passes its cap. A file's bytes are the larger of
    its size and the disk it holds."""
    size, files, folders = 0, 0, [root]
    while folders:
        try:
            with os.scandir(folders.pop()) as entries:
                for entry in entries:
                    files += 1
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    size += max(st.st_size, st.st_blocks * 512)
                    if size > max_size or files > max_files:
                        return size, files
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(entry.path)
        except OSError:  # gone, or made unreadable
            continue
    return size, files


class Session:
    """One check's conversation with the child."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.gates = 0  # gates of this check so far: the next one's id is gates + 1
        self.to_make = []  # gates not made in the child yet
        self.started = False  # the first request starts the check in the child
        self.log = []  # (gate, method, args, raw answer) in call order, for diagnosis

    def request(self, msg: dict, doing: str, steps: Sequence[str] = ()) -> dict:
        """Send one request; `steps` names each call of a batch, for messages."""
        box = self.sandbox
        if box._progress is not None:
            box._progress[1][0] = 0
        if not self.started:
            msg, self.started = dict(msg, check=True), True
        box._send(msg)
        return box._receive(box.limits.call_timeout, doing, steps, PATIENCE["call"])

    def unreadable(self, doing: str) -> NoReturn:
        """A reply whose fields are out of protocol: kill the child (later replies
        would be out of step); the SandboxError to raise."""
        self.sandbox._kill()
        return SandboxError(unreadable(doing))


def exit_message(status: int | None, doing: str) -> str:
    if status is not None and status < 0:
        return signal_message(-status, doing)
    return "%s ended the process (exit code %s)" % (doing, status)


def signal_message(signum: int, doing: str) -> str:
    if signum == signal.SIGXCPU:
        return "%s used up its CPU time" % doing
    if signum == signal.SIGXFSZ:
        return "%s wrote a file larger than allowed" % doing
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = "signal %d" % signum
    return "%s crashed the process (%s)" % (doing, name)
