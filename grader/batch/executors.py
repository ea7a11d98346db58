"""Where a batch is graded: worker processes here, or a Dask cluster.

Each executor yields `pool.Graded` results as they finish. On Dask, the
submission and the rubric (with the reference files it names) travel to the
worker, which grades with the same sandbox; the comparison stays trusted.
"""
from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import yaml

from backprop_grader import load
from backprop_grader.batch import pool
from backprop_grader.judge import rubric as rubric_mod
from backprop_grader.batch.classlist import BatchError, pack, unpack
from backprop_grader.report.results import safe_text
from backprop_grader.tempdirs import temp_dir

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

DASK_CONNECT_TIMEOUT = "20s"
CHUNK = 4  # submissions per Dask task: the scheduler's and a worker's cost per task, shared
WORKERS_TIMEOUT = 30  # seconds to wait for a first worker to join the scheduler


# ---------------------------------------------------------------------------- executors

def local_executor(tasks: Iterable[pool.Task], rubric_path: str | Path, jobs: int | None = None,
                   scheduler: str | None = None) -> Iterator[pool.Graded]:
    return pool.grade_all(tasks, str(rubric_path), jobs)


def dask_executor(tasks: Iterable[pool.Task], rubric_path: str | Path, jobs: int | None = None,
                  scheduler: str | None = None) -> Iterator[pool.Graded]:
    """Grade on a Dask cluster: submissions and results cross the wire, not paths.

    Each worker grades with `pool.grade_task`, so student code runs in the
    worker's sandbox and the comparison in the worker's trusted process.
    Without `scheduler`, a local cluster with `jobs` worker processes is started.
    """
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise BatchError("--executor dask needs Dask: pip install 'backprop-grader[dask]'") from None
    cluster = None
    try:
        if scheduler:
            client = Client(scheduler, timeout=DASK_CONNECT_TIMEOUT)
        else:
            cluster = LocalCluster(n_workers=jobs or os.cpu_count() or 1, threads_per_worker=1,
                                   dashboard_address=None)
            client = Client(cluster)
    except (OSError, TimeoutError, ValueError) as exc:
        raise BatchError("cannot reach the Dask scheduler at %s (%s)" % (scheduler, exc)) from None
    try:
        check_workers(client, scheduler or "a local cluster")
    except BaseException:
        close(client, cluster)
        raise
    return _dask_results(client, cluster, as_completed, tasks, rubric_path)


# ---------------------------------------------------------------------------- worker checks

# Run on every worker before the batch. Defined from source, so Dask sends the
# function itself: a worker without the grader can still run it and say so.
_PROBE = """
def probe():
    import socket, sys
    found = {"host": socket.gethostname(), "python": sys.version.split()[0]}
    try:
        import backprop_grader as grader
        from backprop_grader.sandbox import isolation
        caps = isolation.forced(isolation.capabilities())
    except Exception as exc:
        found["error"] = "%s: %s" % (type(exc).__name__, exc)
        return found
    found.update(version=grader.__version__, bwrap=bool(caps["bwrap"]),
                 landlock=int(caps["landlock"]), seccomp=bool(caps["seccomp"]))
    return found
"""


def worker_probe() -> Callable[[], dict]:
    """The check each worker runs: what it has of the grader and of isolation."""
    namespace = {"__name__": "bpgrade_worker_probe"}
    exec(_PROBE, namespace)
    return namespace["probe"]


def probe_tier(found: dict) -> int:
    """The isolation tier a worker's report says it can give."""
    if found.get("bwrap"):
        return 3
    return 2 if found.get("landlock") and found.get("seccomp") else 1


def check_workers(client: Client, where: str, stream: TextIO | None = None) -> None:
    """Before grading: every worker has this grader (same version); say which
    isolation each gives. A worker that cannot grade is a usage error (exit 2)
    naming the worker and what is missing, rather than "lost dependencies" later."""
    stream = stream or sys.stderr
    try:
        client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
    except (TimeoutError, OSError) as exc:
        raise BatchError("no Dask worker joined %s within %d s (%s)" % (where, WORKERS_TIMEOUT, exc)) from None
    from backprop_grader import __version__
    problems = []
    for worker, found in sorted(client.run(worker_probe(), on_error="return").items()):
        name = "%s (%s)" % (worker, found.get("host", "?")) if isinstance(found, dict) else worker
        if not isinstance(found, dict):
            problems.append("%s: the check could not run (%s: %s)" % (name, type(found).__name__, found))
        elif "error" in found:
            problems.append("%s: the grader cannot be imported there (%s); install it in the "
                            "worker's environment: pip install backprop-grader" % (name, found["error"]))
        elif found["version"] != __version__:
            problems.append("%s: grader %s, but this is %s; install the same version"
                            % (name, found["version"], __version__))
        else:
            tier = probe_tier(found)
            missing = [] if tier == 3 else ["bubblewrap (apt-get install bubblewrap)"] + (
                [] if tier == 2 else ["Landlock and seccomp (Linux >= 5.13, libseccomp)"])
            print("bpgrade: dask worker %s: isolation tier %d%s" % (
                safe_text(name, one_line=True), tier, "" if not missing else "; missing: " + ", ".join(missing)),
                file=stream)
    if problems:
        raise BatchError("Dask workers that cannot grade:\n  " + "\n  ".join(
            safe_text(p, one_line=True) for p in problems))


def _dask_results(client, cluster, as_completed, tasks, rubric_path):
    stopped = threading.Event()
    try:
        rub = rubric_mod.load(rubric_path)
        bundle = client.scatter(rubric_bundle(rubric_path), broadcast=True, hash=False)
        # room for slow gradings, which go on beside their chunk's task (see _Chunk)
        window = max(8, 2 * pool.SLOW_ROOM * sum(client.nthreads().values()))
        todo = iter(tasks)
        pending, running = {}, as_completed()

        def submit(chunk):
            """Send a chunk of tasks as one Dask task; yields those that cannot go."""
            sent = []
            for task in chunk:
                blob = pack(task.path, limit=load.MAX_COPY)
                if blob is None:
                    yield pool.failed(task, rub, "the submission is too large to send",
                                      "too large to send to a Dask worker")
                    continue
                sent.append((task, {"student": task.student, "seed": task.seed, "notes": list(task.notes),
                                    "blob": blob}))
            if sent:
                future = client.submit(remote_grade_all, [p for _, p in sent], bundle, pure=False)
                pending[future.key] = [t for t, _ in sent]
                running.add(future)

        def chunks(count):
            for _ in range(count):
                chunk = list(islice(todo, CHUNK))
                if not chunk:
                    return
                yield from submit(chunk)

        collecting = {}  # a remote_later future -> the worker its grading is on
        threading.Thread(target=_watch_collectors, args=(client, collecting, stopped), daemon=True).start()
        yield from chunks(window)
        for future in running:
            sent = pending.pop(future.key)
            collecting.pop(future, None)
            try:
                answers = future.result()
                if len(answers) != len(sent):
                    raise ValueError("%d answers for %d submissions" % (len(answers), len(sent)))
            except Exception as exc:  # the worker died or could not run the grader
                why = "%s: %s" % (type(exc).__name__, exc)
                answers = [pool.failed(task, rub, "the grader's Dask worker failed: " + why, "Dask worker: " + why)
                           for task in sent]
            future.release()
            for task, answer in zip(sent, answers):
                if isinstance(answer, pool.Graded):
                    yield answer
                elif isinstance(answer, dict) and "error" in answer:
                    yield pool.failed(task, rub, "the grader's Dask worker failed: " + answer["error"],
                                      "Dask worker: " + answer["error"])
                elif isinstance(answer, dict):  # still grading on that worker: collected there when it ends
                    later = client.submit(remote_later, answer["later"], pure=False, allow_other_workers=False,
                                          workers=[answer["worker"]] if answer["worker"] else None)
                    pending[later.key] = [task]
                    collecting[later] = answer["worker"]
                    running.add(later)
                else:
                    yield pool.Graded(task, *answer)
            yield from chunks(1)
    finally:
        stopped.set()
        close(client, cluster)


WATCH = 2.0  # seconds between looks for collectors whose worker is gone


def _watch_collectors(client: Client, collecting: dict, stopped: threading.Event) -> None:
    """Cancel a remote_later whose worker left the cluster: held to that worker,
    it would wait for ever; cancelled, its submission is graded again next run."""
    while not stopped.wait(WATCH):
        if not collecting:
            continue
        try:
            alive = set(client.scheduler_info()["workers"])
        except Exception:  # the scheduler is gone: the batch's own wait ends it
            continue
        for future, worker in list(collecting.items()):
            if worker not in alive:
                future.cancel()


def close(client: Client, cluster: LocalCluster | None) -> None:
    """Close the Dask client, and the local cluster when there is one."""
    client.close()
    if cluster is not None:
        cluster.close()


def rubric_bundle(rubric_path: str | Path) -> dict:
    """The rubric and the reference files it names by relative path, as bytes."""
    path = Path(rubric_path)
    raw = path.read_bytes()
    files = {}
    data = yaml.safe_load(raw) or {}
    for spec in (data.get("gates") or {}).values():
        target = str(spec.get("reference", "")).rpartition(":")[0]
        if target.endswith(".py") and (path.parent / target).is_file():
            files[target] = (path.parent / target).read_bytes()
    return {"name": path.name, "yaml": raw, "files": files,
            "sha256": hashlib.sha256(raw).hexdigest()}


_materialized = {}


def materialize(bundle: dict) -> str:
    """Write a rubric bundle on a worker, once per process; returns the rubric's path."""
    if bundle["sha256"] not in _materialized:
        folder = temp_dir("rubric-")
        atexit.register(shutil.rmtree, folder, True)
        for rel, data in bundle["files"].items():
            target = (folder / rel).resolve()
            if folder.resolve() in target.parents:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        (folder / bundle["name"]).write_bytes(bundle["yaml"])
        _materialized[bundle["sha256"]] = str(folder / bundle["name"])
    return _materialized[bundle["sha256"]]


# A Dask worker runs tasks in threads; pool keeps one warm fork server per thread,
# and only writing the rubric's files to the worker's disk needs to be one at a time.
_materializing = threading.Lock()


class _Chunk:
    """One Dask task's submissions on a worker, graded in turn by one runner
    thread; a submission found slow keeps its thread and a new runner takes the
    rest. The task returns once each is done or slow: slow ones are collected
    later (`remote_later`), so a hang never holds back its chunk-mates' results."""

    def __init__(self, payloads: list[dict], bundle: dict) -> None:
        self.payloads, self.bundle = payloads, bundle
        self.out, self.slow, self.later = [None] * len(payloads), set(), {}  # later: index -> _Later
        self.next = 0
        self.cond = threading.Condition()

    def run(self) -> None:
        while True:
            with self.cond:
                if self.next >= len(self.payloads):
                    return
                i, self.next = self.next, self.next + 1
            handed = []

            def on_slow():
                if not handed:
                    handed.append(True)
                    with self.cond:
                        self.slow.add(i)
                        self.cond.notify_all()
                    threading.Thread(target=self.run, daemon=True).start()
            try:
                result = remote_grade(self.payloads[i], self.bundle, on_slow)
            except BaseException as exc:  # a grader fault costs this submission only (graded again next run)
                result = {"error": "%s: %s" % (type(exc).__name__, exc)}
            with self.cond:
                self.out[i] = result
                if i in self.later:
                    self.later.pop(i).set(result)
                self.cond.notify_all()
            if handed:
                return  # the runner started when it was found slow has the rest

    def settled(self) -> bool:
        return all(r is not None or i in self.slow for i, r in enumerate(self.out))

    def answers(self) -> list:
        """Each submission's (results, duration, error), {"error": why} when the
        grader failed on it, or for one still slow {"later": token, "worker": this
        worker's address}. Once one is found slow the task leaves the worker's
        thread pool (Dask's `secede`), so the worker takes another task while the
        rest of this one is graded."""
        threading.Thread(target=self.run, daemon=True).start()
        with self.cond:
            self.cond.wait_for(lambda: self.slow or self.settled())
            slow = not self.settled()
        if slow:
            step_aside()
        with self.cond:
            self.cond.wait_for(self.settled)
            answers = []
            for i, result in enumerate(self.out):
                if result is None:
                    self.later[i] = _Later()
                    result = {"later": self.later[i].token, "worker": _worker_address()}
                answers.append(result)
            return answers


class _Later:
    """A slow grading whose task has returned: `remote_later` waits for it."""
    waiting: dict[str, _Later] = {}

    def __init__(self) -> None:
        self.token, self.done, self.result = os.urandom(16).hex(), threading.Event(), None
        _Later.waiting[self.token] = self

    def set(self, result: tuple) -> None:
        self.result = result
        self.done.set()


def remote_grade_all(payloads: list[dict], bundle: dict) -> list:
    """Runs on a Dask worker: grade a chunk of submissions (see `_Chunk`)."""
    return _Chunk(payloads, bundle).answers()


def remote_later(token: str) -> list:
    """Runs on the worker a slow grading is on: its result, once it ends. The
    wait leaves the worker's thread pool (Dask's `secede`)."""
    later = _Later.waiting.get(token)
    if later is None:
        raise LookupError("the worker that was grading it is gone")
    step_aside()
    later.done.wait()
    del _Later.waiting[token]
    return [later.result]


def remote_grade(payload: dict, bundle: dict, on_slow: Callable[[], None] = lambda: None) -> tuple[dict, float, str]:
    """Unpack one submission on a Dask worker, grade it, return plain data."""
    with _materializing:
        rubric_path = materialize(bundle)
    tmp = temp_dir("dask-")
    try:
        path = unpack(payload["blob"], tmp)
        task = pool.Task(payload["student"], str(path), payload["seed"], payload["notes"])
        graded = pool.grade_task(task, rubric_path, on_slow=on_slow)
        return graded.results, graded.duration, graded.error
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def step_aside() -> None:
    """Leave the Dask worker's thread pool (a task that waits on slow gradings);
    nothing outside a Dask task."""
    try:
        from distributed import secede
        secede()
    except Exception:  # not in a Dask task (or an older Dask)
        pass


def _worker_address() -> str | None:
    try:
        from distributed import get_worker
        return get_worker().address
    except Exception:
        return None


EXECUTORS = {"local": local_executor, "dask": dask_executor}
