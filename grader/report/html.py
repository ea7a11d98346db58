"""`bpgrade report`: a static HTML class summary from a gradebook, for course staff.

    REPORT/index.html              score histogram, pass rate per rubric item,
                                   the most frequent named mistakes per gate, the
                                   slowest and the erroring submissions (apart from
                                   wrong answers), and one row per student linking to
    REPORT/students/STUDENT.html   the student's notebook (or module), rendered by
                                   nbconvert's HTML exporter, with each gate's
                                   feedback right after the cell that defines it,
                                   and the other code files it was graded with

Everything is in the files: plots are inline SVG drawn here, styles are inline,
there is no script and nothing is fetched (a Content-Security-Policy says so to
the browser), so the report works offline and can be zipped and mailed.

Student notebooks are untrusted: their markdown and HTML outputs are sanitized
(bleach, through nbconvert's `clean_html` filter, with a wider list of tags),
their scripts are dropped, and the page's policy forbids running any.
Hidden rubric items are shown (this is a staff report) and marked as hidden.

One job a module: report.classdata (the numbers, from the gradebook), report.charts
(SVG), report.pages (HTML pages and their style), report.sanitize (escaping and
student HTML), report.notebooks (nbconvert and the feedback splices),
report.submission (the stored submission, unpacked); this module is the command.
"""
from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path
from typing import TextIO

from backprop_grader.batch import gradebook as gradebook_mod
from backprop_grader.errors import ReportError
from backprop_grader.report.classdata import ClassData
from backprop_grader.report.notebooks import Renderer
from backprop_grader.report.pages import index_page, student_page


def build(gradebook: str | Path, output: str | Path, title: str | None = None,
          stream: TextIO | None = None) -> dict:
    """Write the report; returns a summary dict (paths, counts)."""
    stream = stream or sys.stderr
    book = gradebook_mod.Gradebook(gradebook, create=False)
    out = Path(output)
    try:
        if out.exists() and not out.is_dir():
            raise ReportError("%s exists and is not a folder" % out)
        (out / "students").mkdir(parents=True, exist_ok=True)
        data = ClassData(book)
        renderer = Renderer()
        gates = []
        for s in data.students:
            for t in s.tests.values():
                tag = (t.get("tags") or [""])[0]
                if tag and tag != "graph" and tag not in gates:
                    gates.append(tag)
        generated = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        title = title or "%s: class report" % data.meta.get("assignment", "assignment")
        written = set()
        for s in data.students:
            target = inside(out / "students", s.slug + ".html")  # slugs are safe; checked anyway
            write(target, student_page(s, data, renderer, gates))
            written.add(target.name)
        for old in (out / "students").glob("*.html"):  # students no longer in the gradebook
            if old.name not in written:
                old.unlink()
        write(out / "index.html", index_page(data, title, generated))
    finally:
        book.close()
    stream.write("bpgrade: %s: class report for %d student%s (%d graded); open %s\n"
                 % (out, len(data.students), "" if len(data.students) == 1 else "s", len(data.graded),
                    out / "index.html"))
    return {"index": out / "index.html", "students": {s.id: out / "students" / (s.slug + ".html")
                                                      for s in data.students},
            "graded": len(data.graded), "failed": len(data.failed)}


def inside(folder: Path, name: str) -> Path:
    try:
        return gradebook_mod.inside(folder, name)
    except gradebook_mod.OutsideFolder as exc:
        raise ReportError(str(exc)) from None


def write(path: Path, text: str) -> None:
    try:
        gradebook_mod.write_atomic(Path(path), text)
    except gradebook_mod.GradebookFull as exc:
        raise ReportError(str(exc)) from None


def report_args(cmd: argparse.ArgumentParser) -> None:
    cmd.description = ("Write a static HTML class summary from a gradebook: score histogram, pass rate per "
                       "rubric item, the most frequent named mistakes per gate, the slowest and erroring "
                       "submissions, and one feedback page per student with their notebook. Works offline.")
    cmd.add_argument("--gradebook", default="grades.sqlite", help="the gradebook (default: grades.sqlite)")
    cmd.add_argument("-o", "--output", default="report", help="folder to write the report to (default: report)")
    cmd.add_argument("--title", help="page title (default: ASSIGNMENT: class report)")
    cmd.set_defaults(run=lambda args: (build(args.gradebook, args.output, args.title), 0)[1])
