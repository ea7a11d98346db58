"""Grades out, as files a TA uploads to the LMS as they are: one function per format.

- `canvas_csv`: Canvas's gradebook import CSV. Canvas's own export starts with the
  columns Student, ID, SIS User ID, SIS Login ID, Section, then one column per
  assignment titled "Name (id)" (its title_with_id), and a "Points Possible" row; the
  import matches students by ID (the Canvas user id) and the assignment by the "(id)".
- `moodle_worksheet`: Moodle's offline grading worksheet (assignfeedback_offline). Its
  download has Identifier ("Participant 1234570"), Full name, Email address, Status,
  Grade, Maximum grade, Grade can be changed, Last modified (submission), Last modified
  (grade), Feedback comments; the upload reads Identifier, Grade and Last modified
  (grade) (strtotime; a grade changed in Moodle after that time is kept unless the TA
  ticks "ignore modified"), and the feedback columns by their headers.

Student identifiers are the ones the LMS export carried (the gradebook's students table,
filled by `bpgrade batch`). A student whose grading failed inside the grader gets an
empty cell (no change in the LMS), never a zero. Cells go through csv_cell.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import re
from typing import TYPE_CHECKING, Any, Mapping, TextIO

from backprop_grader.batch.gradebook import csv_cell, final_score, write_atomic
from backprop_grader.errors import UsageError

if TYPE_CHECKING:
    from backprop_grader.batch.gradebook import Gradebook

CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_COLUMNS = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum grade",
                  "Grade can be changed", "Last modified (submission)", "Last modified (grade)",
                  "Feedback comments"]
CANVAS_TITLE = re.compile(r"^.+ \((\d+)\)$")


def _rows(book):
    """[(student, latest grade row, identity row or None, penalty row or None)] in student order."""
    ids, pen = book.identities(), book.penalties()
    return [(s, row, ids.get(s), pen.get(row["id"])) for s, row in book.latest().items()]


def _write(rows):
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")  # what spreadsheets and both LMSs write
    for r in rows:
        w.writerow([csv_cell(c) for c in r])
    return out.getvalue()


def canvas_csv(book: Gradebook, assignment: str) -> tuple[str, list[str]]:
    """(the Canvas gradebook import CSV, warnings). `assignment`: the column title as Canvas
    exports it, "Name (id)"; without the "(id)" Canvas makes a new assignment."""
    warnings = []
    if not assignment or not assignment.strip():
        raise UsageError("--canvas-csv needs --canvas-assignment \"NAME (ID)\": the assignment's column "
                         "title as Canvas's gradebook export shows it")
    if not CANVAS_TITLE.match(assignment.strip()):
        warnings.append("--canvas-assignment %r has no \"(id)\" at its end: Canvas will make a new "
                        "assignment column instead of filling the existing one" % assignment)
    table = [CANVAS_COLUMNS + [assignment.strip()],
             ["    Points Possible", "", "", "", "", float(book.meta.get("max_score", 0) or 0)]]
    other, late = [], []
    for student, row, who, pen in _rows(book):
        lms = who["lms"] if who is not None else ""
        if lms != "canvas":
            other.append(student)
        name = (who["name"] if who is not None else "") or student
        if pen is not None and pen["points"] and not row["error"]:
            late.append("%s %g - %g = %g" % (student, row["score"], pen["points"], final_score(row, {row["id"]: pen})))
        table.append([name, student, "", "", "", "" if row["error"] else final_score(row, {row["id"]: pen})])
    if late:  # another column would become a new assignment in Canvas: the breakdown goes here
        warnings.append("%d late penalt%s applied (raw - penalty = grade; bpgrade export --csv has them all): %s"
                        % (len(late), "y" if len(late) == 1 else "ies", "; ".join(late[:20])
                           + ("; ..." if len(late) > 20 else "")))
    if other:
        warnings.append("%d student(s) did not come from a Canvas export, so their ID cell holds the bpgrade "
                        "student id, which Canvas may not know: %s" % (len(other), ", ".join(other[:8])))
    return _write(table), warnings


def moodle_worksheet(book: Gradebook) -> tuple[str, list[str]]:
    """(Moodle's grading worksheet with the grades filled in, warnings)."""
    warnings, other = [], []
    maximum = float(book.meta.get("max_score", 0) or 0)
    table = [MOODLE_COLUMNS]
    for student, row, who, pen in _rows(book):
        lms = who["lms"] if who is not None else ""
        if lms != "moodle":
            other.append(student)
        graded = not row["error"]
        table.append([
            "Participant %s" % student, (who["name"] if who is not None else "") or student, "",
            "Submitted for grading", final_score(row, {row["id"]: pen}) if graded else "", maximum, "Yes",
            (who["submitted_at"] if who is not None else "") or "",
            row["graded_at"] if graded else "",
            feedback(row, pen) if graded else ""])
    if other:
        warnings.append("%d student(s) did not come from a Moodle export, so their Identifier is not a "
                        "Moodle participant number: %s" % (len(other), ", ".join(other[:8])))
    return _write(table), warnings


def feedback(row: Mapping[str, Any], pen: Mapping[str, Any] | None = None) -> str:
    """One line for the feedback column: the score, each item that lost points, and the late penalty."""
    lost = ["%s %g/%g" % (c["id"], c["score"], c["max_score"]) for c in json.loads(row["checks"])
            if c.get("score") is not None and c.get("max_score") is not None and c["score"] < c["max_score"]]
    late = ""
    if pen is not None and pen["points"]:
        late = "; late penalty -%g (%s): raw score %g" % (pen["points"], pen["note"], row["score"])
    return "bpgrade: %g / %g%s%s" % (final_score(row, {row["id"]: pen}) if pen is not None else row["score"],
                                     row["max_score"], "; lost points: " + ", ".join(lost) if lost else "", late)


# ---------------------------------------------------------------------------- command line

def add_export_args(cmd: argparse.ArgumentParser) -> None:
    """`bpgrade export` options for the LMS files."""
    cmd.add_argument("--canvas-csv", metavar="FILE",
                     help="write Canvas's gradebook import CSV (Gradebook > Import); needs --canvas-assignment")
    cmd.add_argument("--canvas-assignment", metavar="'NAME (ID)'",
                     help="the assignment's column title as Canvas's gradebook export shows it, "
                          "e.g. 'Backprop (1234)'")
    cmd.add_argument("--moodle-csv", metavar="FILE",
                     help="write Moodle's grading worksheet (Assignment > Upload grading worksheet)")


def wanted(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "canvas_csv", None) or getattr(args, "moodle_csv", None))


def export(book: Gradebook, args: argparse.Namespace, stream: TextIO) -> None:
    """Write the LMS files asked for in `args`; say what was written on `stream`."""
    from pathlib import Path
    from backprop_grader.report.results import safe_text
    jobs = []
    if getattr(args, "canvas_csv", None):
        jobs.append((args.canvas_csv, lambda: canvas_csv(book, args.canvas_assignment or "")))
    elif getattr(args, "canvas_assignment", None):
        raise UsageError("--canvas-assignment is for --canvas-csv FILE")
    if getattr(args, "moodle_csv", None):
        jobs.append((args.moodle_csv, lambda: moodle_worksheet(book)))
    for path, make in jobs:
        text, warnings = make()
        write_atomic(Path(path), text)
        for w in warnings:
            stream.write("bpgrade: warning: %s\n" % safe_text(w, one_line=True))
        n = len(text.splitlines()) - (2 if path == getattr(args, "canvas_csv", None) else 1)
        stream.write("bpgrade: %s: %d student%s\n" % (path, n, "" if n == 1 else "s"))
