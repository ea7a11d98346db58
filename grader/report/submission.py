"""A student's stored submission, unpacked from the gradebook and read as the grader read
it: the file that was graded, and every other code file beside it (a module the notebook
imports, a helper), so that the report shows all the code a grade came from."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

CODE = (".py", ".ipynb")
MAX_SHOWN = 2 << 20  # bytes of one other file shown


@dataclass
class Files:
    loaded: object = None  # grader.load.Loaded of the graded file, or None
    others: list = field(default_factory=list)  # [(path relative to the submission, text)]
    note: str = ""  # why something cannot be shown


def graded_files(row: Mapping[str, Any], gates: list, tmp: str | Path) -> Files:
    """The stored submission of a gradebook row, unpacked into `tmp`."""
    from backprop_grader.batch import classlist
    from backprop_grader import load
    blob = row["submission"]
    if blob is None:
        return Files(note="The gradebook does not hold this submission (it was too large to keep).")
    try:
        path = classlist.unpack(blob, tmp)
        loaded = load.load(path, class_names=gates)
    except Exception as exc:  # a damaged blob must not stop the report
        return Files(note="The stored submission could not be unpacked (%s: %s)." % (type(exc).__name__, exc))
    others = []
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.suffix.lower() not in CODE or not p.is_file() or p.is_symlink() or p == loaded.path:
                continue
            if any(part.startswith(".") for part in p.relative_to(path).parts):
                continue
            try:
                data = p.read_bytes()[:MAX_SHOWN]
            except OSError:
                continue
            others.append((str(p.relative_to(path)), data.decode("utf-8", "replace")))
    return Files(loaded, others)
