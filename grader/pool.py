"""Grade many submissions in parallel worker processes.

`grade_all(tasks, rubric_path, jobs)` yields one `Graded` per task as each
finishes, in completion order. Workers are trusted grader processes: each
grades with `score.grade`, so student code still runs only in sandboxes.
"""
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
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
_local = threading.local()  # one warm fork server per thread (Dask runs tasks in threads)


def zygote():
    if not hasattr(_local, "zygote"):
        _local.zygote = Zygote()
    return _local.zygote


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


def grade_all(tasks, rubric_path, jobs=None):
    """Yield a `Graded` for every task, as each one finishes."""
    tasks = list(tasks)
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(tasks) or 1))
    if jobs == 1:
        for task in tasks:
            yield grade_task(task, str(rubric_path))
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        pending = {pool.submit(grade_task, t, str(rubric_path)): t for t in tasks[:jobs * 2]}
        queue = tasks[jobs * 2:]
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                task = pending.pop(future)
                try:
                    yield future.result()
                except Exception as exc:  # the worker process died
                    rub = rubric.load(rubric_path)
                    yield Graded(task, failed_results(rub, "the grader's worker failed: %s" % exc),
                                 0.0, error=str(exc))
                if queue:
                    nxt = queue.pop(0)
                    pending[pool.submit(grade_task, nxt, str(rubric_path))] = nxt
