"""Dask workers started as a TA starts them (`dask scheduler`, `dask worker`):
checked before the batch, and a hanging submission steps aside as in the
local pool."""
import json
import os
import sqlite3
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_batch import GOOD, HANG_CALL, SHORT, write  # noqa: F401  (helpers)

pytest.importorskip("distributed")
BIN = Path(sys.executable).parent


class Cluster:
    """A scheduler and workers on 127.0.0.1, each a process of its own."""

    def __init__(self, folder):
        self.folder, self.procs = Path(folder), []
        self.file = self.folder / "scheduler.json"
        self.start([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                    "--no-dashboard", "--scheduler-file", str(self.file)])
        end = time.monotonic() + 60
        while not self.file.exists() and time.monotonic() < end:
            time.sleep(0.1)
        self.address = json.loads(self.file.read_text())["address"]

    def start(self, argv, env=None):
        log = open(self.folder / ("log%d.txt" % len(self.procs)), "w")
        self.procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                           env=dict(os.environ, **(env or {})),
                                           start_new_session=True))

    def worker(self, env=None, threads=1):
        self.start([str(BIN / "dask"), "worker", self.address, "--nworkers", "1",
                    "--nthreads", str(threads), "--no-dashboard", "--host", "127.0.0.1"], env)

    def close(self):
        for p in self.procs[::-1]:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            p.wait()


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    yield c
    c.close()


def bpgrade_batch(cluster, subs, gradebook, *extra):
    return subprocess.run([str(BIN / "bpgrade"), "batch", str(subs), "--gradebook", str(gradebook),
                           "--rubric", str(SHORT), "--executor", "dask", "--scheduler", cluster.address,
                           "--progress", "lines", *extra],
                          capture_output=True, text=True, timeout=300)


def test_a_worker_without_the_grader_is_named_before_grading(cluster, tmp_path):
    """The worker's Python finds a broken `backprop_grader` first (as a worker whose
    environment lacks the grader would fail): exit 2, the worker and the cause
    named, nothing graded."""
    fake = write(tmp_path / "shadow", {"backprop_grader/__init__.py": "raise ImportError('not installed here')\n"})
    cluster.worker(env={"PYTHONPATH": str(fake)})
    subs = write(tmp_path / "subs", {"alice.py": GOOD})
    proc = bpgrade_batch(cluster, subs, tmp_path / "g.sqlite")
    assert proc.returncode == 2, proc.stderr
    assert "Dask workers that cannot grade" in proc.stderr
    assert "the grader cannot be imported there (ImportError: not installed here)" in proc.stderr
    assert "tcp://127.0.0.1:" in proc.stderr
    assert "lost dependencies" not in proc.stderr


def test_each_workers_isolation_is_said(cluster, tmp_path):
    cluster.worker(env={"BPGRADE_ISOLATION": "2"})
    subs = write(tmp_path / "subs", {"alice.py": GOOD, "bob.py": GOOD})
    proc = bpgrade_batch(cluster, subs, tmp_path / "g.sqlite")
    assert proc.returncode == 0, proc.stderr
    assert "isolation tier 2; missing: bubblewrap (apt-get install bubblewrap)" in proc.stderr


def test_a_hanging_submission_steps_aside_on_dask(cluster, tmp_path):
    """One worker with one thread: the hangs go first (the batch grades in order
    of student id), yet every honest submission is graded before either hang
    ends: the hang leaves the worker's thread pool once found slow, as it leaves
    its slot in the local pool."""
    cluster.worker(threads=1)
    hangs, goods = ["a-hang0", "a-hang1"], ["z-good%d" % i for i in range(4)]
    subs = write(tmp_path / "subs", {**{h + ".py": HANG_CALL for h in hangs},
                                     **{g + ".py": GOOD for g in goods}})
    proc = bpgrade_batch(cluster, subs, tmp_path / "g.sqlite")
    assert proc.returncode == 0, proc.stderr
    with sqlite3.connect(tmp_path / "g.sqlite") as db:
        order = [r[0] for r in db.execute("SELECT student FROM grades ORDER BY rowid")]
    assert sorted(order[:4]) == goods, order
    assert sorted(order[4:]) == hangs


def test_a_slow_grading_whose_worker_dies_is_graded_again_next_run(cluster, tmp_path):
    """A chunk's honest submissions come back while its hang is still being graded;
    the worker then dies. The batch does not wait for ever for the hang's result:
    it is recorded as the worker's failure (graded again next run), the rest kept."""
    cluster.worker(threads=1)
    goods = ["z-good%d" % i for i in range(3)]
    subs = write(tmp_path / "subs", {"a-hang.py": HANG_CALL, **{g + ".py": GOOD for g in goods}})
    gb = tmp_path / "g.sqlite"
    batch = subprocess.Popen([str(BIN / "bpgrade"), "batch", str(subs), "--gradebook", str(gb), "--rubric",
                              str(SHORT), "--executor", "dask", "--scheduler", cluster.address, "--progress", "none"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    end = time.monotonic() + 120
    while time.monotonic() < end and batch.poll() is None:
        try:
            with sqlite3.connect(gb) as db:
                if db.execute("SELECT count(*) FROM grades").fetchone()[0] == len(goods):
                    break
        except sqlite3.OperationalError:  # not made yet
            pass
        time.sleep(0.05)
    assert batch.poll() is None, "the hang ended before its worker could be killed"
    os.killpg(cluster.procs[-1].pid, signal.SIGKILL)  # the worker (and its nanny)
    out, err = batch.communicate(timeout=120)
    with sqlite3.connect(gb) as db:
        rows = dict(db.execute("SELECT student, error FROM grades"))
    assert sorted(rows) == ["a-hang"] + goods, (rows, err)
    assert all(not rows[g] for g in goods)
    assert "Dask worker" in rows["a-hang"], rows["a-hang"]
