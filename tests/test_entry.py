"""grader/entry.py: `bpgrade check|grade` start the sandbox's interpreter before
the grader's imports; the result is the same, and an unused early child is gone
when the command ends."""
import os
import subprocess
import sys
from pathlib import Path

from backprop_grader import entry

ROOT = Path(__file__).resolve().parent.parent
BPGRADE = Path(sys.executable).parent / "bpgrade"
NOTEBOOK = ROOT / "assignments" / "gates" / "source.ipynb"


def leftovers(pid):
    """Processes still running a child.py, or temporary folders, of grader `pid`."""
    procs = []
    for entry_ in os.listdir("/proc"):
        if entry_.isdigit():
            try:
                cmd = Path("/proc/%s/cmdline" % entry_).read_bytes()
            except OSError:
                continue
            if b"bpgrade-boot-%d-" % pid in cmd:
                procs.append(int(entry_))
    folders = [p for p in Path("/tmp").glob("bpgrade-*%d-*" % pid)]
    return procs, folders


def test_the_early_child_grades_exactly_as_before(tmp_path):
    """The same feedback, byte for byte, with and without the early start."""
    args = ["check", str(NOTEBOOK), "--seed", "11"]
    early = subprocess.run([str(BPGRADE)] + args, capture_output=True, text=True, timeout=120)
    plain = subprocess.run([sys.executable, "-c", "import sys; from backprop_grader.cli import main; "
                            "sys.exit(main(sys.argv[1:]))"] + args,
                           capture_output=True, text=True, timeout=120)
    assert early.returncode == plain.returncode == 0, early.stderr
    assert early.stdout == plain.stdout and "90 / 90" in early.stdout


def test_an_unused_early_child_is_gone_at_exit(tmp_path):
    proc = subprocess.Popen([str(BPGRADE), "check", str(tmp_path / "missing.ipynb")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "no such file or directory" in err
    assert leftovers(proc.pid) == ([], [])


def test_a_broken_notebook_still_gets_a_graded_result(tmp_path):
    bad = tmp_path / "broken.ipynb"
    bad.write_text('{"cells": [')
    proc = subprocess.Popen([str(BPGRADE), "grade", str(bad), "--results", str(tmp_path / "r.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert (tmp_path / "r.json").exists()
    assert leftovers(proc.pid) == ([], [])


def test_notebook_hint(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "a.ipynb").write_text("{}")
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "a.py").write_text("")
    assert entry.notebook_hint(["x.ipynb"])
    assert entry.notebook_hint(["--seed", "3", str(tmp_path / "folder")])
    assert not entry.notebook_hint([str(tmp_path / "mods")])
    assert not entry.notebook_hint(["gates.py", "--rubric", "r.yaml"])
