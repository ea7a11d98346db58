"""`bpgrade release`: turn an instructor's source notebook or module into the
student version.

Solution regions sit between `### BEGIN SOLUTION` and `### END SOLUTION`
comment lines, on lines of their own (the nbgrader / Otter convention). Each
region becomes

    # YOUR CODE HERE
    raise NotImplementedError()

at the indentation of the code it replaces. In a notebook every output and
execution count is cleared, cell and notebook metadata keep only a short list
of harmless keys, code cells lose attachments, and the result must pass
nbformat validation. Before anything is written, the released file is scanned
for solution text (cell sources, outputs, metadata, attachments); a hit is an
error, not a warning.

Bad input is a `ReleaseError` naming the file, the cell and the line.
"""
from __future__ import annotations

import argparse
import ast
import base64
import binascii
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection, Iterable, Mapping, Sequence

import nbformat

from backprop_grader.judge import rubric as rubric_mod
from backprop_grader.errors import ReleaseError, UsageError

PLACEHOLDER = ("# YOUR CODE HERE", "raise NotImplementedError()")
# A marker is a comment line of its own. Any spelling of the words is taken as
# a marker, so that a typo cannot let a solution through unnoticed.
MARKER_LINE = re.compile(r"^([ \t]*)#+[ \t]*(BEGIN|END)[ \t]+SOLUTION\b.*$", re.I)
MARKER_ANYWHERE = re.compile(r"#+[ \t]*(BEGIN|END)[ \t]+SOLUTION\b", re.I)
# Metadata a student notebook keeps; everything else (widget state, extension
# caches, nbgrader or Otter records...) is dropped.
NOTEBOOK_METADATA = ("kernelspec", "language_info", "title", "authors")
CELL_METADATA = ("tags", "editable", "deletable", "collapsed", "scrolled", "jupyter", "name",
                 "slideshow")
MIN_SECRET = 6  # shorter solution lines ("pass", "dx") are not searched for
# Files in an assignment folder that are never released, markers or not: tests and
# test submissions (a folder release takes only the sources, see `sources`).
TEST_NAME = re.compile(r"^(test_.*|.*_test\.py|conftest\.py|.*(submission|correct|wrong|buggy|student).*)$", re.I)


class MarkerError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


@dataclass
class Region:
    begin: int  # line of the BEGIN marker (1-based, in the source text)
    end: int = 0  # line of the END marker
    marker_indent: str = ""
    lines: list = field(default_factory=list)  # the solution lines between the markers
    placeholder: int = 0  # line of `raise NotImplementedError()` in the released text

    @property
    def indent(self) -> str:
        """The indentation of the code the region replaces (the marker's, when it has none)."""
        for wanted in (lambda s: not s.startswith("#"), lambda s: True):
            for line in self.lines:
                s = line.strip()
                if s and wanted(s):
                    return line[:len(line) - len(line.lstrip())]
        return self.marker_indent


def parse(text: str) -> list[Region]:
    """The solution regions in `text`, in order. Raises MarkerError."""
    regions, current = [], None
    for number, line in enumerate(text.splitlines(), 1):
        m = MARKER_LINE.match(line)
        if m is None:
            if MARKER_ANYWHERE.search(line):
                raise MarkerError(number, "a solution marker must be a comment on a line of its own")
            if current is not None:
                current.lines.append(line)
            continue
        if m.group(2).upper() == "BEGIN":
            if current is not None:
                raise MarkerError(number, "BEGIN SOLUTION inside the solution region that begins "
                                          "at line %d (regions cannot nest)" % current.begin)
            current = Region(number, marker_indent=m.group(1))
        else:
            if current is None:
                raise MarkerError(number, "END SOLUTION without a BEGIN SOLUTION before it")
            current.end = number
            regions.append(current)
            current = None
    if current is not None:
        raise MarkerError(current.begin, "BEGIN SOLUTION has no matching END SOLUTION")
    return regions


def strip(text: str) -> tuple[str, list[Region]]:
    """(released text, regions): each region replaced by the placeholder."""
    regions = parse(text)
    if not regions:
        return text, regions
    lines = text.splitlines()
    out, k = [], 0
    for region in regions:
        out.extend(lines[k:region.begin - 1])
        out.append(region.indent + PLACEHOLDER[0])
        out.append(region.indent + PLACEHOLDER[1])
        region.placeholder = len(out)
        k = region.end
    out.extend(lines[k:])
    released = "\n".join(out)
    if text.endswith(("\n", "\r")):
        released += "\n"
    return released, regions


def public_text(text: str) -> str:
    """The source text outside solution regions, markers excluded."""
    regions = parse(text)
    inside = set()
    for r in regions:
        inside.update(range(r.begin, r.end + 1))
    return "\n".join(line for n, line in enumerate(text.splitlines(), 1) if n not in inside)


def secrets(regions: Iterable[Region], public: str = "") -> set[str]:
    """Text from solution regions that must not appear in a released file:
    each solution line, its code and its comment, unless the text is public anyway."""
    found = set()
    for region in regions:
        for line in region.lines:
            s = line.strip()
            candidates = {s}
            if "#" in s:
                code, _, comment = s.partition("#")
                candidates |= {code.strip(), comment.strip("# \t")}
            found |= {c for c in candidates
                      if len(c) >= MIN_SECRET and re.search(r"\w", c) and c not in public}
    return found


def find_leaks(obj: Any, secret_texts: Iterable[str], path: str = "notebook") -> list[tuple[str, str]]:
    """[(where, secret)] for every string (keys too) in a JSON-like object that
    holds solution text."""
    hits = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            hits += find_leaks(str(key), secret_texts, "%s (a key)" % path)
            hits += find_leaks(value, secret_texts, "%s.%s" % (path, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            hits += find_leaks(value, secret_texts, "%s[%d]" % (path, i))
    elif isinstance(obj, str):
        hits += [(path, s) for s in sorted(secret_texts) if s in obj]
    return hits


def notebook_leaks(nb: Mapping[str, Any], secret_texts: Iterable[str]) -> list[tuple[str, str]]:
    """find_leaks over a whole notebook, with text-like attachments decoded too."""
    hits = find_leaks(nb, secret_texts)
    for i, cell in enumerate(nb.get("cells", [])):
        for fname, bundle in (cell.get("attachments") or {}).items():
            for mime, data in (bundle or {}).items():
                if isinstance(data, str) and (mime.startswith("text/") or mime.endswith(("+xml", "/json"))):
                    hits += find_leaks(decode(data), secret_texts,
                                       "notebook.cells[%d].attachments.%s (decoded)" % (i, fname))
    return hits


def decode(data: str) -> str:
    try:
        return base64.b64decode(data, validate=False).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return ""


# ---------------------------------------------------------------- Python code

def transform(source: str, notebook: bool) -> str:
    """Cell source as plain Python (IPython magics turned into calls)."""
    if not notebook:
        return source
    from IPython.core.inputtransformer2 import TransformerManager
    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # IPython's transformer fails on some incomplete input
        return source


def syntax_error(source: str, notebook: bool) -> SyntaxError | None:
    """The SyntaxError compiling `source` raises, or None."""
    flags = ast.PyCF_ONLY_AST | getattr(ast, "PyCF_ALLOW_TOP_LEVEL_AWAIT", 0)
    try:
        compile(transform(source, notebook), "<source>", "exec", flags=flags, dont_inherit=True)
    except SyntaxError as exc:
        return exc
    except ValueError as exc:  # null bytes
        return SyntaxError(str(exc))
    return None


def definitions(source: str, notebook: bool) -> dict[str, tuple[int, int]] | None:
    """{"Class": (first, last line), "Class.method": (first, last line)} for
    top-level classes; None when the source cannot be parsed line for line."""
    code = transform(source, notebook)
    if len(code.splitlines()) != len(source.splitlines()):
        return None  # a cell magic: line numbers would not match
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    spans = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            spans[node.name] = (first, node.end_lineno)
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    first = min([item.lineno] + [d.lineno for d in item.decorator_list])
                    spans["%s.%s" % (node.name, item.name)] = (first, item.end_lineno)
    return spans


def check_code(source: str, released: str, regions: list[Region], given: Collection[str], notebook: bool,
               where: str) -> None:
    """Regions must not touch given code, and the released code must still compile."""
    if regions and given:
        spans = definitions(source, notebook)
        for region in regions:
            for name in given:
                span = (spans or {}).get(name)
                if span and span[0] <= region.end and region.begin <= span[1]:
                    raise ReleaseError("%s, lines %d-%d: a solution region in %s, which the rubric "
                                       "marks as given" % (where, region.begin, region.end, name))
    if regions and syntax_error(source, notebook) is None:
        exc = syntax_error(released, notebook)
        if exc is not None:
            raise ReleaseError("%s: the released code does not compile (line %s: %s); put each "
                               "solution region around whole statements"
                               % (where, exc.lineno, exc.msg))


# ---------------------------------------------------------------- files

@dataclass
class Released:
    source: Path
    name: str  # file name in the output folder
    kind: str  # "notebook" or "module"
    text: str  # the released file's content
    regions: list = field(default_factory=list)  # [(where, Region)]
    placeholders: set = field(default_factory=set)  # grader `where` strings of the raise lines
    public: str = ""  # source text outside solution regions
    notes: list = field(default_factory=list)

    @property
    def secrets(self) -> set[str]:
        return secrets([r for _, r in self.regions], self.public)


def read_source(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReleaseError("%s: cannot read it (%s)" % (path, exc)) from None


def release_module(path: str | Path, given: Collection[str] = ()) -> Released:
    path = Path(path)
    text = read_source(path)
    try:
        released, regions = strip(text)
    except MarkerError as exc:
        raise ReleaseError("%s, line %d: %s" % (path.name, exc.line, exc.message)) from None
    error = syntax_error(text, False)
    if error is not None:
        raise ReleaseError("%s, line %s: the source does not compile: %s"
                           % (path.name, error.lineno, error.msg))
    check_code(text, released, regions, given, False, path.name)
    out = Released(path, path.name, "module", released, [(path.name, r) for r in regions],
                   {"%s, line %d" % (path.name, r.placeholder) for r in regions}, public_text(text))
    leaks = find_leaks(released, out.secrets, path.name)
    if leaks:  # cannot happen unless stripping is wrong; never write a leak
        raise ReleaseError("%s: solution text left in the released module: %r" % (path.name, leaks[0][1]))
    return out


def release_notebook(path: str | Path, given: Collection[str] = (), name: str | None = None) -> Released:
    path = Path(path)
    text = read_source(path)
    try:
        nb = nbformat.reads(text, as_version=4, capture_validation_error={})
    except Exception as exc:  # nbformat raises several kinds for bad JSON
        why = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ReleaseError("%s: not a readable notebook (%s)" % (path.name, why)) from None
    out = Released(path, name or path.name, "notebook", "")
    public, ids, code_number = [], set(), 0
    for index, cell in enumerate(nb.cells, 1):
        kind = cell.get("cell_type")
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if kind == "code":
            code_number += 1
        cell_id = cell.get("id")
        if (not isinstance(cell_id, str) or cell_id in ids
                or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", cell_id)):
            cell_id = "cell-%d" % index
            while cell_id in ids:
                cell_id += "-x"
        ids.add(cell_id)
        where = "%s: cell %d (%s, id %r)" % (path.name, index, kind, cell_id)
        if kind != "code":
            if MARKER_ANYWHERE.search(source):
                line = next(n for n, text in enumerate(source.splitlines(), 1)
                            if MARKER_ANYWHERE.search(text))
                raise ReleaseError("%s, line %d: solution markers in a %s cell; solution regions "
                                   "belong in code cells" % (where, line, kind))
            public.append(source)
            cell["id"] = cell_id
            cell["metadata"] = keep(cell.get("metadata", {}), CELL_METADATA)
            continue
        try:
            released, regions = strip(source)
        except MarkerError as exc:
            raise ReleaseError("%s, line %d: %s" % (where, exc.line, exc.message)) from None
        if regions and syntax_error(source, True) is not None:
            exc = syntax_error(source, True)
            raise ReleaseError("%s, line %s: the source does not compile: %s" % (where, exc.lineno, exc.msg))
        check_code(source, released, regions, given, True, where)
        public.append(public_text(source))
        out.regions += [(where, r) for r in regions]
        out.placeholders |= {"cell %d, line %d" % (code_number, r.placeholder) for r in regions}
        new = nbformat.v4.new_code_cell(released)
        new["id"] = cell_id
        new["metadata"] = keep(cell.get("metadata", {}), CELL_METADATA)
        nb.cells[index - 1] = new
    nb.metadata = keep(nb.get("metadata", {}), NOTEBOOK_METADATA)
    nb.nbformat, nb.nbformat_minor = 4, max(5, int(nb.get("nbformat_minor", 0)))
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        raise ReleaseError("%s: the released notebook would not be valid: %s"
                           % (path.name, exc.message[:300])) from None
    out.public = "\n".join(public)
    leaks = notebook_leaks(nb, out.secrets)
    if leaks:
        where, secret = leaks[0]
        raise ReleaseError("%s: solution text would be released in %s: %r (remove it from the "
                           "source)" % (path.name, describe_path(nb, where), secret))
    out.text = nbformat.writes(nb, version=4)
    if not out.regions:
        out.notes.append("%s has no solution regions" % path.name)
    return out


def keep(metadata: Mapping[str, Any], allowed: Collection[str]) -> dict[str, Any]:
    return {k: v for k, v in dict(metadata).items() if k in allowed}


def describe_path(nb: Any, where: str) -> str:
    m = re.match(r"notebook\.cells\[(\d+)\](.*)", where)
    if not m:
        return where.replace("notebook", "the notebook", 1)
    return "cell %d%s" % (int(m.group(1)) + 1, (" (%s)" % m.group(2).lstrip(".")) if m.group(2) else "")


# ---------------------------------------------------------------- assignments

def reference_files(rub: rubric_mod.Rubric | None) -> set[Path]:
    """Files holding the rubric's reference gates: never released."""
    found = set()
    for gate in rub.gates.values() if rub else ():
        for value in vars(gate.reference).values():
            code = getattr(value, "__code__", None)
            if code is not None:
                found.add(Path(code.co_filename).resolve())
    return found


def has_markers(path: Path) -> bool:
    try:
        return bool(MARKER_ANYWHERE.search(path.read_text(encoding="utf-8-sig", errors="replace")))
    except OSError:
        return False


def sources(path: str | Path, rub: rubric_mod.Rubric | None = None) -> list[Path]:
    """The files to release for SOURCE: a notebook (with the modules beside it that
    hold solution regions), one module, or every file with solution regions in a folder."""
    path = Path(path)
    if not path.exists():
        raise UsageError("%s: no such file or directory" % path)
    private = reference_files(rub)
    if path.is_dir():
        folder, chosen = path, []
    elif path.suffix.lower() == ".ipynb":
        folder, chosen = path.parent, [path]
    elif path.suffix.lower() == ".py":
        return [path]
    else:
        raise UsageError("%s: not a notebook (.ipynb), a module (.py) or a folder" % path)
    for p in sorted(folder.iterdir()):
        if (p.is_file() and p not in chosen and not p.name.startswith(".") and not TEST_NAME.match(p.name)
                and p.suffix.lower() in ((".ipynb", ".py") if path.is_dir() else (".py",))
                and p.resolve() not in private and has_markers(p)):
            chosen.append(p)
    if not chosen:
        raise UsageError("%s: no notebook or module with solution regions" % path)
    return sorted(chosen, key=lambda p: (p.suffix.lower() != ".ipynb", p.name))


def target_name(path: Path) -> str:
    """`source.ipynb` is released under its folder's name (gates/source.ipynb -> gates.ipynb)."""
    if path.stem == "source" and path.suffix.lower() == ".ipynb":
        stem = re.sub(r"\W", "_", path.resolve().parent.name) or "assignment"
        return stem + ".ipynb"
    return path.name


def find_rubric(path: str | Path, name: str | None = None) -> Path:
    """The rubric for an assignment: --rubric, else rubric.yaml beside the source,
    else the packaged default."""
    if name:
        return rubric_mod.find(name)
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    for candidate in ("rubric.yaml", "rubric.yml"):
        if (folder / candidate).is_file():
            return folder / candidate
    return rubric_mod.find("gates")


def build(path: str | Path, rub: rubric_mod.Rubric | None = None) -> list[Released]:
    """Release every source for PATH in memory: [Released]. Writes nothing."""
    given = list(getattr(rub, "given", []) or [])
    out, names = [], {}
    for src in sources(path, rub):
        if src.suffix.lower() == ".ipynb":
            item = release_notebook(src, given, target_name(src))
        else:
            item = release_module(src, given)
        if item.name in names:
            raise ReleaseError("%s and %s would both be released as %s"
                               % (names[item.name].name, src.name, item.name))
        names[item.name] = src
        out.append(item)
    return out


def write(items: Sequence[Released], out_dir: str | Path) -> list[Path]:
    out_dir = Path(out_dir)
    for item in items:
        target = out_dir / item.name
        if target.exists() and target.resolve() == item.source.resolve():
            raise UsageError("%s: the output would overwrite the source; choose another -o folder" % target)
        if out_dir.exists() and out_dir.resolve() == item.source.resolve().parent:
            raise UsageError("%s: the output folder is the source folder; choose another -o folder" % out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for item in items:
        target = out_dir / item.name
        target.write_text(item.text, encoding="utf-8")
        written.append(target)
    return written


def run(args: argparse.Namespace) -> int:
    """The `bpgrade release` command: the student files and the kit around them."""
    from backprop_grader.authoring import kit
    rub = rubric_mod.load(find_rubric(args.source, args.rubric))
    if args.student_rubric and Path(args.student_rubric).resolve() == Path(rub.path).resolve():
        raise UsageError("%s: the student rubric would overwrite the rubric itself" % args.student_rubric)
    try:
        items = build(args.source, rub)
        written = write(items, args.output)
        for item, target in zip(items, written):
            print("wrote %s (%s, %d solution region%s)" % (
                target, item.kind, len(item.regions), "" if len(item.regions) == 1 else "s"))
            for note in item.notes:
                print("bpgrade: warning: %s" % note, file=sys.stderr)
        kit.build(args.source, args.output, rub, items, args.student_rubric)
    except ReleaseError as exc:
        print("bpgrade: error: %s" % exc.message, file=sys.stderr)
        return 2
    return 0
