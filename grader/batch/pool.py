"""Grade many submissions in parallel worker processes.

`grade_all(tasks, rubric_path, jobs)` yields one `Graded` per task as each
finishes, in completion order. Workers are trusted grader processes: each
grades with `score.grade`, so student code still runs only in sandboxes.
Each worker grades three submissions at a time (threads sharing one warm fork
server). A submission found slow (a hang, most likely: see sandbox.PATIENCE)
waits out its timeout at the lowest priority and stops counting against the
three, so the worker takes another while it waits.
"""
from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from backprop_grader import load, tempdirs
from backprop_grader.report import results as report
from backprop_grader.judge import rubric, score
from backprop_grader.sandbox import ForkServer, isolation

if TYPE_CHECKING:
    from backprop_grader.judge.rubric import Rubric


@dataclass
class Task:
    student: str
    path: str
    seed: int
    notes: list = field(default_factory=list)  # e.g. "also submitted: gates.py"


@dataclass
class Graded:
    task: Task
    results: dict  # Gradescope results.json
    duration: float
    error: str = ""  # set only when the grader itself failed for this task

    @property
    def score(self) -> float:
        return self.results.get("score", 0.0)


_rubrics = {}
_fork_servers = []
_fork_server_lock = threading.Lock()
THREADS = 3  # gradings at once in each worker process, not counting slow ones
SLOW_ROOM = 4  # at most this many times THREADS gradings at once, slow ones included


def fork_server() -> ForkServer:
    """This process's warm fork server, shared by its threads."""
    with _fork_server_lock:
        if not _fork_servers:
            _fork_servers.append(ForkServer())
        return _fork_servers[0]


def grade_task(task: Task, rubric_path: str, on_slow: Callable[[], None] | None = None) -> Graded:
    """Grade one task in this process (a worker, or the caller for jobs=1)."""
    start = time.monotonic()
    rub = loaded_rubric(rubric_path)
    try:
        # a student's file in a class folder: the files beside it are other students'
        loaded = load.load(task.path, class_names=list(rub.gates), siblings=False)
        loaded.notes = list(task.notes) + loaded.notes
        results = report.results_json(score.grade(loaded, rub, seed=task.seed, spawner=fork_server(),
                                                  on_slow=on_slow))
        return Graded(task, results, time.monotonic() - start)
    except Exception as exc:  # a grader fault must not lose the rest of the batch
        why = "%s: %s" % (type(exc).__name__, exc)
        return failed(task, rub, "the grader failed on this submission: " + why, why, time.monotonic() - start)


def loaded_rubric(path: str) -> Rubric:
    """The rubric at `path`, loaded once per process."""
    return _rubrics.get(path) or _rubrics.setdefault(path, rubric.load(path))


def failed_results(rub: Rubric, message: str) -> dict:
    """results.json of a submission the grader failed on: no grade, `message` says why."""
    return {"score": 0.0, "max_score": rub.max_score, "output": message, "tests": [],
            "extra_data": {}}


def failed(task: Task, rub: Rubric, message: str, error: str | None = None, duration: float = 0.0) -> Graded:
    """The `Graded` of a task the grader failed on (graded again on the next run):
    `message` in its results.json, `error` (default: the message) in the gradebook."""
    return Graded(task, failed_results(rub, message), duration, error=message if error is None else error)


def grade_all(tasks: Iterable[Task], rubric_path: str | Path, jobs: int | None = None,
              threads: int = THREADS) -> Iterator[Graded]:
    """Yield a `Graded` for every task, as each one finishes. `jobs` worker
    processes (default: one per core) of `threads` gradings each; jobs=1 grades
    in this process, one at a time."""
    tasks, rubric_path = list(tasks), str(rubric_path)
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(tasks) or 1))
    if jobs == 1:
        for task in tasks:
            yield grade_task(task, rubric_path)
        return

    def lost(i, why):
        return failed(tasks[i], loaded_rubric(rubric_path), why)

    todo = list(range(len(tasks)))[::-1]  # popped from the end: in order
    workers, restarts = [Worker(rubric_path, threads) for _ in range(jobs)], jobs * 4
    try:
        for w in workers:
            w.feed(tasks, todo)
        while any(w.running for w in workers):
            ready = multiprocessing.connection.wait(
                [w.results for w in workers] + [w.process.sentinel for w in workers])
            for w in list(workers):
                if w.results in ready:
                    try:
                        kind, i, graded = w.results.recv()
                        if kind == "slow":  # it waits at the lowest priority: take another
                            w.slow.add(i)
                        else:
                            w.running.discard(i)
                            w.slow.discard(i)
                            yield graded
                        w.feed(tasks, todo)
                        continue
                    except (EOFError, OSError):
                        w.process.join()  # it died
                if w.process.sentinel in ready or not w.process.is_alive():
                    for i in sorted(w.running):  # only what it was grading is lost
                        yield lost(i, "the grader's worker process died")
                    w.close()
                    workers.remove(w)
                    if todo and restarts:
                        restarts -= 1
                        workers.append(Worker(rubric_path, threads))
                        workers[-1].feed(tasks, todo)
        for i in todo[::-1]:  # every worker died, too often to start more
            yield lost(i, "the grader's worker processes kept dying")
    finally:
        for w in workers:
            w.close()


class Worker:
    """A worker process with a pipe for tasks and one for results of its own
    (a shared queue would stay locked if a worker died holding its lock)."""

    def __init__(self, rubric_path: str, threads: int) -> None:
        mp = multiprocessing.get_context("fork")
        task_r, self.tasks = mp.Pipe(duplex=False)
        self.results, result_w = mp.Pipe(duplex=False)
        self.threads, self.running, self.slow = threads, set(), set()
        self.process = mp.Process(target=_work, args=(task_r, result_w, rubric_path, threads))
        self.process.start()
        task_r.close()
        result_w.close()

    def feed(self, tasks: list[Task], todo: list[int]) -> None:
        """Keep `threads` gradings that are not slow going while there are tasks."""
        while todo and len(self.running) - len(self.slow) < self.threads \
                and len(self.running) < SLOW_ROOM * self.threads:
            i = todo.pop()
            try:
                self.tasks.send((i, tasks[i]))
            except OSError:
                todo.append(i)
                return
            self.running.add(i)

    def close(self) -> None:
        try:  # the stop (other workers hold copies of this pipe's end, so EOF won't come)
            self.tasks.send(None)
        except OSError:
            pass
        self.tasks.close()
        self.process.join(timeout=5 if self.process.is_alive() and not self.running else 0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        if self.process.exitcode != 0:  # it died or was killed: it could not clean up
            tempdirs.remove_of(self.process.pid)
        self.results.close()


def _work(tasks, results, rubric_path, threads):
    """A worker process: grades each task it is sent in a thread of its own,
    until it gets None (the batch sends at most `threads` tasks that are not slow)."""
    _fork_servers.clear()  # the batch process's own server (if any) is not ours to use
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: go with the batch
    except (OSError, AttributeError):
        pass
    give = threading.Lock()

    def send(message):
        with give:
            results.send(message)

    def grade(i, task):
        said = []

        def on_slow():
            if not said:
                said.append(i)
                send(("slow", i, None))
        send(("done", i, grade_task(task, rubric_path, on_slow)))

    with ThreadPoolExecutor(max_workers=SLOW_ROOM * threads) as gradings:
        while True:
            try:
                item = tasks.recv()
            except (EOFError, OSError):
                break
            if item is None:
                break
            gradings.submit(grade, *item)
    for server in _fork_servers:
        server.close()
    isolation.remove_boot_dir()  # multiprocessing ends this process with os._exit: no atexit
