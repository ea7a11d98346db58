"""Grade a whole class: `bpgrade batch`, `bpgrade export` and `bpgrade replay`.

Inputs: a folder with one entry per student (a folder, a .py or .ipynb file, or
a .zip of the student's files), a .zip export from an LMS or Gradescope, or a
list of submissions. The student id is the folder name or the file name
without its suffix; `--id-pattern REGEX` takes it from the name instead (its
group `id`, else its first group, else the whole match). Several files that
map to one student are graded together as one folder, and reported.

Finding the submissions is grader.batch.classlist's job; where they are graded,
grader.batch.executors' (`grader.batch.pool` worker processes, or a Dask cluster). Each
result is committed to the gradebook as it finishes, so a killed run loses
nothing graded, and the same command skips what is already graded.
"""
import json
import shutil
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


from grader.batch import gradebook as gradebook_mod
from grader.batch import pool
from grader.judge import seeds
from grader.judge import rubric as rubric_mod
from grader.errors import UsageError
from grader.report.results import safe_text
from grader.batch.classlist import MAX_STORED, BatchError, Inputs, listing, pack, submission_hash, unpack
from grader.batch.executors import EXECUTORS
from grader.tempdirs import temp_dir

SLOWEST = 5


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
    book = gradebook_mod.Gradebook(gradebook, rubric=rub, lock=True)  # one batch at a time (exit 2)
    try:
        key = seeds.load(secret, gradebook)
        if not book.check_secret(key):
            stream.write("bpgrade: warning: %s was graded with a different course secret; new grades "
                         "use the secret from %s (recorded seeds still replay)\n" % (gradebook, key.origin))
        with Inputs(inputs, id_pattern, list_file) as found:
            for w in found.warnings:
                stream.write("bpgrade: warning: %s\n" % safe_text(w, one_line=True))
            book.record_students(found.entries)  # who they are in the LMS export, for grades out
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
    lines.append("gradebook: %s (%d row%s)" % (book.path, book.count(), "" if book.count() == 1 else "s"))
    if csv and not report.stopped:
        lines.append("csv: %s" % csv)
    if results_dir and not report.stopped:
        lines.append("results: %s/STUDENT/results.json" % str(results_dir).rstrip("/"))
    if report.stopped:
        lines.append("stopped: " + report.stopped)
    return "\n".join(lines) + "\n"


def one_line(text):
    """A field of a summary line (an id, a message): no line breaks, no control codes."""
    return safe_text(text, one_line=True)


def first_problem(row):
    """The first test's `problem` (timeouts, crashes), for the slowest list."""
    results = json.loads(row["results"])
    for t in results.get("tests", []):
        text = (t.get("extra_data") or {}).get("problem")
        if text:
            return text[:90]
    return ("score %g" % row["score"]) if not row["error"] else row["error"][:90]


# ---------------------------------------------------------------------------- export, replay

def export(gradebook, csv=None, results_dir=None, stream=None, lms_args=None):
    from grader.report import lms
    stream = stream or sys.stderr
    book = gradebook_mod.Gradebook(gradebook, create=False)
    try:
        if lms_args is not None and lms.wanted(lms_args):
            lms.export(book, lms_args, stream)  # --canvas-csv, --moodle-csv
        elif csv is None and results_dir is None:
            sys.stdout.write(safe_text(book.csv_text()))
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
    out = Escaped(out or sys.stdout)
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
        tmp = temp_dir("replay-")
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
        one_line(student), one_line(row["source"]), row["graded_at"], row["seed"], seed_note))
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


class Escaped:
    """A stream that shows control characters in what it is given as escapes (safe_text)."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        return self.stream.write(safe_text(text))


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
    sys.stdout.write(safe_text(report.text))  # the summary; progress and warnings are on stderr
    return report.exit_code


def export_args(cmd):
    cmd.add_argument("--gradebook", default="grades.sqlite", help="the gradebook (default: grades.sqlite)")
    cmd.add_argument("--csv", help="one row per student (default: to standard output)")
    cmd.add_argument("--results-dir", help="write DIR/STUDENT/results.json (Gradescope format)")
    from grader.report import lms
    lms.add_export_args(cmd)
    cmd.set_defaults(run=lambda args: export(args.gradebook, args.csv, args.results_dir, lms_args=args))


def replay_args(cmd):
    cmd.add_argument("student", help="student id, as in the gradebook")
    cmd.add_argument("--gradebook", default="grades.sqlite", help="the gradebook (default: grades.sqlite)")
    cmd.add_argument("--rubric", help="the rubric (default: the one the gradebook was made with)")
    cmd.add_argument("--submission", help="the submission, if the gradebook does not hold it")
    cmd.add_argument("--secret", metavar="FILE", help="course secret, to confirm the recorded seed")
    cmd.set_defaults(run=lambda args: replay(args.student, args.gradebook, args.rubric,
                                             args.submission, args.secret))
