"""Grade a whole class: `bpgrade batch`, `bpgrade export` and `bpgrade replay`.

Inputs: a folder with one entry per student (a folder, a .py or .ipynb file, or
a .zip of the student's files), a .zip export from an LMS or Gradescope, or a
list of submissions. The student id is the folder name or the file name
without its suffix; `--id-pattern REGEX` takes it from the name instead (its
group `id`, else its first group, else the whole match). Several files that
map to one student are graded together as one folder, and reported.

Finding the submissions is grader.batch.classlist's job; where they are graded,
grader.batch.executors' (`backprop_grader.batch.pool` worker processes, or a Dask cluster). Each
result is committed to the gradebook as it finishes, so a killed run loses
nothing graded, and the same command skips what is already graded.

An edited rubric for the same assignment is a new rubric version: every submission
not yet graded with it is graded again, and the summary says whose score changed.
With a late policy in the rubric, each student's penalty is worked out after grading
(from the submission time the export gave and the extensions) and kept beside the
raw score. Exports: grader.batch.export; replay: grader.batch.replay; the command
lines: grader.batch.commands.
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, TextIO

from backprop_grader.batch import gradebook as gradebook_mod
from backprop_grader.batch import late as late_mod
from backprop_grader.batch import pool
from backprop_grader.judge import seeds
from backprop_grader.judge import rubric as rubric_mod
from backprop_grader.report.results import safe_text
from backprop_grader.batch.classlist import BatchError, Inputs, pack, submission_hash
from backprop_grader.batch.executors import EXECUTORS
# the command lines and the other two commands, where cli.py and older callers look for them
from backprop_grader.batch.commands import batch_args, export_args, replay_args, run_batch  # noqa: F401
from backprop_grader.batch.export import export  # noqa: F401
from backprop_grader.batch.replay import compare, replay  # noqa: F401

if TYPE_CHECKING:
    from backprop_grader.batch.pool import Graded

SLOWEST = 5


# ---------------------------------------------------------------------------- progress

class Progress:
    """A bar with count, rate and ETA on a terminal (tqdm when installed); plain lines otherwise."""

    def __init__(self, total: int, stream: TextIO | None = None, mode: str = "auto") -> None:
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

    def rate(self) -> float:
        elapsed = time.monotonic() - self.start
        return self.done / elapsed if elapsed > 0 else 0.0

    def status(self) -> str:
        rate = self.rate()
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        return "%d/%d graded, %.1f/s, %s left" % (self.done, self.total, rate,
                                                   "?" if eta != eta else "%.0f s" % eta)

    def update(self, graded: Graded | None) -> None:
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

    def say(self, message: str) -> None:
        if self.mode == "none":
            return
        if self.bar is not None:
            self.bar.write(message, file=self.stream)
        else:
            self.stream.write(("\n" if self.mode == "bar" else "") + message + "\n")

    def close(self) -> None:
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
    rubric_change: tuple | None = None  # (old sha256, new sha256) when this run's rubric is a new version
    changes: list = field(default_factory=list)  # gradebook.changes(): whose score the rubric change changed
    late: dict = field(default_factory=dict)  # {student: late.Penalty}


@dataclass
class Settings:
    """How to grade (what `run` was given, besides the inputs)."""
    rubric_path: Path
    rubric: rubric_mod.Rubric
    regrade: bool = False
    jobs: int | None = None
    executor: str = "local"
    scheduler: str | None = None
    progress: str = "auto"
    csv: str | None = None
    results_dir: str | None = None


def run(inputs: Iterable[str] = (), *, rubric: str | None = None, gradebook: str | Path = "grades.sqlite",
        csv: str | None = None, results_dir: str | None = None, jobs: int | None = None,
        regrade: bool = False, id_pattern: str | None = None, list_file: str | None = None,
        secret: str | None = None, executor: str = "local", scheduler: str | None = None,
        progress: str = "auto", extensions: str | Path | None = None, stream: TextIO | None = None) -> Report:
    """Grade a batch; returns a `Report`. Usage problems raise `UsageError` (exit 2)."""
    stream = stream or sys.stderr
    rubric_path = rubric_mod.find(rubric)
    rub = rubric_mod.load(rubric_path)
    if executor not in EXECUTORS:
        raise BatchError("unknown executor %r (choose from %s)" % (executor, ", ".join(EXECUTORS)))
    granted = None
    if extensions is not None:
        if rub.late is None:
            raise BatchError("--extensions %s: the rubric %s has no late: policy to extend" % (extensions, rubric_path))
        granted = late_mod.read_extensions(extensions, rub.late.due.tzinfo)  # before touching the gradebook
    book = gradebook_mod.Gradebook(gradebook, rubric=rub, lock=True)  # one batch at a time (exit 2)
    try:
        key = seeds.load(secret, gradebook)
        if not book.check_secret(key):
            stream.write("bpgrade: warning: %s was graded with a different course secret; new grades "
                         "use the secret from %s (recorded seeds still replay)\n" % (gradebook, key.origin))
        if book.rubric_change:
            old, new = book.rubric_change
            stream.write("bpgrade: the rubric changed (%s -> %s): submissions graded with the old version "
                         "are graded again; both grades are kept\n" % (old[:12], new[:12]))
        if granted is not None:
            book.set_extensions(granted)
        with Inputs(inputs, id_pattern, list_file) as found:
            for w in found.warnings:
                stream.write("bpgrade: warning: %s\n" % safe_text(w, one_line=True))
            known = {e.student for e in found.entries} | set(book.students())
            for student in sorted(set(granted or ()) - known):
                stream.write("bpgrade: warning: %s: extension for %r, who is not in this batch or the "
                             "gradebook\n" % (granted[student].where, student))
            book.record_students(found.entries)  # who they are in the LMS export, for grades out
            settings = Settings(rubric_path, rub, regrade, jobs, executor, scheduler, progress, csv, results_dir)
            return _grade(found.entries, settings, book, key, stream)
    finally:
        book.close()


def _grade(entries, settings: Settings, book, key, stream) -> Report:
    rub, regrade = settings.rubric, settings.regrade
    report = Report(students=[e.student for e in entries], rubric_change=book.rubric_change)
    todo = {}
    for e in entries:
        sha = submission_hash(e.path)
        if not regrade and book.already_graded(e.student, sha) is not None:
            report.skipped += 1
            continue
        task = pool.Task(e.student, str(e.path), key.seed(rub.assignment, e.student), list(e.notes))
        todo[e.student] = (task, sha, e)
    bar = Progress(len(todo), stream, settings.progress)
    start = time.monotonic()
    results = None
    try:
        if todo:
            results = EXECUTORS[settings.executor]([t for t, _, _ in todo.values()], settings.rubric_path,
                                                   settings.jobs, settings.scheduler)
            for graded in results:
                task, sha, entry = todo[graded.task.student]
                book.record(graded, sha, entry.source, pack(entry.path))
                report.graded += 1
                if graded.error:
                    report.errors.append((task.student, graded.error))
                    bar.say("bpgrade: the grader failed on %s: %s" % (one_line(task.student),
                                                                      one_line(graded.error)))
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
    csv, results_dir = settings.csv, settings.results_dir
    if not report.stopped:
        try:
            report.late = book.assess_late(rub.late)  # every student's latest grade, this run's or not
            report.changes = book.changes(report.students)
            if csv:
                book.export_csv(csv)
            if results_dir:
                book.export_results(results_dir, report.students)
        except gradebook_mod.GradebookFull as exc:
            report.stopped = str(exc)
    report.text = summary(report, book, rub, settings.jobs, csv, results_dir)
    if report.stopped and not report.exit_code:
        report.exit_code = 1
    elif book.failed() and not report.exit_code:
        report.exit_code = 1
    return report


def summary(report: Report, book: gradebook_mod.Gradebook, rub: rubric_mod.Rubric, jobs: int | None,
            csv: str | None, results_dir: str | None) -> str:
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
        lines.append("  %s: %s" % (one_line(s), one_line(err[:160])))
    several = [(s, json.loads(r["notes"])) for s, r in rows.items() if json.loads(r["notes"])]
    if several:
        lines.append("students with several files: %d" % len(several))
        for s, notes in several[:10]:
            graded = json.loads(rows[s]["results"]).get("extra_data", {}).get("submission", "?")
            lines.append("  %s: %s; graded %s" % (one_line(s), one_line("; ".join(notes)), one_line(graded)))
    slow = sorted(rows.values(), key=lambda r: -r["duration"])[:SLOWEST]
    if slow:
        lines.append("slowest:")
        for r in slow:
            lines.append("  %-20s %6.2f s  %s" % (one_line(r["student"]), r["duration"],
                                                  one_line(first_problem(r))))
    weak = sum(1 for r in rows.values() if r["isolation_tier"] is not None and r["isolation_tier"] < 2)
    if weak:
        lines.append("warning: %d submission(s) ran at isolation tier < 2: student code could read or "
                     "write files outside its folder (install bubblewrap)" % weak)
    if report.rubric_change:
        old, new = report.rubric_change
        lines.append("rubric changed: %s -> %s; scores changed for %d student%s%s" % (
            old[:12], new[:12], len(report.changes), "" if len(report.changes) == 1 else "s",
            " (bpgrade export --changes FILE writes them as CSV):" if report.changes else ""))
    elif report.changes:
        lines.append("scores changed by a rubric change for %d student%s (bpgrade export --changes FILE):"
                     % (len(report.changes), "" if len(report.changes) == 1 else "s"))
    for c in report.changes[:50]:
        lines.append("  %s: %g -> %g (rubric %s -> %s)" % (one_line(c["student"]), c["old_score"], c["new_score"],
                                                           c["old_rubric"][:12], c["new_rubric"][:12]))
    if len(report.changes) > 50:
        lines.append("  and %d more" % (len(report.changes) - 50))
    if rub.late is not None:
        penalised = {s: p for s, p in report.late.items() if p.percent}
        lines.append("late policy: %s; %d student%s penalised%s" % (
            rub.late.describe(), len(penalised), "" if len(penalised) == 1 else "s", ":" if penalised else ""))
        for s, p in sorted(penalised.items()):
            lines.append("  %s: %s" % (one_line(s), one_line(p.note)))
        check = sorted(s for s, p in report.late.items() if p.check)
        if check:
            lines.append("  check by hand (marked late, has an extension): %s" % one_line(", ".join(check)))
    lines.append("gradebook: %s (%d row%s)" % (book.path, book.count(), "" if book.count() == 1 else "s"))
    if csv and not report.stopped:
        lines.append("csv: %s" % csv)
    if results_dir and not report.stopped:
        lines.append("results: %s/STUDENT/results.json" % str(results_dir).rstrip("/"))
    if report.stopped:
        lines.append("stopped: " + report.stopped)
    return "\n".join(lines) + "\n"


def one_line(text: str) -> str:
    """A field of a summary line (an id, a message): no line breaks, no control codes."""
    return safe_text(text, one_line=True)


def first_problem(row: Mapping[str, Any]) -> str:
    """The first test's `problem` (timeouts, crashes), for the slowest list."""
    results = json.loads(row["results"])
    for t in results.get("tests", []):
        text = (t.get("extra_data") or {}).get("problem")
        if text:
            return text[:90]
    return ("score %g" % row["score"]) if not row["error"] else row["error"][:90]
