"""Grade many submissions in parallel worker processes.

`grade_all(tasks, rubric_path, jobs)` yields one `Graded` per task as each
finishes, in completion order. Workers are trusted grader processes: each
grades with `score.grade`, so student code still runs only in sandboxes.
Each worker grades two submissions at a time (threads sharing one warm fork
server), so a submission that hangs waits out its timeout while the other
thread keeps the core busy.
"""
import ctypes
import multiprocessing
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass, field

from . import load, report, rubric, score
from .sandbox import Zygote


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
    def score(self):
        return self.results.get("score", 0.0)


_rubrics = {}
_zygote = []
_zygote_lock = threading.Lock()
THREADS = 2  # gradings at once in each worker process


def zygote():
    """This process's warm fork server, shared by its threads."""
    with _zygote_lock:
        if not _zygote:
            _zygote.append(Zygote())
        return _zygote[0]


def grade_task(task, rubric_path):
    """Grade one task in this process (a worker, or the caller for jobs=1)."""
    start = time.monotonic()
    rub = _rubrics.get(rubric_path) or _rubrics.setdefault(rubric_path, rubric.load(rubric_path))
    try:
        loaded = load.load(task.path, class_names=list(rub.gates))
        loaded.notes = list(task.notes) + loaded.notes
        results = report.gradescope(score.grade(loaded, rub, seed=task.seed, spawner=zygote()))
        return Graded(task, results, time.monotonic() - start)
    except Exception as exc:  # a grader fault must not lose the rest of the batch
        return Graded(task, failed_results(rub, "the grader failed on this submission: %s: %s"
                                           % (type(exc).__name__, exc)),
                      time.monotonic() - start, error="%s: %s" % (type(exc).__name__, exc))


def failed_results(rub, message):
    return {"score": 0.0, "max_score": rub.max_score, "output": message, "tests": [],
            "extra_data": {}}


def grade_all(tasks, rubric_path, jobs=None, threads=THREADS):
    """Yield a `Graded` for every task, as each one finishes. `jobs` worker
    processes (default: one per core) of `threads` gradings each; jobs=1 grades
    in this process, one at a time."""
    tasks = list(tasks)
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(tasks) or 1))
    if jobs == 1:
        for task in tasks:
            yield grade_task(task, str(rubric_path))
        return
    mp = multiprocessing.get_context("fork")
    todo, done = mp.Queue(), mp.Queue()
    workers = [mp.Process(target=_work, args=(todo, done, str(rubric_path), threads))
               for _ in range(jobs)]
    for w in workers:
        w.start()
    for item in enumerate(tasks):
        todo.put(item)
    for _ in range(jobs * threads):
        todo.put(None)
    left, running = set(range(len(tasks))), {}  # task -> pid of the worker grading it
    try:
        while left:
            try:
                kind, i, value = done.get(timeout=1.0)
            except queue.Empty:
                yield from _lost(tasks, workers, left, running, rubric_path)
                continue
            if kind == "start":
                running[i] = value
            elif i in left:
                left.discard(i)
                running.pop(i, None)
                yield value
    finally:
        for w in workers:
            w.join(timeout=5 if not left else 0)
            if w.is_alive():
                w.kill()
                w.join()


def _lost(tasks, workers, left, running, rubric_path):
    """Failed results for the tasks of workers that died (all left, if all did)."""
    dead = {w.pid for w in workers if not w.is_alive()}
    lost = [i for i, pid in running.items() if pid in dead]
    if len(dead) == len(workers):
        lost = sorted(left)
    for i in lost:
        left.discard(i)
        running.pop(i, None)
        yield Graded(tasks[i], failed_results(rubric.load(rubric_path),
                                              "the grader's worker process died"), 0.0,
                     error="the grader's worker process died")


def _work(todo, done, rubric_path, threads):
    """A worker process: `threads` threads take tasks until each gets None."""
    _zygote.clear()  # the batch process's own server (if any) is not ours to use
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: go with the batch
    except (OSError, AttributeError):
        pass

    def loop():
        for i, task in iter(todo.get, None):
            done.put(("start", i, os.getpid()))
            done.put(("done", i, grade_task(task, rubric_path)))

    pool = [threading.Thread(target=loop) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    for server in _zygote:
        server.close()
    done.close()
    done.join_thread()
