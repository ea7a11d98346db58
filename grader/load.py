"""Find a submission's code and read it, without running any of it.

A notebook is parsed here (it is data); its code cells run in the sandbox.
Anything unreadable becomes `Loaded.problem`: a graded zero with a reason.
"""
from __future__ import annotations

import io
import os
import re
import shutil
import tokenize
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from backprop_grader.errors import UsageError

MAX_FILE = 20 << 20  # bytes
MAX_COPY = 50 << 20  # bytes copied from a submission directory
SKIP_DIRS = {".ipynb_checkpoints", "__pycache__", ".git", "__MACOSX"}


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
    siblings: list = field(default_factory=list)  # .py files beside a file given alone (importable, as in Jupyter)

    @property
    def name(self) -> str:
        stem = re.sub(r"\W", "_", self.path.stem) or "submission"
        return stem if not stem[0].isdigit() else "_" + stem

    @property
    def relative(self) -> Path:
        """Where the graded file sits in the copied folder."""
        return self.path.relative_to(self.root) if self.root else Path(self.path.name)

    def config(self) -> dict:
        """What the child needs to run this submission (it runs from the file's folder)."""
        where = {"dir": str(self.relative.parent)}
        if self.kind == "notebook":
            return dict(where, kind="notebook", cells=self.cells)
        return dict(where, kind="module", path=self.relative.name, name=self.name)

    def copy_to(self, scratch: Path) -> None:
        if self.root is not None:
            copy_tree(self.root, scratch)
        budget = MAX_COPY
        for p in self.siblings:  # a file given alone: the modules beside it, as Jupyter would import them
            size = p.stat().st_size
            if size <= budget and not (scratch / p.name).exists():
                budget -= size
                shutil.copyfile(p, scratch / p.name)
        if self.kind == "module" and not self.problem:
            target = scratch / self.relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(self.source, encoding="utf-8")


def load(path: str | Path, class_names: Sequence[str] = (), *, siblings: bool = True) -> Loaded:
    """Read the submission at `path` (file or directory). A file given alone also
    gets the modules beside it that it imports, as Jupyter would find them; not
    with `siblings=False` (a class folder: the files beside it are other students')."""
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
    if root is None and siblings:
        beside = {p.stem: p for p in sorted(path.parent.glob("*.py"))
                  if p != path and not p.is_symlink() and p.is_file()}
        imported = scan(path, (), list(beside))[1]  # the rule choose_file uses for a folder
        loaded.siblings = [p for stem, p in beside.items() if stem in imported]
    return loaded


def choose_file(folder: Path, class_names: Sequence[str]) -> tuple[Path | None, list[str]]:
    """Pick the file to grade: the one that defines the most gates (a file that
    imports a sibling module counts that module's gates); on a tie, a notebook
    before a module. Returns (file or None, notes for the student)."""
    code = [p for p in regular_files(folder)
            if not p.name.startswith(".") and p.suffix.lower() in (".ipynb", ".py")]
    if not code:
        return None, ["no notebook (.ipynb) or Python module (.py) in %s" % folder.name]
    modules = [p for p in code if p.suffix.lower() == ".py"]
    found = {p: scan(p, class_names, [m.stem for m in modules]) for p in code}
    counts = {p: max([own] + [found[m][0] for m in modules if m.stem in imported])
              for p, (own, imported) in found.items()}
    best = max(counts.values())
    top = [p for p in code if counts[p] == best]
    top = [p for p in top if p.suffix.lower() == ".ipynb"] or top
    if len(top) > 1:
        return None, ["found %s and could not tell which one to grade; submit one, or put the "
                      "gate classes in one of them" % ", ".join(p.name for p in code)]
    chosen, others = top[0], [p.name for p in code if p != top[0]]
    if not others:
        return chosen, []
    why = ", the file that defines the most gates" if best and found[chosen][0] == best else ""
    return chosen, ["graded %s%s; %s can be imported from it" % (chosen.name, why, ", ".join(others))]


def scan(path: Path, class_names: Sequence[str], module_names: Sequence[str]) -> tuple[int, set[str]]:
    """(gate classes the file's text defines, sibling modules it imports), read
    line by line so that a huge file never sits in memory. It is not run."""
    classes = [class_pattern([n]) for n in class_names]
    imports = {m: re.compile(r"(from\s+%s\s+import|import\s+%s\b)" % (re.escape(m), re.escape(m)))
               for m in module_names if m != path.stem}
    defined, imported, size = set(), set(), 0
    try:
        with open(path, "rb") as f:
            for raw in iter(lambda: f.readline(1 << 16), b""):  # a huge line comes in pieces
                size += len(raw)
                if size > MAX_FILE:
                    break
                line = raw[:10000].decode("utf-8", errors="replace")
                defined.update(k for k, c in enumerate(classes) if c.search(line))
                imported.update(m for m, c in imports.items() if c.search(line))
    except OSError:
        pass
    return len(defined), imported


def cell_source(cell: dict) -> str:
    """A notebook cell's source as one string (the format allows a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def class_pattern(names: list, at: str = "anywhere") -> re.Pattern:
    """A pattern for "this code defines class NAME" (or function NAME, for a function
    gate; any of `names`; group 1 is the name), read as text. `at`: "anywhere" in a line (finding the file or cell that
    may define it, leniently), "line" at the start of a line, indented or not, or
    "top" at the start of a line only (a module's top level). Use with re.M."""
    prefix = {"anywhere": "", "line": "^[ \t]*", "top": "^"}[at]
    return re.compile(r"%s(?:class|def)\s+(%s)\b" % (prefix, "|".join(map(re.escape, names))), re.M)


def read_text(path: Path, python: bool = False) -> tuple[str | None, str]:
    """The file as text, or a reason it cannot be graded. Python source may
    declare its encoding (PEP 263); notebooks are always UTF-8."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE + 1)  # never more than that into memory
    except OSError as exc:
        return None, "could not read %s: %s" % (path.name, exc.strerror)
    if len(data) > MAX_FILE:
        return None, "%s is larger than %d MB" % (path.name, MAX_FILE >> 20)
    if b"\0" in data:
        return None, "%s is a binary file, not Python source or a notebook" % path.name
    encoding = "utf-8-sig"
    if python:
        try:
            encoding = tokenize.detect_encoding(io.BytesIO(data).readline)[0]
        except SyntaxError:  # an unknown encoding name: report it as not UTF-8
            pass
    try:
        return data.decode(encoding), ""
    except UnicodeDecodeError as exc:
        return None, "%s is not UTF-8 text (byte %d): save it as UTF-8" % (path.name, exc.start)


def read_module(path: Path) -> Loaded:
    text, problem = read_text(path, python=True)
    if text and EXPORTED.search(text):
        return exported_notebook(path, text)
    return Loaded(path, "module", source=text or "", problem=problem)


# `jupyter nbconvert --to script` output: "# In[3]:" cell markers, magics as get_ipython()
EXPORTED = re.compile(r"^# In\[[ \d]*\]:\s*$|^get_ipython\(\)\.", re.M)


def exported_notebook(path: Path, text: str) -> Loaded:
    """A notebook exported as a script runs like the notebook it came from."""
    parts = re.split(r"^# In\[[ \d]*\]:\s*$", text, flags=re.M)
    cells = [(k + 1, src.strip("\n")) for k, src in enumerate(p for p in parts if p.strip())]
    return Loaded(path, "notebook", cells=cells,
                  notes=["%s looks like a notebook exported as a script; its cells ran as in "
                         "Jupyter" % path.name])


def read_notebook(path: Path) -> Loaded:
    text, problem = read_text(path)
    if problem:
        return Loaded(path, "notebook", problem=problem)
    import nbformat  # here: reading code as text (cell_source, class_pattern) needs none of it

    invalid = {}  # reads() validates once and leaves the error here
    try:
        with warnings.catch_warnings():  # notebooks without cell ids are fine
            warnings.simplefilter("ignore")
            nb = nbformat.reads(text, as_version=4, capture_validation_error=invalid)
    except Exception as exc:  # nbformat raises several kinds for bad JSON
        return Loaded(path, "notebook", problem="%s is not a valid notebook (%s)"
                      % (path.name, str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__))
    notes = []
    if "ValidationError" in invalid:
        notes.append("the notebook does not fully follow the notebook format (%s); graded anyway"
                     % invalid["ValidationError"].message[:120])
    cells, markdown, number = [], [], 0
    for cell in nb.get("cells", []):
        source = cell_source(cell)
        if cell.get("cell_type") == "code":
            number += 1
            cells.append((number, source))
        else:
            markdown.append(source)
    loaded = Loaded(path, "notebook", cells=cells, notes=notes, markdown="\n".join(markdown))
    if not any(src.strip() for _, src in cells):
        loaded.notes.append("the notebook has no code cells with code in them")
    return loaded


def regular_files(folder: str | Path) -> list[Path]:
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


def copy_tree(src: Path, dst: Path, budget: int = MAX_COPY) -> None:
    """Copy regular files (no links) up to a size budget."""
    for p in regular_files(src):
        rel = p.relative_to(src)
        size = p.stat().st_size
        if size > budget:
            continue
        budget -= size
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, dst / rel)
