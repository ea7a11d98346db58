"""The grader's temporary folders: `bpgrade-<kind><pid>-...` in the system's
temporary folder. A killed grader (kill -9 skips all cleanup) leaves its
folders behind, with copies of submissions in them; the next grader removes
those whose pid no longer runs.
"""
from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

LEFTOVER = re.compile(r"bpgrade-(?:[a-z]+-)?(\d+)-\w+")
STALE = 3600  # seconds a dead grader's folder stays untouched before it is removed
_swept = []


def temp_dir(kind: str = "") -> Path:
    """A new folder `bpgrade-<kind><pid>-...` in the system's temporary folder.
    The first one a process makes also sweeps away what killed graders left."""
    if not _swept:
        _swept.append(True)
        sweep()
    return Path(tempfile.mkdtemp(prefix="bpgrade-%s%d-" % (kind, os.getpid())))


def sweep(folder: Path | None = None, now: float | None = None) -> None:
    """Remove the folders of graders that are gone: named with a pid that no
    longer runs, this user's, and untouched for STALE seconds."""
    now = time.time() if now is None else now
    for path, pid, info in folders(folder):
        if info.st_uid == os.getuid() and now - info.st_mtime >= STALE and not running(pid):
            shutil.rmtree(path, ignore_errors=True)


def remove_of(pid: int) -> None:
    """Remove the folders of grader process `pid`, which has ended (a worker
    that died, or was killed when a batch stopped early)."""
    for path, owner, _ in folders(pattern="bpgrade-*%d-*" % pid):
        if owner == pid:
            shutil.rmtree(path, ignore_errors=True)


def folders(folder: Path | None = None, pattern: str = "bpgrade-*") -> Iterator[tuple[Path, int, os.stat_result]]:
    """(path, pid, lstat) of each grader folder in `folder` (default: the system's
    temporary folder): real directories (not links) named like temp_dir's."""
    for path in Path(folder or tempfile.gettempdir()).glob(pattern):
        found = LEFTOVER.fullmatch(path.name)
        try:
            info = path.lstat()
        except OSError:
            continue
        if found and stat.S_ISDIR(info.st_mode):
            yield path, int(found.group(1)), info


def running(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, ended but not yet reaped, does not)."""
    if os.path.isdir("/proc/self"):
        try:
            with open("/proc/%d/stat" % pid, "rb") as f:
                return f.read().rsplit(b")", 1)[-1].split()[:1] != [b"Z"]
        except OSError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's, or not a pid at all
        return True
    return True
