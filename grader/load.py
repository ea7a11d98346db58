"""Find a submission's code and read it, without running any of it.

A notebook is parsed here (it is data); its code cells run in the sandbox.
Anything unreadable becomes `Loaded.problem`: a graded zero with a reason.
"""
import os
import re
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

MAX_FILE = 20 << 20  # bytes
MAX_COPY = 50 << 20  # bytes copied from a submission directory
SKIP_DIRS = {".ipynb_checkpoints", "__pycache__", ".git", "__MACOSX"}


class UsageError(Exception):
    """The grader was asked for something that does not exist (exit 2)."""


@dataclass
class Loaded:
    path: Path  # the file that is graded (or the path given)
    kind: str = "module"  # "module" or "notebook"
    source: str = ""  # module text
    cells: list = field(default_factory=list)  # [(cell number, source)]
    problem: str = ""  # why nothing can run; empty when fine
    notes: list = field(default_factory=list)  # things the student should know
    markdown: str = ""  # markdown text, to spot code that will not run
    root: Path = None  # directory copied into the sandbox

    @property
    def name(self):
        stem = re.sub(r"\W", "_", self.path.stem) or "submission"
        return stem if not stem[0].isdigit() else "_" + stem

    @property
    def relative(self):
        """Where the graded file sits in the copied folder."""
        return self.path.relative_to(self.root) if self.root else Path(self.path.name)

    def config(self):
        """What the child needs to run this submission (it runs from the file's folder)."""
        where = {"dir": str(self.relative.parent)}
        if self.kind == "notebook":
            return dict(where, kind="notebook", cells=self.cells)
        return dict(where, kind="module", path=self.relative.name, name=self.name)

    def copy_to(self, scratch):
        if self.root is not None:
            copy_tree(self.root, scratch)
        if self.kind == "module" and not self.problem:
            target = scratch / self.relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(self.source, encoding="utf-8")


def load(path, class_names=()):
    """Read the submission at `path` (file or directory)."""
    path = Path(path)
    if not path.exists():
        raise UsageError("%s: no such file or directory" % path)
    notes = []
    root = None
    if path.is_dir():
        root = path
        chosen, notes = choose_file(path, class_names)
        if chosen is None:
            return Loaded(path, problem=notes.pop(), notes=notes, root=root)
        path = chosen
    if path.suffix.lower() == ".ipynb":
        loaded = read_notebook(path)
    else:
        loaded = read_module(path)
    loaded.notes = notes + loaded.notes
    loaded.root = root
    return loaded


def choose_file(folder, class_names):
    """Pick the notebook or module to grade from a submission directory."""
    files = [p for p in regular_files(folder) if not p.name.startswith(".")]
    for suffix in (".ipynb", ".py"):
        found = [p for p in files if p.suffix.lower() == suffix]
        if len(found) > 1:
            ranked = sorted(found, key=lambda p: -defines(p, class_names))
            best = [p for p in ranked if defines(p, class_names) == defines(ranked[0], class_names)]
            if len(best) > 1:
                return None, ["found %d %s files (%s) and could not tell which one to grade; "
                              "submit one" % (len(found), suffix, ", ".join(p.name for p in found))]
            found = best[:1]
            notes = ["graded %s, the file that defines the most gates" % found[0].name]
            return found[0], notes
        if found:
            others = [p.name for p in files if p.suffix.lower() in (".ipynb", ".py") and p != found[0]]
            notes = ["graded %s; %s can be imported from it" % (found[0].name, ", ".join(others))] if others else []
            return found[0], notes
    return None, ["no notebook (.ipynb) or Python module (.py) in %s" % folder.name]


def defines(path, class_names):
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[:MAX_FILE]
    except OSError:
        return 0
    return sum(bool(re.search(r"class\s+%s\b" % re.escape(n), text)) for n in class_names)


def read_text(path):
    """The file as text, or a reason it cannot be graded."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, "could not read %s: %s" % (path.name, exc.strerror)
    if len(data) > MAX_FILE:
        return None, "%s is larger than %d MB" % (path.name, MAX_FILE >> 20)
    if b"\0" in data:
        return None, "%s is a binary file, not Python source or a notebook" % path.name
    try:
        return data.decode("utf-8-sig"), ""
    except UnicodeDecodeError as exc:
        return None, "%s is not UTF-8 text (byte %d): save it as UTF-8" % (path.name, exc.start)


def read_module(path):
    text, problem = read_text(path)
    return Loaded(path, "module", source=text or "", problem=problem)


def read_notebook(path):
    text, problem = read_text(path)
    if problem:
        return Loaded(path, "notebook", problem=problem)
    try:
        with warnings.catch_warnings():  # notebooks without cell ids are fine
            warnings.simplefilter("ignore")
            nb = nbformat.reads(text, as_version=4, capture_validation_error={})
    except Exception as exc:  # nbformat raises several kinds for bad JSON
        return Loaded(path, "notebook", problem="%s is not a valid notebook (%s)"
                      % (path.name, str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__))
    notes = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        notes.append("the notebook does not fully follow the notebook format (%s); graded anyway"
                     % exc.message[:120])
    cells, markdown, number = [], [], 0
    for cell in nb.get("cells", []):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if cell.get("cell_type") == "code":
            number += 1
            cells.append((number, source))
        else:
            markdown.append(source)
    loaded = Loaded(path, "notebook", cells=cells, notes=notes, markdown="\n".join(markdown))
    if not any(src.strip() for _, src in cells):
        loaded.notes.append("the notebook has no code cells with code in them")
    return loaded


def regular_files(folder):
    """Regular files below `folder`, never through a symbolic link: a link could
    point at the reference solution or another student's work."""
    found = []
    for top, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(names):
            p = Path(top) / name
            if not p.is_symlink() and p.is_file():
                found.append(p)
    return found


def copy_tree(src, dst, budget=MAX_COPY):
    """Copy regular files (no links) up to a size budget."""
    for p in regular_files(src):
        rel = p.relative_to(src)
        size = p.stat().st_size
        if size > budget:
            continue
        budget -= size
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, dst / rel)
