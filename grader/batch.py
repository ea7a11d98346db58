"""Grade a whole class: `bpgrade batch`, `bpgrade export` and `bpgrade replay`.

Inputs: a folder with one entry per student (a folder, a .py or .ipynb file, or
a .zip of the student's files), a .zip export from an LMS or Gradescope, or a
list of submissions. The student id is the folder name or the file name
without its suffix; `--id-pattern REGEX` takes it from the name instead (its
group `id`, else its first group, else the whole match). Several files that
map to one student are graded together as one folder, and reported.

Grading runs in parallel (`grader.pool`, or a Dask cluster); each result is
committed to the gradebook as it finishes, so a killed run loses nothing
graded, and the same command skips what is already graded.
"""
import hashlib
import io
import json
import os
import re
import shutil
import stat
import statistics
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path, PurePosixPath

import yaml

from . import gradebook as gradebook_mod
from . import load, pool, seeds
from . import rubric as rubric_mod
from .load import SKIP_DIRS, UsageError

SUFFIXES = (".py", ".ipynb")
METADATA = "submission_metadata.yml"  # Gradescope's export: folder -> submitters
MAX_EXTRACT = 2 << 30  # bytes extracted from one zip, at most
MAX_MEMBER = 64 << 20  # bytes in one zip member, at most
MAX_STORED = 8 << 20  # bytes of zipped submission kept in the gradebook for replay
ID_MAX = 200
SLOWEST = 5
DASK_CONNECT_TIMEOUT = "20s"
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
        self.tmp = Path(tempfile.mkdtemp(prefix="bpgrade-batch-"))
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


# ---------------------------------------------------------------------------- executors

def local_executor(tasks, rubric_path, jobs=None, scheduler=None):
    return pool.grade_all(tasks, str(rubric_path), jobs)


def dask_executor(tasks, rubric_path, jobs=None, scheduler=None):
    """Grade on a Dask cluster: submissions and results cross the wire, not paths.

    Each worker grades with `pool.grade_task`, so student code runs in the
    worker's sandbox and the comparison in the worker's trusted process.
    Without `scheduler`, a local cluster with `jobs` worker processes is started.
    """
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise BatchError("--executor dask needs Dask: pip install 'backprop-grader[dask]'") from None
    cluster = None
    try:
        if scheduler:
            client = Client(scheduler, timeout=DASK_CONNECT_TIMEOUT)
        else:
            cluster = LocalCluster(n_workers=jobs or os.cpu_count() or 1, threads_per_worker=1,
                                   dashboard_address=None)
            client = Client(cluster)
    except (OSError, TimeoutError, ValueError) as exc:
        raise BatchError("cannot reach the Dask scheduler at %s (%s)" % (scheduler, exc)) from None
    return _dask_results(client, cluster, as_completed, tasks, rubric_path)


def _dask_results(client, cluster, as_completed, tasks, rubric_path):
    try:
        rub = rubric_mod.load(rubric_path)
        bundle = client.scatter(rubric_bundle(rubric_path), broadcast=True, hash=False)
        window = max(4, 2 * sum(client.nthreads().values()))
        todo = iter(tasks)
        pending, running = {}, as_completed()

        def submit(task):
            payload = {"student": task.student, "seed": task.seed, "notes": list(task.notes),
                       "blob": pack(task.path, limit=load.MAX_COPY)}
            if payload["blob"] is None:
                return pool.Graded(task, pool.failed_results(rub, "the submission is too large to send"),
                                   0.0, error="too large to send to a Dask worker")
            future = client.submit(remote_grade, payload, bundle, pure=False)
            pending[future.key] = task
            running.add(future)
            return None

        for task in islice(todo, window):
            early = submit(task)
            if early is not None:
                yield early
        for future in running:
            task = pending.pop(future.key)
            try:
                results, duration, error = future.result()
                graded = pool.Graded(task, results, duration, error)
            except Exception as exc:  # the worker died or could not run the grader
                graded = pool.Graded(task, pool.failed_results(
                    rub, "the grader's Dask worker failed: %s: %s" % (type(exc).__name__, exc)),
                    0.0, error="Dask worker: %s: %s" % (type(exc).__name__, exc))
            future.release()
            yield graded
            for nxt in islice(todo, 1):
                early = submit(nxt)
                if early is not None:
                    yield early
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def rubric_bundle(rubric_path):
    """The rubric and the reference files it names by relative path, as bytes."""
    path = Path(rubric_path)
    raw = path.read_bytes()
    files = {}
    data = yaml.safe_load(raw) or {}
    for spec in (data.get("gates") or {}).values():
        target = str(spec.get("reference", "")).rpartition(":")[0]
        if target.endswith(".py") and (path.parent / target).is_file():
            files[target] = (path.parent / target).read_bytes()
    return {"name": path.name, "yaml": raw, "files": files,
            "sha256": hashlib.sha256(raw).hexdigest()}


_materialized = {}


def materialize(bundle):
    """Write a rubric bundle on a worker, once per process; returns the rubric's path."""
    if bundle["sha256"] not in _materialized:
        folder = Path(tempfile.mkdtemp(prefix="bpgrade-rubric-"))
        for rel, data in bundle["files"].items():
            target = (folder / rel).resolve()
            if folder.resolve() in target.parents:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        (folder / bundle["name"]).write_bytes(bundle["yaml"])
        _materialized[bundle["sha256"]] = str(folder / bundle["name"])
    return _materialized[bundle["sha256"]]


# A Dask worker runs tasks in threads; pool keeps one warm fork server per thread,
# and only writing the rubric's files to the worker's disk needs to be one at a time.
_materializing = threading.Lock()


def remote_grade(payload, bundle):
    """Runs on a Dask worker: unpack the submission, grade it, return plain data."""
    with _materializing:
        rubric_path = materialize(bundle)
    tmp = tempfile.mkdtemp(prefix="bpgrade-dask-")
    try:
        path = unpack(payload["blob"], tmp)
        task = pool.Task(payload["student"], str(path), payload["seed"], payload["notes"])
        graded = pool.grade_task(task, rubric_path)
        return graded.results, graded.duration, graded.error
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


EXECUTORS = {"local": local_executor, "dask": dask_executor}


# ---------------------------------------------------------------------------- progress

class Progress:
    """A bar with count, rate and ETA on a terminal (tqdm when installed); plain lines otherwise."""

    def __init__(self, total, stream=None, mode="auto"):
        self.total, self.done, self.stream = total, 0, stream or sys.stderr
        self.start = self.last_line = time.monotonic()
        if mode == "auto":
            mode = "bar" if hasattr(self.stream, "isatty") and self.stream.isatty() else "lines"
        self.mode, self.bar = mode, None
        if mode == "bar" and total:
            try:
                from tqdm import tqdm
                self.bar = tqdm(total=total, unit="sub", file=self.stream, dynamic_ncols=True,
                                smoothing=0.1, desc="grading")
            except ImportError:
                self.bar = None
        self.step = max(1, total // 10)

    def rate(self):
        elapsed = time.monotonic() - self.start
        return self.done / elapsed if elapsed > 0 else 0.0

    def status(self):
        rate = self.rate()
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        return "%d/%d graded, %.1f/s, %s left" % (self.done, self.total, rate,
                                                   "?" if eta != eta else "%.0f s" % eta)

    def update(self, graded):
        self.done += 1
        if self.mode == "bar":
            if self.bar is not None:
                self.bar.update(1)
            else:
                width = 30
                filled = int(width * self.done / max(self.total, 1))
                self.stream.write("\r[%s%s] %s " % ("#" * filled, "." * (width - filled), self.status()))
                self.stream.flush()
        elif self.mode == "lines":
            now = time.monotonic()
            if self.done % self.step == 0 or self.done == self.total or now - self.last_line > 10:
                self.last_line = now
                self.stream.write("bpgrade: %s\n" % self.status())
                self.stream.flush()

    def say(self, message):
        if self.mode == "none":
            return
        if self.bar is not None:
            self.bar.write(message, file=self.stream)
        else:
            self.stream.write(("\n" if self.mode == "bar" else "") + message + "\n")

    def close(self):
        if self.bar is not None:
            self.bar.close()
        elif self.mode == "bar" and self.total:
            self.stream.write("\n")


# ---------------------------------------------------------------------------- batch

@dataclass
class Report:
    """What a batch did (also printed as the summary)."""
    graded: int = 0
    skipped: int = 0
    errors: list = field(default_factory=list)  # (student, message)
    students: list = field(default_factory=list)  # every student in this batch
    seconds: float = 0.0
    stopped: str = ""  # why the batch stopped early
    text: str = ""
    exit_code: int = 0


def run(inputs=(), rubric=None, gradebook="grades.sqlite", csv=None, results_dir=None, jobs=None,
        regrade=False, id_pattern=None, list_file=None, secret=None, executor="local",
        scheduler=None, progress="auto", stream=None):
    """Grade a batch; returns a `Report`. Usage problems raise `UsageError`."""
    stream = stream or sys.stderr
    rubric_path = rubric_mod.find(rubric)
    rub = rubric_mod.load(rubric_path)
    if executor not in EXECUTORS:
        raise BatchError("unknown executor %r (choose from %s)" % (executor, ", ".join(EXECUTORS)))
    book = gradebook_mod.Gradebook(gradebook, rubric=rub)
    try:
        key = seeds.load(secret, gradebook)
        if not book.check_secret(key):
            stream.write("bpgrade: warning: %s was graded with a different course secret; new grades "
                         "use the secret from %s (recorded seeds still replay)\n" % (gradebook, key.origin))
        with Inputs(inputs, id_pattern, list_file) as found:
            for w in found.warnings:
                stream.write("bpgrade: warning: %s\n" % w)
            return _grade(found.entries, rub, rubric_path, book, key, regrade, jobs, executor,
                          scheduler, progress, stream, csv, results_dir)
    finally:
        book.close()


def _grade(entries, rub, rubric_path, book, key, regrade, jobs, executor, scheduler, progress,
           stream, csv, results_dir):
    report = Report(students=[e.student for e in entries])
    todo = {}
    for e in entries:
        sha = submission_hash(e.path)
        if not regrade and book.already_graded(e.student, sha) is not None:
            report.skipped += 1
            continue
        task = pool.Task(e.student, str(e.path), key.seed(rub.assignment, e.student), list(e.notes))
        todo[e.student] = (task, sha, e)
    bar = Progress(len(todo), stream, progress)
    start = time.monotonic()
    results = None
    try:
        if todo:
            results = EXECUTORS[executor]([t for t, _, _ in todo.values()], rubric_path, jobs, scheduler)
            for graded in results:
                task, sha, entry = todo[graded.task.student]
                book.record(graded, sha, entry.source, pack(entry.path))
                report.graded += 1
                if graded.error:
                    report.errors.append((task.student, graded.error))
                    bar.say("bpgrade: the grader failed on %s: %s" % (task.student, graded.error))
                bar.update(graded)
    except gradebook_mod.GradebookFull as exc:
        report.stopped = "%s. The %d result(s) graded before this are saved; make room and run the " \
                         "same command again to grade the rest." % (exc, report.graded)
    except KeyboardInterrupt:
        report.stopped = "interrupted. The %d result(s) graded before this are saved; run the same " \
                         "command again to grade the rest." % report.graded
        report.exit_code = 130
    finally:
        if results is not None:
            results.close()
        bar.close()
    report.seconds = time.monotonic() - start
    if not report.stopped:
        try:
            if csv:
                book.export_csv(csv)
            if results_dir:
                book.export_results(results_dir, report.students)
        except gradebook_mod.GradebookFull as exc:
            report.stopped = str(exc)
    report.text = summary(report, book, rub, jobs, csv, results_dir)
    if report.stopped and not report.exit_code:
        report.exit_code = 1
    elif book.failed() and not report.exit_code:
        report.exit_code = 1
    return report


def summary(report, book, rub, jobs, csv, results_dir):
    rows = book.latest(report.students)
    lines = []
    rate = report.graded / report.seconds if report.seconds > 0 else 0.0
    if report.graded or not report.skipped:
        lines.append("graded %d submission%s in %.1f s (%.1f/s)%s" % (
            report.graded, "" if report.graded == 1 else "s", report.seconds, rate,
            "; skipped %d already graded (--regrade grades them again)" % report.skipped
            if report.skipped else ""))
    else:
        lines.append("nothing to grade: all %d submission%s are already graded with this rubric "
                     "(--regrade grades them again)" % (report.skipped, "" if report.skipped == 1 else "s"))
    good = [r for r in rows.values() if not r["error"]]
    if good:
        scores = [r["score"] for r in good]
        lines.append("%d student%s: mean %.4g, median %.4g (of %g); zeros: %d" % (
            len(good), "" if len(good) == 1 else "s", statistics.fmean(scores),
            statistics.median(scores), rub.max_score, sum(s == 0 for s in scores)))
    missing = len(report.students) - len(rows)
    if missing:
        lines.append("not graded yet: %d student%s" % (missing, "" if missing == 1 else "s"))
    failed = [(s, r["error"]) for s, r in rows.items() if r["error"]]
    lines.append("errors: %d%s" % (len(failed), " (the grader failed; these are graded again on the "
                                   "next run)" if failed else ""))
    for s, err in failed[:10]:
        lines.append("  %s: %s" % (s, err[:160]))
    several = [(s, json.loads(r["notes"])) for s, r in rows.items() if json.loads(r["notes"])]
    if several:
        lines.append("students with several files: %d" % len(several))
        for s, notes in several[:10]:
            graded = json.loads(rows[s]["results"]).get("extra_data", {}).get("submission", "?")
            lines.append("  %s: %s; graded %s" % (s, "; ".join(notes), graded))
    slow = sorted(rows.values(), key=lambda r: -r["duration"])[:SLOWEST]
    if slow:
        lines.append("slowest:")
        for r in slow:
            lines.append("  %-20s %6.2f s  %s" % (r["student"], r["duration"], first_problem(r)))
    weak = sum(1 for r in rows.values() if r["isolation_tier"] is not None and r["isolation_tier"] < 2)
    if weak:
        lines.append("warning: %d submission(s) ran at isolation tier < 2: student code could read or "
                     "write files outside its folder (install bubblewrap)" % weak)
    lines.append("gradebook: %s (%d row%s)" % (book.path, book.count(), "" if book.count() == 1 else "s"))
    if csv and not report.stopped:
        lines.append("csv: %s" % csv)
    if results_dir and not report.stopped:
        lines.append("results: %s/STUDENT/results.json" % str(results_dir).rstrip("/"))
    if report.stopped:
        lines.append("stopped: " + report.stopped)
    return "\n".join(lines) + "\n"


def first_problem(row):
    """The first 'problem:' line of a result (timeouts, crashes), for the slowest list."""
    results = json.loads(row["results"])
    for t in results.get("tests", []):
        for line in str(t.get("output", "")).splitlines():
            if line.startswith("problem:"):
                return line[len("problem:"):].strip()[:90]
    return ("score %g" % row["score"]) if not row["error"] else row["error"][:90]


# ---------------------------------------------------------------------------- export, replay

def export(gradebook, csv=None, results_dir=None, stream=None):
    stream = stream or sys.stderr
    book = gradebook_mod.Gradebook(gradebook, create=False)
    try:
        if csv is None and results_dir is None:
            sys.stdout.write(book.csv_text())
        if csv:
            n = book.export_csv(csv)
            stream.write("bpgrade: %s: %d student%s\n" % (csv, n, "" if n == 1 else "s"))
        if results_dir:
            n = book.export_results(results_dir)
            stream.write("bpgrade: %s: %d results.json\n" % (results_dir, n))
        failed = book.failed()
        if failed:
            stream.write("bpgrade: warning: %d student(s) have no grade because the grader failed "
                         "(run bpgrade batch again): %s\n" % (len(failed), listing(failed)))
    except gradebook_mod.GradebookFull as exc:
        stream.write("bpgrade: error: %s\n" % exc)
        return 1
    finally:
        book.close()
    return 0


def replay(student, gradebook, rubric=None, submission=None, secret=None, out=None):
    """Grade a student's latest graded submission again with its recorded seed; compare."""
    out = out or sys.stdout
    book = gradebook_mod.Gradebook(gradebook, create=False)
    try:
        row = book.latest_for(student)
        if row is None:
            raise BatchError("%s: no grades for %r (students: %s)"
                             % (gradebook, student, listing(book.students())))
        rubric_path = rubric_mod.find(rubric) if rubric else Path(book.meta["rubric_path"])
        if not rubric_path.is_file():
            raise BatchError("the rubric this gradebook was made with, %s, is gone: pass --rubric"
                             % rubric_path)
        rub = rubric_mod.load(rubric_path)
        if rub.sha256 != row["rubric_sha256"]:
            raise BatchError("%s is not the rubric %s was graded with (sha256 %s, not %s)"
                             % (rubric_path, student, row["rubric_sha256"][:12], rub.sha256[:12]))
        seed_note = seed_origin(row, rub, secret, gradebook)
        tmp = tempfile.mkdtemp(prefix="bpgrade-replay-")
        try:
            if submission:
                path = Path(submission)
                if not path.exists():
                    raise BatchError("%s: no such file or directory" % path)
            elif row["submission"] is not None:
                path = unpack(row["submission"], tmp)
            else:
                raise BatchError("the gradebook does not hold %s's submission (it was larger than "
                                 "%d MB): pass --submission PATH" % (student, MAX_STORED >> 20))
            if submission_hash(path) != row["file_sha256"]:
                raise BatchError("%s is not the submission that was graded for %s (its hash differs)"
                                 % (path, student))
            task = pool.Task(student, str(path), row["seed"], json.loads(row["notes"]))
            graded = pool.grade_task(task, str(rubric_path))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        book.close()
    before = json.loads(row["results"])
    diffs = compare(before, graded.results)
    out.write("replay %s: %s, graded %s with seed %d\n%s\n" % (
        student, row["source"], row["graded_at"], row["seed"], seed_note))
    old = {test_id(t): t for t in before.get("tests", [])}
    for t in graded.results.get("tests", []):
        o = old.get(test_id(t), {})
        same = (o.get("score"), o.get("status"), o.get("output")) == (t["score"], t["status"], t["output"])
        out.write("  %-4s %-16s %5s / %-5s %s\n" % ("same" if same else "DIFF", test_id(t),
                                                     "%g" % t["score"], "%g" % t["max_score"], t["status"]))
    if diffs:
        out.write("DIFFERENT from the recorded grading:\n" + "".join("  %s\n" % d for d in diffs))
        return 1
    out.write("identical: score %g / %g, every check as recorded\n"
              % (graded.results["score"], graded.results["max_score"]))
    return 0


def seed_origin(row, rub, secret, gradebook):
    try:
        key = seeds.load(secret, gradebook, create=False)
    except UsageError:
        return "(no course secret found; the recorded seed is used)"
    if key.seed(rub.assignment, row["student"]) == row["seed"]:
        return "the seed is HMAC-SHA256 of the course secret (%s), the assignment and the student" % key.origin
    return "warning: the recorded seed is not the one the course secret in %s gives; the recorded seed is used" \
        % key.origin


def test_id(t):
    return (t.get("extra_data") or {}).get("id") or t.get("name")


def compare(before, after):
    """Differences between two results.json that matter for a grade (not timings)."""
    diffs = []
    if before.get("score") != after.get("score"):
        diffs.append("score: recorded %s, now %s" % (before.get("score"), after.get("score")))
    old = {test_id(t): t for t in before.get("tests", [])}
    new = {test_id(t): t for t in after.get("tests", [])}
    for k in sorted(set(old) | set(new), key=str):
        a, b = old.get(k), new.get(k)
        if a is None or b is None:
            diffs.append("%s: %s" % (k, "new check" if a is None else "check missing now"))
            continue
        for f in ("score", "status", "output"):
            if a.get(f) != b.get(f):
                diffs.append("%s %s: recorded %r, now %r" % (k, f, str(a.get(f))[:200], str(b.get(f))[:200]))
    return diffs


# ---------------------------------------------------------------------------- command line

def batch_args(cmd):
    cmd.add_argument("inputs", nargs="*", metavar="INPUT",
                     help="a folder with one entry per student, a .zip export (LMS or Gradescope), "
                          "or several submissions (files or folders)")
    cmd.add_argument("--list", dest="list_file", metavar="FILE",
                     help="read submissions from FILE ('-': standard input), one per line: PATH or "
                          "STUDENT<TAB>PATH")
    cmd.add_argument("--rubric", help="rubric YAML file or packaged rubric name (default: gates)")
    cmd.add_argument("--gradebook", default="grades.sqlite",
                     help="SQLite gradebook to add results to (default: grades.sqlite)")
    cmd.add_argument("--csv", help="write one row per student: each rubric item, total")
    cmd.add_argument("--results-dir", help="write DIR/STUDENT/results.json (Gradescope format)")
    cmd.add_argument("-j", "--jobs", type=int, help="parallel workers (default: all cores)")
    cmd.add_argument("--regrade", action="store_true",
                     help="grade again submissions already graded with this rubric")
    cmd.add_argument("--id-pattern", metavar="REGEX",
                     help="take the student id from each name with this regex (group 'id', else "
                          "group 1, else the match); e.g. '^([a-z]+)_' for Canvas exports")
    cmd.add_argument("--secret", metavar="FILE",
                     help="course secret for per-student seeds (default: $%s, $%s, or course.secret "
                          "next to the gradebook, created on first use)"
                          % (seeds.ENV_SECRET, seeds.ENV_SECRET_FILE))
    cmd.add_argument("--executor", choices=sorted(EXECUTORS), default="local",
                     help="where to grade: local worker processes, or a Dask cluster")
    cmd.add_argument("--scheduler", metavar="ADDRESS",
                     help="Dask scheduler, e.g. tcp://HOST:8786 (default: a local cluster)")
    cmd.add_argument("--progress", choices=["auto", "bar", "lines", "none"], default="auto",
                     help="progress display (auto: a bar on a terminal, else plain lines)")
    cmd.set_defaults(run=run_batch)


def run_batch(args):
    if args.jobs is not None and args.jobs < 1:
        raise BatchError("-j must be at least 1")
    if args.scheduler and args.executor != "dask":
        raise BatchError("--scheduler needs --executor dask")
    report = run(args.inputs, args.rubric, args.gradebook, args.csv, args.results_dir, args.jobs,
                 args.regrade, args.id_pattern, args.list_file, args.secret, args.executor,
                 args.scheduler, args.progress)
    sys.stderr.write(report.text)
    return report.exit_code


def export_args(cmd):
    cmd.add_argument("--gradebook", default="grades.sqlite", help="the gradebook (default: grades.sqlite)")
    cmd.add_argument("--csv", help="one row per student (default: to standard output)")
    cmd.add_argument("--results-dir", help="write DIR/STUDENT/results.json (Gradescope format)")
    cmd.set_defaults(run=lambda args: export(args.gradebook, args.csv, args.results_dir))


def replay_args(cmd):
    cmd.add_argument("student", help="student id, as in the gradebook")
    cmd.add_argument("--gradebook", default="grades.sqlite", help="the gradebook (default: grades.sqlite)")
    cmd.add_argument("--rubric", help="the rubric (default: the one the gradebook was made with)")
    cmd.add_argument("--submission", help="the submission, if the gradebook does not hold it")
    cmd.add_argument("--secret", metavar="FILE", help="course secret, to confirm the recorded seed")
    cmd.set_defaults(run=lambda args: replay(args.student, args.gradebook, args.rubric,
                                             args.submission, args.secret))
