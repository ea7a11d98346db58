"""Where a batch is graded: worker processes here, or a Dask cluster.

Each executor yields `pool.Graded` results as they finish. On Dask, the
submission and the rubric (with the reference files it names) travel to the
worker, which grades with the same sandbox; the comparison stays trusted.
"""
import atexit
import hashlib
import os
import shutil
import threading
from itertools import islice
from pathlib import Path

import yaml

from grader import load
from grader.batch import pool
from grader.judge import rubric as rubric_mod
from grader.batch.classlist import BatchError, pack, unpack
from grader.tempdirs import temp_dir

DASK_CONNECT_TIMEOUT = "20s"


# ---------------------------------------------------------------------------- executors

def local_executor(tasks, rubric_path, jobs=None, scheduler=None):
    return pool.grade_all(tasks, str(rubric_path), jobs)


def dask_executor(tasks, rubric_path, jobs=None, scheduler=None):
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
    return _dask_results(client, cluster, as_completed, tasks, rubric_path)


def _dask_results(client, cluster, as_completed, tasks, rubric_path):
    try:
        rub = rubric_mod.load(rubric_path)
        bundle = client.scatter(rubric_bundle(rubric_path), broadcast=True, hash=False)
        window = max(4, 2 * sum(client.nthreads().values()))
        todo = iter(tasks)
        pending, running = {}, as_completed()

        def submit(task):
            payload = {"student": task.student, "seed": task.seed, "notes": list(task.notes),
                       "blob": pack(task.path, limit=load.MAX_COPY)}
            if payload["blob"] is None:
                return pool.Graded(task, pool.failed_results(rub, "the submission is too large to send"),
                                   0.0, error="too large to send to a Dask worker")
            future = client.submit(remote_grade, payload, bundle, pure=False)
            pending[future.key] = task
            running.add(future)
            return None

        for task in islice(todo, window):
            early = submit(task)
            if early is not None:
                yield early
        for future in running:
            task = pending.pop(future.key)
            try:
                results, duration, error = future.result()
                graded = pool.Graded(task, results, duration, error)
            except Exception as exc:  # the worker died or could not run the grader
                graded = pool.Graded(task, pool.failed_results(
                    rub, "the grader's Dask worker failed: %s: %s" % (type(exc).__name__, exc)),
                    0.0, error="Dask worker: %s: %s" % (type(exc).__name__, exc))
            future.release()
            yield graded
            for nxt in islice(todo, 1):
                early = submit(nxt)
                if early is not None:
                    yield early
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def rubric_bundle(rubric_path):
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


def materialize(bundle):
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


def remote_grade(payload, bundle):
    """Runs on a Dask worker: unpack the submission, grade it, return plain data."""
    with _materializing:
        rubric_path = materialize(bundle)
    tmp = temp_dir("dask-")
    try:
        path = unpack(payload["blob"], tmp)
        task = pool.Task(payload["student"], str(path), payload["seed"], payload["notes"])
        graded = pool.grade_task(task, rubric_path)
        return graded.results, graded.duration, graded.error
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


EXECUTORS = {"local": local_executor, "dask": dask_executor}
