"""Find a class's submissions: folders, zip exports (LMS, Gradescope), lists.

The student id is the folder name or the file name without its suffix;
`--id-pattern REGEX` takes it from the name instead (its group `id`, else its
first group, else the whole match). Several files that map to one student are
graded together as one folder, and reported. Also: hashing a submission, and
packing it into the gradebook so that a regrade can replay it.
"""
from __future__ import annotations

import hashlib
import io
import re
import shutil
import stat
import sys
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from backprop_grader.batch import lms_names
from backprop_grader.batch.gradebook import inside
from backprop_grader.load import SKIP_DIRS, regular_files
from backprop_grader.tempdirs import temp_dir
from backprop_grader.errors import BatchError, ZipRefused

SUFFIXES = (".py", ".ipynb")
METADATA = "submission_metadata.yml"  # Gradescope's export: folder -> submitters
MAX_EXTRACT = 2 << 30  # bytes extracted from one class export, at most
MAX_MEMBERS = 50_000  # files in one class export, at most
MAX_STUDENT_BYTES = 100 << 20  # bytes of one student's files: their own zip, or their entry in an export
MAX_STUDENT_MEMBERS = 2_000  # files in one student's zip, or in their entry in an export
MAX_MEMBER = 64 << 20  # bytes in one zip member, at most
MAX_STORED = 8 << 20  # bytes of zipped submission kept in the gradebook for replay
CHUNK = 1 << 20  # bytes copied at a time while extracting (and counted)
ID_MAX = 200


@dataclass(frozen=True)
class Limits:
    """What one zip (or one student's part of it) may hold."""
    members: int  # files
    total: int  # bytes, all files together
    member: int  # bytes, one file


def export_limits() -> Limits:
    """A class export as a whole (read at call time, so tests can lower the constants)."""
    return Limits(MAX_MEMBERS, MAX_EXTRACT, MAX_MEMBER)


def student_limits() -> Limits:
    """One student's own zip, or their entry in a class export."""
    return Limits(MAX_STUDENT_MEMBERS, MAX_STUDENT_BYTES, MAX_MEMBER)


@dataclass
class Entry:
    """One student's submission, found in the inputs."""
    student: str
    path: Path  # what is graded: a file, or a folder
    source: str  # where it came from, for people: "export.zip:submission_1"
    notes: list = field(default_factory=list)  # shown to the student with the results
    lms: str = ""  # the LMS whose export it came from: canvas, moodle, blackboard, d2l, gradescope
    display: str = ""  # the student's name as the export shows it
    submitted_at: str = ""  # ISO 8601, when the export says
    late: bool | None = None  # None: the export does not say
    fields: dict = field(default_factory=dict)  # other ids the export carries (lms_names.Name.fields)


# ---------------------------------------------------------------------------- student ids

# Unicode categories an id may not contain: controls, format marks (bidi overrides,
# zero-width), surrogates, private use, line and paragraph separators.
BAD_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}


def check_id(sid: object) -> str:
    """The student id, stripped; ValueError(why) when it cannot name a student.

    Every source of ids goes through here (folder and file names, --id-pattern,
    lists, zip names, Gradescope metadata in a batch and on Gradescope): ids become
    folder names under --results-dir and seed the grading.
    """
    sid = str(sid if sid is not None else "").strip()
    if not sid:
        raise ValueError("empty")
    if len(sid) > ID_MAX:
        raise ValueError("longer than %d characters" % ID_MAX)
    if sid.startswith("."):
        raise ValueError("starts with '.'")
    for c in sid:
        if c in "/\\" or unicodedata.category(c) in BAD_CATEGORIES:
            raise ValueError("contains %s" % ("'%s'" % c if c in "/\\" else "the character U+%04X" % ord(c)))
    return sid


def submitters_id(users: object) -> str | None:
    """A Gradescope submission's student id: each submitter's sid, else email, else name,
    joined by '+' for a group; None when there is none. Not yet checked (see check_id).

    Shared by `bpgrade batch` (submission_metadata.yml) and run_autograder
    (submission_metadata.json): seeds depend on the id, so both must agree.
    """
    ids = []
    for s in users if isinstance(users, list) else []:
        s = strip_colons(s)
        ident = (s.get("sid") or s.get("email") or s.get("name")) if isinstance(s, dict) else None
        if ident:
            ids.append(str(ident).strip())
    return "+".join(ids) or None


# ---------------------------------------------------------------------------- discovery

class Inputs:
    """The submissions in the inputs. Owns the temporary folder zips are extracted to."""

    def __init__(self, paths: Iterable[str | Path] = (), id_pattern: str | None = None,
                 list_file: str | Path | None = None) -> None:
        self.pattern = compile_pattern(id_pattern)
        self.tmp = temp_dir("batch-")
        self.entries, self.warnings = [], []
        self._dups, self._unmatched, self._bad_ids = {}, [], []
        self._zips = 0  # student zips extracted, each to its own folder
        self.submitted = {}  # Gradescope folder: created_at
        try:
            self._discover([Path(p) for p in paths], list_file)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Inputs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _discover(self, paths, list_file):
        listed = read_list(list_file) if list_file else []
        if not paths and not listed:
            raise BatchError("no submissions given: name a folder with one entry per student, "
                             "a .zip export, or the submissions themselves")
        for p in paths + [p for _, p in listed]:
            if not p.exists():
                raise BatchError("%s: no such file or directory" % p)
        found = []
        one_folder = len(paths) == 1 and not listed and paths[0].is_dir()
        for p in paths:
            if p.is_file() and p.suffix.lower() == ".zip":
                found += self._zip(p)
            elif one_folder:
                found += self._class_dir(p, str(p).rstrip("/") + "/")
            elif p.is_dir() or p.suffix.lower() in SUFFIXES:
                sid = self._id(str(p).rstrip("/"), p.name if p.is_dir() else p.stem, p.name)
                if sid is not None:
                    found.append(Entry(sid, p, str(p)))
            else:
                raise BatchError("%s: not a folder, a .zip export, a notebook (.ipynb) or a "
                                 "Python module (.py)" % p)
        for sid, p in listed:
            sid = (self._checked(sid, "%s: %s" % (list_file, p)) if sid
                   else self._id(str(p), p.name if p.is_dir() else p.stem, str(p)))
            if sid is not None:
                found.append(Entry(sid, p, str(p)))
        by_id = {}
        for e in found:
            by_id.setdefault(e.student, []).append(e)
        for sid, es in by_id.items():
            if len(es) > 1:
                self._dups.setdefault(sid, []).extend(e.source for e in es)
        self._raise_problems()
        if not found:
            where = ", ".join(str(p) for p in paths) or str(list_file)
            raise BatchError("%s: no submissions found (expected one folder, .py, .ipynb or .zip "
                             "file per student)%s" % (where, "; " + "; ".join(self.warnings)
                                                      if self.warnings else ""))
        self.entries = sorted(found, key=lambda e: e.student)

    def _raise_problems(self):
        problems = []
        if self._unmatched:
            problems.append("--id-pattern %r does not match %d name(s): %s" % (
                self.pattern.pattern, len(self._unmatched), listing(self._unmatched)))
        if self._bad_ids:
            problems.append("%d unusable student id(s) (empty, too long, starting with '.', or "
                            "with / \\ or control characters): %s"
                            % (len(self._bad_ids), listing(self._bad_ids)))
        if self._dups:
            problems.append("%d duplicate student id(s): %s. Each student needs one entry; use "
                            "--id-pattern to tell them apart, or remove the extra ones" % (
                                len(self._dups), "; ".join(
                                    "%r from %s" % (sid, listing(srcs, sep=" and "))
                                    for sid, srcs in list(self._dups.items())[:10])))
        if problems:
            raise BatchError("\n  ".join(problems))

    def _id(self, name_for_pattern, default, shown):
        """The student id for one entry; None (and a problem noted) when there is none."""
        if self.pattern is not None:
            m = self.pattern.search(name_for_pattern)
            if m is None:
                self._unmatched.append(shown)
                return None
            sid = (m.group("id") if "id" in self.pattern.groupindex
                   else m.group(1) if self.pattern.groups else m.group(0))
        else:
            sid = default
        return self._checked(sid, shown)

    def _checked(self, sid, shown):
        """check_id, with a bad id noted (as `shown (why)`) rather than raised."""
        try:
            return check_id(sid)
        except ValueError as why:
            self._bad_ids.append("%s (%r: %s)" % (shown, sid, why))
            return None

    def _class_dir(self, root, prefix, names=None, refused=None):
        """Entries of a folder with one entry per student. `refused`: {name: why} of
        entries of an export left unextracted (too large): graded as empty, with the reason."""
        names, refused = names or {}, refused or {}
        listed = [p for p in sorted(root.iterdir())
                  if not (p.name in SKIP_DIRS or p.name.startswith(".") or p.name == METADATA)]
        if self.pattern is None and not names:
            rec = lms_names.detect([(p.name, p.is_dir() and not p.is_symlink()) for p in listed])
            if rec is not None:
                return self._lms_dir(rec, listed, prefix, refused)
        candidates, skipped = [], []  # (path to grade, notes, name in the inputs, id when no pattern)
        for p in listed:
            stem = p.name if p.is_dir() else p.stem
            if p.name in refused:
                candidates.append((*self._refused(p.name, prefix, refused[p.name]), p.name, stem))
            elif p.is_symlink():
                skipped.append(p.name + " (a link)")
            elif p.is_dir() or p.suffix.lower() in SUFFIXES:
                candidates.append((p, [], p.name, stem))
            elif p.suffix.lower() == ".zip":
                candidates.append((*self._student_zip(p, prefix), p.name, stem))
            else:
                skipped.append(p.name)
        if skipped:
            self.warnings.append("skipped %d entr%s in %s that %s neither a folder nor a .py, "
                                 ".ipynb or .zip file: %s" % (
                                     len(skipped), "y" if len(skipped) == 1 else "ies",
                                     prefix.rstrip("/:") or str(root),
                                     "is" if len(skipped) == 1 else "are", listing(skipped)))
        groups = {}
        for p, notes, name, stem in candidates:
            if self.pattern is None and name in names:
                sid = names[name]
            else:
                sid = self._id(name, stem, prefix + name)
            if sid is not None:
                groups.setdefault(sid, []).append((p, name, notes))
        entries = []
        for sid, members in groups.items():
            if len(members) == 1:
                p, name, notes = members[0]
                entries.append(Entry(sid, p, prefix + name, list(notes)))
            elif any(p.is_dir() for p, _, _ in members):
                self._dups.setdefault(sid, []).extend(prefix + name for _, name, _ in members)
            else:
                entry = self._group(sid, [p for p, _, _ in members], prefix)
                entry.notes += [n for _, _, notes in members for n in notes]
                entries.append(entry)
        if names:  # a Gradescope export
            for e in entries:
                e.lms = "gradescope"
                e.submitted_at = self.submitted.get(Path(e.source.rpartition(":")[2]).name, "")
        return entries

    def _lms_dir(self, rec, listed, prefix, refused):
        """Entries of an export folder named the way `rec`'s LMS names its files
        (lms_names): ids from the names, a student's files grouped under their own names,
        the latest attempt kept, text and other non-code entries skipped and reported."""
        shown = prefix.rstrip("/:") or "the folder"
        parsed, skipped, infos = [], [], {}
        for p in listed:
            if p.name in rec.metadata:
                continue
            if p.is_symlink():
                skipped.append((p.name, "a link"))
                continue
            n = rec.parse(p.name, p.is_dir())
            if n is None:
                skipped.append((p.name, "not named as %s names its files" % lms_names.TITLES[rec.lms]))
            elif n.kind == "info":
                infos[(n.student, n.submitted_at)] = p
            else:
                parsed.append((p, n))
        self._blackboard_infos(parsed, infos)
        by_student = {}
        for p, n in parsed:
            by_student.setdefault(n.student, []).append((p, n))
        entries = []
        for sid, items in by_student.items():
            latest = max(n.submitted_at for _, n in items)
            for p, n in items:
                if n.submitted_at != latest:
                    skipped.append((p.name, "an earlier attempt than %s's of %s" % (sid, latest)))
                elif n.kind != "code":
                    skipped.append((p.name, n.why))
            code = [(p, n) for p, n in items if n.submitted_at == latest and n.kind == "code"]
            sid = self._checked(sid, prefix + code[0][0].name if code else prefix + items[0][0].name)
            if sid is None or not code:
                continue
            entry = self._lms_entry(sid, code, prefix, refused)
            if entry is None:
                continue
            ns = [n for _, n in items if n.submitted_at == latest]
            entry.lms, entry.submitted_at = rec.lms, latest
            entry.display = next((n.display for n in ns if n.display), "")
            entry.late = any(n.late for n in ns) if any(n.late is not None for n in ns) else None
            for n in ns:
                for k, v in n.fields.items():  # several files: their ids joined
                    old = entry.fields.get(k)
                    entry.fields[k] = v if old in (None, v) else "%s,%s" % (old, v)
            entries.append(entry)
        self.warnings.append("%s: a %s export (named as %s names its files): %d student(s)"
                             % (shown, lms_names.TITLES[rec.lms], lms_names.TITLES[rec.lms], len(entries)))
        for name, why in skipped:
            self.warnings.append("%s%s: skipped: %s" % (prefix, name, why))
        return entries

    def _lms_entry(self, sid, code, prefix, refused):
        """One student's Entry from their code items [(path, Name)] in an LMS export."""
        if len(code) == 1:
            p, n = code[0]
            if p.name in refused:
                folder, notes = self._refused(p.name, prefix, refused[p.name])
                return Entry(sid, folder, prefix + p.name, notes)
            if p.is_file() and p.suffix.lower() == ".zip":
                folder, notes = self._student_zip(p, prefix)
                return Entry(sid, folder, prefix + p.name, notes)
            return Entry(sid, p, prefix + p.name)
        if any(p.is_dir() or p.name in refused for p, _ in code):
            self._dups.setdefault(sid, []).extend(prefix + p.name for p, _ in code)
            return None
        return self._group(sid, [p for p, _ in code], prefix, [n.own_name for _, n in code])

    def _blackboard_infos(self, parsed, infos):
        """Blackboard's attempt .txt files: the student's name, the username when it holds a
        '_' (the file names alone cannot tell), and each file's original name."""
        for (user, when), path in infos.items():
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            display, username, originals = lms_names.blackboard_info(text)
            for p, n in parsed:
                prefix_user = "%s_%s" % (n.fields.get("blackboard_assignment", ""), n.student)
                if n.submitted_at != when or not prefix_user.endswith("_" + username):
                    continue
                if username and n.student != username and len(username) > len(n.student):
                    n.student = username
                if n.student == (username or user):
                    n.display = display or n.display
                    n.own_name = originals.get(p.name, n.own_name)

    def _refused(self, name, prefix, why):
        """(empty folder, notes) for an export entry that was not extracted."""
        self.warnings.append("%s%s: not extracted: %s; graded as an empty submission" % (prefix, name, why))
        folder = self.tmp / "refused" / str(len(self.warnings)) / name
        folder.mkdir(parents=True)
        return folder, ["%s was not extracted: %s" % (name, why)]

    def _group(self, sid, files, prefix, own_names=None):
        """Several files for one student: graded together as one folder, under the names the
        student gave them when they are known and usable."""
        folder = inside(self.tmp / "grouped", sid)
        folder.mkdir(parents=True)
        wanted = own_names or [self._remainder(p.name) for p in files]
        if (len(set(wanted)) < len(wanted) or not all(wanted)
                or any("/" in w or "\\" in w or w.startswith(".") for w in wanted)):
            wanted = [p.name for p in files]
        for p, name in zip(files, wanted):
            shutil.copyfile(p, folder / name)
        note = "%d files were submitted: %s" % (len(files), ", ".join(p.name for p in files))
        return Entry(sid, folder, prefix + "{%s}" % ",".join(p.name for p in files), [note])

    def _remainder(self, name):
        """With --id-pattern matching a prefix (as in LMS exports), the student's own file name."""
        if self.pattern is None:
            return name
        m = self.pattern.search(name)
        rest = name[m.end():] if m and m.start() == 0 else ""
        return rest if rest.lower().endswith(SUFFIXES) and not rest.startswith(".") else ""

    def _zip(self, path):
        """A class export: extract (each student's entry with its own limits), find the folder
        holding the entries, read Gradescope's metadata."""
        dest = self.tmp / ("zip%d" % len(list(self.tmp.glob("zip*"))))
        root, refused = extract_export(path, dest)
        rel = root.relative_to(dest).as_posix()
        names = gradescope_ids(root, self.warnings, self._bad_ids, self.submitted)
        return self._class_dir(root, "%s:%s" % (path.name, rel + "/" if rel != "." else ""), names,
                               refused)

    def _student_zip(self, path, prefix):
        """A student's own .zip inside a class folder: (their files as a folder, notes).

        It has its own limits; one that breaks them costs only this student: graded as
        an empty folder, with the reason in their notes and in the warnings."""
        self._zips += 1
        dest = self.tmp / "studentzips" / str(self._zips) / path.name
        try:
            extract(path, dest, student_limits(), shown=path.name)
            return dest, []
        except ZipRefused as exc:
            shutil.rmtree(dest, ignore_errors=True)  # nothing of a refused zip stays on disk
            dest.mkdir(parents=True)
            self.warnings.append("%s%s; graded as an empty submission" % (prefix, exc))
            return dest, ["%s was not extracted: %s" % (path.name, exc.why)]



def read_list(list_file: str | Path) -> list[str]:
    """Lines of a list file ('-' for standard input): PATH, or STUDENT<TAB>PATH."""
    try:
        text = sys.stdin.read() if str(list_file) == "-" else Path(list_file).read_text()
    except OSError as exc:
        raise BatchError("%s: cannot read the list (%s)" % (list_file, exc.strerror)) from None
    out = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        sid, _, p = line.rpartition("\t")
        out.append((sid.strip() or None, Path(p.strip())))
    return out


def compile_pattern(text: str | None) -> re.Pattern | None:
    if text is None:
        return None
    try:
        return re.compile(text)
    except re.error as exc:
        raise BatchError("--id-pattern %r is not a valid regular expression (%s)" % (text, exc)) from None


def listing(names: Sequence[str], at_most: int = 8, sep: str = ", ") -> str:
    """Names for a message, control characters escaped (see report.safe_text)."""
    from backprop_grader.report.results import safe_text  # report imports numpy: only when a message is made
    names = [safe_text(n, one_line=True) for n in names]
    return sep.join(names[:at_most]) + (" and %d more" % (len(names) - at_most) if len(names) > at_most else "")


def gradescope_ids(root: Path, warnings: list[str], bad: list[str] | None = None,
                   submitted: dict | None = None) -> dict[str, str]:
    """{folder: student id} from Gradescope's submission_metadata.yml, if there is one.

    The id is each submitter's SID, else email, else name; a group's ids are joined by '+'
    (submitters_id). An unusable id is added to `bad` ("file: folder: id: why"), or
    raised as a BatchError without it. `submitted`, when given, gets {folder: created_at}.
    """
    meta = root / METADATA
    if not meta.is_file():
        return {}
    try:
        data = yaml.safe_load(meta.read_text(encoding="utf-8", errors="replace"))
    except yaml.YAMLError as exc:
        warnings.append("%s could not be read (%s); student ids are the folder names"
                        % (METADATA, str(exc).splitlines()[0]))
        return {}
    out, problems = {}, []
    for key, value in (data.items() if isinstance(data, dict) else []):
        value = strip_colons(value)
        sid = submitters_id(value.get("submitters") if isinstance(value, dict) else None)
        if sid is None:
            continue
        folder = str(key).lstrip(":")
        created = value.get("created_at") if isinstance(value, dict) else None
        if submitted is not None and created:
            submitted[folder] = created.isoformat() if hasattr(created, "isoformat") else str(created)
        try:
            out[folder] = check_id(sid)
        except ValueError as why:
            problems.append("%s: %s: %r: %s" % (meta, folder, sid, why))
    if problems and bad is None:
        raise BatchError("%d unusable student id(s) in %s: %s" % (len(problems), METADATA, listing(problems)))
    (bad if bad is not None else []).extend(problems)
    return out


def strip_colons(d: Any) -> Any:
    """Gradescope writes Ruby symbols as keys (':sid'); accept both spellings."""
    return {str(k).lstrip(":"): v for k, v in d.items()} if isinstance(d, dict) else d


def open_zip(path: str | Path, shown: str, limits: Limits) -> zipfile.ZipFile:
    """The open ZipFile, refused when it is not a zip or holds too many files."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise ZipRefused(shown, "not a readable zip file (%s)" % exc) from None
    if len(zf.infolist()) > limits.members:
        zf.close()
        raise ZipRefused(shown, "holds %d files, more than the %d allowed"
                         % (len(zf.infolist()), limits.members))
    return zf


def safe_members(zf: zipfile.ZipFile) -> list[tuple[zipfile.ZipInfo, list[str]]]:
    """[(info, path parts)] of the files that may be extracted: no absolute or '..' paths, no links."""
    out = []
    for info in zf.infolist():
        name = info.filename.replace("\\", "/")
        parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
        if info.is_dir() or not parts:
            continue
        if (name.startswith("/") or ".." in parts or ":" in parts[0] or "\0" in name
                or stat.S_ISLNK(info.external_attr >> 16)):
            continue  # never write outside dest, never follow a link
        out.append((info, parts))
    return out


class Budget:
    """Files and bytes left for one zip, or for one student's entry in it."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.files, self.bytes = limits.members, limits.total

    def declared(self, info: zipfile.ZipInfo, name: str) -> str | None:
        """Why this member cannot be extracted, judged by its declared size; or None."""
        if info.file_size > self.limits.member:
            return "%s is larger than %d MB" % (name, self.limits.member >> 20)
        if info.file_size > self.bytes:
            return "more than %d MB uncompressed" % (self.limits.total >> 20)
        if self.files < 1:
            return "more than %d files" % self.limits.members
        return None

    def cap(self) -> int:
        """Bytes the next member may really take (declared sizes can lie)."""
        return min(self.limits.member, self.bytes)

    def spend(self, size: int) -> None:
        self.files -= 1
        self.bytes -= size


def copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, cap: int, shown: str,
                name: str) -> int | None:
    """Write one member, counting real bytes; the size written, or None past `cap`."""
    written = 0
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as src, open(target, "wb") as out:
            while True:
                chunk = src.read(CHUNK)
                if not chunk:
                    return written
                written += len(chunk)
                if written > cap:
                    return None
                out.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError,
            ValueError) as exc:
        raise ZipRefused(shown, "cannot extract %s (%s)" % (name, exc)) from None
    except OSError as exc:
        raise ZipRefused(shown, "cannot extract %s (%s)" % (name, exc.strerror or exc)) from None


def extract_one(zf: zipfile.ZipFile, info: zipfile.ZipInfo, parts: Sequence[str], dest: Path,
                budgets: list[Budget], shown: str) -> tuple[Budget, str] | None:
    """Extract one member within every budget: None, or (the budget it breaks, why)."""
    name = "/".join(parts)
    for b in budgets:
        why = b.declared(info, name)
        if why:
            return b, why
    tightest = min(budgets, key=Budget.cap)
    target = dest.joinpath(*parts)
    size = copy_member(zf, info, target, tightest.cap(), shown, name)
    if size is None:
        target.unlink()
        return tightest, "%s holds more bytes than it declares (%d)" % (name, info.file_size)
    for b in budgets:
        b.spend(size)
    return None


def extract(path: str | Path, dest: Path, limits: Limits | None = None, shown: str | None = None) -> None:
    """Extract a zip safely: no absolute or '..' paths, no links, bounded files and bytes
    (declared, and counted while writing). Breaking a limit raises ZipRefused; what was
    written stays in dest, for the caller to remove."""
    limits, shown = limits or student_limits(), shown or str(path)
    dest.mkdir(parents=True, exist_ok=True)
    with open_zip(path, shown, limits) as zf:
        budget = Budget(limits)
        for info, parts in safe_members(zf):
            broken = extract_one(zf, info, parts, dest, [budget], shown)
            if broken:
                raise ZipRefused(shown, broken[1])


def extract_export(path: Path, dest: Path) -> tuple[Path, dict[str, str]]:
    """Extract a class export: (the folder holding the entries, {entry name: why refused}).

    Each student's entry (a name in that folder) has its own limits: one that breaks
    them is removed and refused, and the rest of the export is extracted. Breaking the
    export's own limits raises ZipRefused."""
    dest.mkdir(parents=True, exist_ok=True)
    with open_zip(path, str(path), export_limits()) as zf:
        members = safe_members(zf)
        top = export_root([tuple(parts) for _, parts in members])
        whole, per_entry, refused = Budget(export_limits()), {}, {}
        for info, parts in members:
            entry = parts[len(top)]
            if entry in refused:
                continue
            budget = per_entry.setdefault(entry, Budget(student_limits()))
            broken = extract_one(zf, info, parts, dest, [budget, whole], str(path))
            if broken and broken[0] is whole:
                raise ZipRefused(path, broken[1])
            if broken:
                refused[entry] = broken[1]
                remove(dest.joinpath(*top, entry), folder=len(parts) > len(top) + 1)
    return dest.joinpath(*top), refused


def remove(path: Path, folder: bool) -> None:
    """Delete a refused entry, leaving an empty folder or file of the same name (so that
    the entry is still found, and reported)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    path.mkdir(parents=True) if folder else path.touch()


def export_root(paths: list[tuple[str, ...]]) -> tuple[str, ...]:
    """The parts of the folder holding a class export's entries: exports often wrap
    everything in folders, so descend while there is one visible folder and no metadata."""
    top = ()
    while True:
        below = [p[len(top):] for p in paths if p[:len(top)] == top]
        if any(p == (METADATA,) for p in below):
            return top
        visible = {p[0] for p in below if p[0] not in SKIP_DIRS and not p[0].startswith(".")}
        if len(visible) != 1 or not any(len(p) > 1 and p[0] in visible for p in below):
            return top
        top += (visible.pop(),)



# ---------------------------------------------------------------------------- hashing, packing

def files_of(folder: Path) -> list[tuple[str, Path]]:
    """(name in the folder, path) of the files of a submission folder that the grader
    copies (load.regular_files), in path order: hashes depend on it. A file named like
    a skipped folder (a submodule's .git file) is copied but has never been hashed."""
    return [(p.relative_to(folder).as_posix(), p) for p in sorted(regular_files(folder))
            if p.name not in SKIP_DIRS]


def submission_hash(path: str | Path) -> str:
    """SHA-256 of a submission: its file, or every file of its folder, with their names."""
    path = Path(path)
    h = hashlib.sha256()
    members = [(path.name, path)] if path.is_file() else files_of(path)
    for rel, p in members:
        data = p.read_bytes()
        h.update(b"%s\0%d\0" % (rel.encode("utf-8", "surrogateescape"), len(data)))
        h.update(data)
    return h.hexdigest()


def pack(path: str | Path, limit: int = MAX_STORED) -> bytes | None:
    """What is graded, as zip bytes (None when larger than `limit`)."""
    path = Path(path)
    members = [(path.name, path)] if path.is_file() else [
        ("%s/%s" % (path.name, rel), p) for rel, p in files_of(path)]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        if not members:
            zf.writestr(zipfile.ZipInfo(path.name + "/"), b"")
        for name, p in members:
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), p.read_bytes(),
                        zipfile.ZIP_DEFLATED)
            if buf.tell() > limit:
                return None
    data = buf.getvalue()
    return data if len(data) <= limit else None


def unpack(blob: bytes, dest: str | Path) -> Path:
    """Undo `pack` into `dest`; returns the path of the file or folder."""
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        top = PurePosixPath(zf.namelist()[0]).parts[0]
    archive = Path(dest) / ".packed.zip"
    archive.write_bytes(blob)
    extract(archive, Path(dest), export_limits())
    archive.unlink()
    target = inside(dest, top)
    target.mkdir(exist_ok=True) if not target.exists() else None
    return target
