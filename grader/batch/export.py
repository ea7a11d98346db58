"""`bpgrade export`: files from a gradebook (CSV, results.json, the LMS files, the changes
a rubric fix made)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from backprop_grader.batch import gradebook as gradebook_mod
from backprop_grader.batch.classlist import listing
from backprop_grader.report.results import safe_text


def export(gradebook: str | Path, *, csv: str | Path | None = None, results_dir: str | Path | None = None,
           changes: str | Path | None = None, stream: TextIO | None = None,
           lms_args: argparse.Namespace | None = None) -> int:
    """Write what is asked for; with nothing asked, the CSV to standard output. Returns the exit status."""
    from backprop_grader.report import lms
    stream = stream or sys.stderr
    book = gradebook_mod.Gradebook(gradebook, create=False)
    try:
        if lms_args is not None and lms.wanted(lms_args):
            lms.export(book, lms_args, stream)  # --canvas-csv, --moodle-csv
        elif csv is None and results_dir is None and changes is None:
            sys.stdout.write(safe_text(book.csv_text()))
        if csv:
            n = book.export_csv(csv)
            stream.write("bpgrade: %s: %d student%s\n" % (csv, n, "" if n == 1 else "s"))
        if results_dir:
            n = book.export_results(results_dir)
            stream.write("bpgrade: %s: %d results.json\n" % (results_dir, n))
        if changes:
            n = book.changes_csv(changes)
            stream.write("bpgrade: %s: %d student%s whose score a rubric change changed\n"
                         % (changes, n, "" if n == 1 else "s"))
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
