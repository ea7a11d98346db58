"""The grader's temporary folders carry its pid; a later grader removes those of
a grader that is gone (grader/tempdirs.py)."""
import os
import subprocess
import sys
import time

from backprop_grader import tempdirs


def gone_pid():
    """The pid of a process that has ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def folder(tmp_path, name, age=2 * tempdirs.STALE):
    path = tmp_path / name
    path.mkdir()
    (path / "submission.py").write_text("x = 1\n")
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_a_gone_graders_old_folders_are_removed_and_nothing_else(tmp_path):
    dead, alive = gone_pid(), os.getpid()
    removed = [folder(tmp_path, "bpgrade-forkserver-%d-abc" % dead), folder(tmp_path, "bpgrade-%d-x_1" % dead),
               folder(tmp_path, "bpgrade-batch-%d-q" % dead)]
    kept = [folder(tmp_path, "bpgrade-boot-%d-abc" % alive),  # its grader still runs
            folder(tmp_path, "bpgrade-forkserver-%d-new" % dead, age=60),  # touched a minute ago
            folder(tmp_path, "bpgrade-cpu-k2j4l5"), folder(tmp_path, "bpgrade-a1b2c3d4"),  # no pid
            folder(tmp_path, "other-%d-abc" % dead)]
    (tmp_path / ("bpgrade-boot-%d-file" % dead)).write_text("not a folder")
    os.symlink(kept[0], tmp_path / ("bpgrade-boot-%d-link" % dead))
    tempdirs.sweep(tmp_path)
    assert not any(p.exists() for p in removed)
    assert all(p.exists() for p in kept)
    assert (tmp_path / ("bpgrade-boot-%d-file" % dead)).exists()
    assert (tmp_path / ("bpgrade-boot-%d-link" % dead)).is_symlink()


def test_temp_dir_is_named_with_the_pid(tmp_path, monkeypatch):
    monkeypatch.setattr(tempdirs.tempfile, "tempdir", str(tmp_path))
    made = tempdirs.temp_dir("batch-")
    assert made.parent == tmp_path and made.name.startswith("bpgrade-batch-%d-" % os.getpid())
    assert tempdirs.LEFTOVER.fullmatch(made.name).group(1) == str(os.getpid())


def test_a_zombie_is_not_running_and_this_process_is():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        while tempdirs.running(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.01)  # it ends, but nobody has waited for it yet
        assert not tempdirs.running(proc.pid)
    finally:
        proc.wait()
    assert tempdirs.running(os.getpid())


def test_remove_of_takes_only_that_process_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(tempdirs.tempfile, "tempdir", str(tmp_path))
    pid = gone_pid()
    mine = [folder(tmp_path, "bpgrade-boot-%d-a" % pid, age=0), folder(tmp_path, "bpgrade-%d-b" % pid, age=0)]
    others = [folder(tmp_path, "bpgrade-boot-1%d-a" % pid, age=0), folder(tmp_path, "bpgrade-%d1-b" % pid, age=0)]
    tempdirs.remove_of(pid)
    assert not any(p.exists() for p in mine) and all(p.exists() for p in others)
