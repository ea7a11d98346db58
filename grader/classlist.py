"""Find a class's submissions: folders, zip exports (LMS, Gradescope), lists.

The student id is the folder name or the file name without its suffix;
`--id-pattern REGEX` takes it from the name instead (its group `id`, else its
first group, else the whole match). Several files that map to one student are
graded together as one folder, and reported. Also: hashing a submission, and
packing it into the gradebook so that a regrade can replay it.
"""
import hashlib
import io
import re
import shutil
import stat
import sys
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import yaml

from .load import SKIP_DIRS, UsageError
from .tempdirs import temp_dir

SUFFIXES = (".py", ".ipynb")
METADATA = "submission_metadata.yml"  # Gradescope's export: folder -> submitters
MAX_EXTRACT = 2 << 30  # bytes extracted from one zip, at most
MAX_MEMBER = 64 << 20  # bytes in one zip member, at most
MAX_STORED = 8 << 20  # bytes of zipped submission kept in the gradebook for replay
ID_MAX = 200
CANVAS = re.compile(r"^(?P<id>[A-Za-z]+)_(?:[Ll][Aa][Tt][Ee]_)?\d+_\d+_")  # login_LATE_userid_subid_name


class BatchError(UsageError):
    """Inputs that cannot be graded as given (exit 2)."""


@dataclass
class Entry:
    """One student's submission, found in the inputs."""
    student: str
    path: Path  # what is graded: a file, or a folder
    source: str  # where it came from, for people: "export.zip:submission_1"
    notes: list = field(default_factory=list)  # shown to the student with the results


# ---------------------------------------------------------------------------- discovery

class Inputs:
    """The submissions in the inputs. Owns the temporary folder zips are extracted to."""

    def __init__(self, paths=(), id_pattern=None, list_file=None):
        self.pattern = compile_pattern(id_pattern)
        self.tmp = temp_dir("batch-")
        self.entries, self.warnings = [], []
        self._dups, self._unmatched, self._bad_ids = {}, [], []
        try:
            self._discover([Path(p) for p in paths], list_file)
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
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
            sid = sid or self._id(str(p), p.name if p.is_dir() else p.stem, str(p))
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
            problems.append("%d unusable student id(s) (empty, too long, or with / \\ or NUL): %s"
                            % (len(self._bad_ids), listing(self._bad_ids)))
        if self._dups:
            problems.append("%d duplicate student id(s): %s. Each student needs one entry; use "
                            "--id-pattern to tell them apart, or remove the extra ones" % (
                                len(self._dups), "; ".join(
                                    "%r from %s" % (sid, " and ".join(srcs))
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
        sid = (sid or "").strip()
        if not sid or len(sid) > ID_MAX or sid in (".", "..") or re.search(r"[/\\\0]", sid):
            self._bad_ids.append(shown)
            return None
        return sid

    def _class_dir(self, root, prefix, names=None):
        """Entries of a folder with one entry per student."""
        names = names or {}
        candidates, skipped = [], []  # (path to grade, name in the inputs, id when no pattern)
        for p in sorted(root.iterdir()):
            if p.name in SKIP_DIRS or p.name.startswith(".") or p.name == METADATA:
                continue
            if p.is_symlink():
                skipped.append(p.name + " (a link)")
            elif p.is_dir() or p.suffix.lower() in SUFFIXES:
                candidates.append((p, p.name, p.name if p.is_dir() else p.stem))
            elif p.suffix.lower() == ".zip":
                candidates.append((self._student_zip(p, prefix), p.name, p.stem))
            else:
                skipped.append(p.name)
        if skipped:
            self.warnings.append("skipped %d entr%s in %s that %s neither a folder nor a .py, "
                                 ".ipynb or .zip file: %s" % (
                                     len(skipped), "y" if len(skipped) == 1 else "ies",
                                     prefix.rstrip("/:") or str(root),
                                     "is" if len(skipped) == 1 else "are", listing(skipped)))
        lms = [n for _, n, _ in candidates if CANVAS.match(n)]
        if self.pattern is None and len(lms) >= max(2, len(candidates) // 2):
            self.warnings.append("%d names look like an LMS export (%s); if several files belong to "
                                 "one student, pass --id-pattern '%s'"
                                 % (len(lms), lms[0], CANVAS.pattern))
        groups = {}
        for p, name, stem in candidates:
            if self.pattern is None and name in names:
                sid = names[name]
            else:
                sid = self._id(name, stem, prefix + name)
            if sid is not None:
                groups.setdefault(sid, []).append((p, name))
        entries = []
        for sid, members in groups.items():
            if len(members) == 1:
                entries.append(Entry(sid, members[0][0], prefix + members[0][1]))
            elif any(p.is_dir() for p, _ in members):
                self._dups.setdefault(sid, []).extend(prefix + name for _, name in members)
            else:
                entries.append(self._group(sid, [p for p, _ in members], prefix))
        return entries

    def _group(self, sid, files, prefix):
        """Several files for one student: graded together as one folder."""
        folder = self.tmp / "grouped" / sid
        folder.mkdir(parents=True)
        wanted = [self._remainder(p.name) for p in files]
        if len(set(wanted)) < len(wanted) or not all(wanted):
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
        """A class export: extract, find the folder holding the entries, read Gradescope's metadata."""
        dest = self.tmp / ("zip%d" % len(list(self.tmp.glob("zip*"))))
        extract(path, dest)
        root = dest  # exports often wrap everything in one folder: the class is inside it
        while not (root / METADATA).exists():
            inside = [p for p in root.iterdir() if p.name not in SKIP_DIRS and not p.name.startswith(".")]
            if len(inside) != 1 or not inside[0].is_dir() or inside[0].is_symlink():
                break
            root = inside[0]
        rel = root.relative_to(dest).as_posix()
        names = gradescope_ids(root, self.warnings)
        return self._class_dir(root, "%s:%s" % (path.name, rel + "/" if rel != "." else ""), names)

    def _student_zip(self, path, prefix):
        """A student's own .zip inside a class folder: their files, as a folder."""
        dest = self.tmp / "studentzips" / path.name
        try:
            extract(path, dest)
        except BatchError as exc:
            dest.mkdir(parents=True, exist_ok=True)
            self.warnings.append("%s%s: %s" % (prefix, path.name, exc))
        return dest


def read_list(list_file):
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


def compile_pattern(text):
    if text is None:
        return None
    try:
        return re.compile(text)
    except re.error as exc:
        raise BatchError("--id-pattern %r is not a valid regular expression (%s)" % (text, exc)) from None


def listing(names, at_most=8):
    names = list(names)
    return ", ".join(names[:at_most]) + (" and %d more" % (len(names) - at_most) if len(names) > at_most else "")


def gradescope_ids(root, warnings):
    """{folder: student id} from Gradescope's submission_metadata.yml, if there is one.

    The id is each submitter's SID, else email, else name; a group's ids are joined by '+'.
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
    out = {}
    for key, value in (data.items() if isinstance(data, dict) else []):
        value = strip_colons(value)
        ids = []
        for s in (value.get("submitters") or []) if isinstance(value, dict) else []:
            s = strip_colons(s)
            ident = s.get("sid") or s.get("email") or s.get("name") if isinstance(s, dict) else None
            if ident:
                ids.append(str(ident).strip())
        if ids:
            out[str(key).lstrip(":")] = "+".join(ids)
    return out


def strip_colons(d):
    """Gradescope writes Ruby symbols as keys (':sid'); accept both spellings."""
    return {str(k).lstrip(":"): v for k, v in d.items()} if isinstance(d, dict) else d


def extract(path, dest, limit=MAX_EXTRACT):
    """Extract a zip safely: no absolute or '..' paths, no links, bounded sizes."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise BatchError("%s: not a readable zip file (%s)" % (path, exc)) from None
    dest.mkdir(parents=True, exist_ok=True)
    total = 0
    with zf:
        for info in zf.infolist():
            name = info.filename.replace("\\", "/")
            parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
            if info.is_dir() or not parts:
                continue
            if (name.startswith("/") or ".." in parts or ":" in parts[0]
                    or stat.S_ISLNK(info.external_attr >> 16)):
                continue  # never write outside dest, never follow a link
            if info.file_size > MAX_MEMBER:
                raise BatchError("%s: %s is larger than %d MB" % (path, name, MAX_MEMBER >> 20))
            total += info.file_size
            if total > limit:
                raise BatchError("%s: more than %d MB uncompressed" % (path, limit >> 20))
            target = dest.joinpath(*parts)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
            except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError,
                    ValueError) as exc:
                raise BatchError("%s: cannot extract %s (%s)" % (path, name, exc)) from None
            except OSError as exc:
                raise BatchError("%s: cannot extract %s (%s)" % (path, name, exc.strerror or exc)) from None


# ---------------------------------------------------------------------------- hashing, packing

def files_of(folder):
    """The files of a submission folder that the grader copies, in a stable order."""
    out = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if SKIP_DIRS & set(rel.parts) or p.is_symlink() or not p.is_file():
            continue
        out.append((rel.as_posix(), p))
    return out


def submission_hash(path):
    """SHA-256 of a submission: its file, or every file of its folder, with their names."""
    path = Path(path)
    h = hashlib.sha256()
    members = [(path.name, path)] if path.is_file() else files_of(path)
    for rel, p in members:
        data = p.read_bytes()
        h.update(b"%s\0%d\0" % (rel.encode("utf-8", "surrogateescape"), len(data)))
        h.update(data)
    return h.hexdigest()


def pack(path, limit=MAX_STORED):
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


def unpack(blob, dest):
    """Undo `pack` into `dest`; returns the path of the file or folder."""
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        top = PurePosixPath(zf.namelist()[0]).parts[0]
    archive = Path(dest) / ".packed.zip"
    archive.write_bytes(blob)
    extract(archive, Path(dest))
    archive.unlink()
    target = Path(dest) / top
    target.mkdir(exist_ok=True) if not target.exists() else None
    return target
