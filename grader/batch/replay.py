"""`bpgrade replay`: grade a student's graded submission again, exactly (recorded seed),
with any rubric version the gradebook has seen, and compare with the recorded grading.

The rubric is, in order: `--rubric FILE`; `--rubric-version HASH` (a prefix of a
sha256 in the gradebook's rubrics table); else the version the grade was made with,
from its file when that is unchanged, else from the text the gradebook keeps.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any, Iterator, Mapping, TextIO

from backprop_grader.batch import gradebook as gradebook_mod
from backprop_grader.batch import pool
from backprop_grader.batch.classlist import MAX_STORED, listing, submission_hash, unpack
from backprop_grader.errors import BatchError, UsageError
from backprop_grader.judge import rubric as rubric_mod
from backprop_grader.judge import seeds
from backprop_grader.report.results import safe_text
from backprop_grader.tempdirs import temp_dir


def replay(student: str, gradebook: str | Path, *, rubric: str | None = None, rubric_version: str | None = None,
           submission: str | Path | None = None, secret: str | Path | None = None,
           out: TextIO | None = None) -> int:
    """Grade a student's latest graded submission again with its recorded seed; compare.
    Returns the exit status: 0 identical, 1 different."""
    out = Escaped(out or sys.stdout)
    if rubric and rubric_version:
        raise BatchError("--rubric and --rubric-version: give one")
    book = gradebook_mod.Gradebook(gradebook, create=False)
    try:
        row = book.latest_for(student)
        if row is None:
            raise BatchError("%s: no grades for %r (students: %s)"
                             % (gradebook, student, listing(book.students())))
        tmp = temp_dir("replay-")
        try:
            with rubric_file(book, row, rubric, rubric_version, tmp) as (rubric_path, how):
                rub = rubric_mod.load(rubric_path)
                if rub.assignment != book.meta.get("assignment"):
                    raise BatchError("%s is a rubric for assignment %r; %s holds %r"
                                     % (rubric_path, rub.assignment, gradebook, book.meta.get("assignment")))
                seed_note = seed_origin(row, rub, secret, gradebook)
                path = submission_path(row, student, submission, tmp)
                task = pool.Task(student, str(path), row["seed"], json.loads(row["notes"]))
                graded = pool.grade_task(task, str(rubric_path))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        book.close()
    before = json.loads(row["results"])
    same_rubric = rub.sha256 == row["rubric_sha256"]
    out.write("replay %s: %s, graded %s with seed %d\n%s\n" % (
        one_line(student), one_line(row["source"]), row["graded_at"], row["seed"], seed_note))
    out.write("rubric %s (%s)%s\n" % (rub.sha256[:12], how, "" if same_rubric else
                                      "; the grade was made with rubric %s" % row["rubric_sha256"][:12]))
    diffs = compare(before, graded.results)
    old = {test_id(t): t for t in before.get("tests", [])}
    for t in graded.results.get("tests", []):
        o = old.get(test_id(t), {})
        same = (o.get("score"), o.get("status"), o.get("output")) == (t["score"], t["status"], t["output"])
        out.write("  %-4s %-16s %5s / %-5s %s\n" % ("same" if same else "DIFF", test_id(t),
                                                     "%g" % t["score"], "%g" % t["max_score"], t["status"]))
    if diffs:
        out.write("DIFFERENT from the recorded grading%s:\n" % ("" if same_rubric else " (another rubric version)")
                  + "".join("  %s\n" % d for d in diffs))
        return 1
    out.write("identical: score %g / %g, every check as recorded\n"
              % (graded.results["score"], graded.results["max_score"]))
    return 0


@contextlib.contextmanager
def rubric_file(book: gradebook_mod.Gradebook, row: Mapping[str, Any], rubric: str | None, version: str | None,
                tmp: Path) -> Iterator[tuple[Path, str]]:
    """(a rubric file to grade with, how it was chosen)."""
    if rubric:
        yield rubric_mod.find(rubric), "--rubric"
        return
    sha = book.rubric_version(version)["sha256"] if version else row["rubric_sha256"]
    how = "--rubric-version" if version else "the one this grade was made with"
    kept = book.db.execute("SELECT * FROM rubrics WHERE sha256 = ?", (sha,)).fetchone()
    candidates = ([Path(kept["path"])] if kept is not None else []) + [Path(book.meta.get("rubric_path", ""))]
    for candidate in candidates:
        if hash_of(candidate) == sha:  # its file, unchanged
            yield candidate, how
            return
    if kept is None:
        raise BatchError("%s: the rubric %s is not kept in the gradebook and its file %s has changed: pass "
                         "--rubric" % (book.path, sha[:12], book.meta.get("rubric_path")))
    # the kept text, beside where it was (a rubric names reference files relative to itself)
    original = Path(kept["path"])
    for folder in (original.parent, tmp):
        target = folder / (".bpgrade-rubric-%s%s" % (sha[:12], original.suffix or ".yaml"))
        try:
            target.write_text(kept["text"], encoding="utf-8", errors="surrogateescape")
        except OSError:
            continue
        try:
            yield target, how + ", its text as kept in the gradebook"
        finally:
            with contextlib.suppress(OSError):
                target.unlink()
        return
    raise UsageError("cannot write the kept rubric %s anywhere" % sha[:12])


def hash_of(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() if str(path) and path.is_file() else None
    except OSError:
        return None


def submission_path(row: Mapping[str, Any], student: str, submission: str | Path | None, tmp: Path) -> Path:
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
        raise BatchError("%s is not the submission that was graded for %s (its hash differs)" % (path, student))
    return path


class Escaped:
    """A stream that shows control characters in what it is given as escapes (safe_text)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(safe_text(text))


def one_line(text: str) -> str:
    return safe_text(text, one_line=True)


def seed_origin(row: Mapping[str, Any], rub: rubric_mod.Rubric, secret: str | Path | None,
                gradebook: str | Path) -> str:
    try:
        key = seeds.load(secret, gradebook, create=False)
    except UsageError:
        return "(no course secret found; the recorded seed is used)"
    if key.seed(rub.assignment, row["student"]) == row["seed"]:
        return "the seed is HMAC-SHA256 of the course secret (%s), the assignment and the student" % key.origin
    return "warning: the recorded seed is not the one the course secret in %s gives; the recorded seed is used" \
        % key.origin


def test_id(t: dict) -> str:
    return (t.get("extra_data") or {}).get("id") or t.get("name")


def compare(before: dict, after: dict) -> list[str]:
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
