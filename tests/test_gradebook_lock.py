"""One `bpgrade batch` at a time per gradebook: a second one says who holds it and exits
2; the lock a batch killed with SIGKILL leaves is taken over, and nothing graded is lost."""
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backprop_grader.batch import gradebook

DATA = Path(__file__).parent / "data"
SHORT = DATA / "rubrics" / "batch_short.yaml"
GOOD = (DATA / "good.py").read_text()
SLOW_GOOD = "import time\ntime.sleep(0.3)\n" + GOOD
ENV = dict(os.environ, BPGRADE_SECRET="test-course-secret-0123456789abcdef")


def graded(gb):
    try:
        db = sqlite3.connect(str(gb))
        try:
            return [r[0] for r in db.execute("SELECT student FROM grades ORDER BY id")]
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return []


def batch_args(subs, gb):
    return [sys.executable, "-m", "backprop_grader", "batch", str(subs), "--gradebook", str(gb), "--rubric", str(SHORT),
            "-j", "1", "--progress", "none"]


def test_a_held_lock_is_refused_with_its_pid(tmp_path):
    gb = tmp_path / "g.sqlite"
    with gradebook.BatchLock(gb) as held:
        assert (tmp_path / "g.sqlite.lock").read_text() == "%d\n" % os.getpid()
        with pytest.raises(gradebook.GradebookBusy, match=r"another bpgrade batch \(pid %d\)" % os.getpid()):
            gradebook.BatchLock(gb).acquire()
        assert held.fd is not None
    assert not (tmp_path / "g.sqlite.lock").exists()  # a batch that ends removes it
    gradebook.BatchLock(gb).acquire().release()  # and the next one takes it


def test_second_batch_exits_2_and_a_killed_batch_lock_is_taken_over(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    n = 12
    for i in range(n):
        (subs / ("s%02d.py" % i)).write_text(SLOW_GOOD)
    gb, lock = tmp_path / "g.sqlite", tmp_path / "g.sqlite.lock"
    first = subprocess.Popen(batch_args(subs, gb), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and first.poll() is None and len(graded(gb)) < 2:
            time.sleep(0.05)
        assert first.poll() is None, "the first batch finished before the test could start a second"
        assert lock.read_text().strip() == str(first.pid)
        second = subprocess.run(batch_args(subs, gb), env=ENV, capture_output=True, text=True, timeout=60)
        assert second.returncode == 2
        assert "another bpgrade batch (pid %d) is grading into %s" % (first.pid, gb) in second.stderr
        assert second.stdout == ""
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert first.returncode == -signal.SIGKILL, "the first batch finished before it could be killed"
    before = graded(gb)
    assert 2 <= len(before) < n
    assert lock.read_text().strip() == str(first.pid)  # kill -9: the file stays, the kernel's lock does not
    third = subprocess.run(batch_args(subs, gb), env=ENV, capture_output=True, text=True, timeout=300)
    assert third.returncode == 0, third.stderr
    assert "skipped %d already graded" % len(before) in third.stdout
    after = graded(gb)
    assert after[:len(before)] == before and sorted(after) == ["s%02d" % i for i in range(n)]  # nothing lost
    assert not lock.exists()
