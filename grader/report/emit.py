"""The command line's report options, and writing what report/formats.py renders.

    --format    which renderer of formats.py prints the report (or writes it to --results)
    --junit     also writes JUnit XML to a file, from the same grading
    --fail-under  exit with status 1 when the score is under a number of points or a
                percentage (`grade`: every item; `check`: the visible ones)

Markdown is also appended to $GITHUB_STEP_SUMMARY when that is set.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from backprop_grader.errors import UsageError
from backprop_grader.report import results as report
from backprop_grader.report.formats import FORMATS, junit, render

if TYPE_CHECKING:
    from backprop_grader.judge.score import Result

EPSILON = 1e-9


# ---------------------------------------------------------------- --fail-under

@dataclass
class Threshold:
    value: float
    percent: bool

    def __str__(self) -> str:
        return report.num(self.value) + ("%" if self.percent else "")


def threshold(text: object) -> Threshold:
    """--fail-under's argument: points ("80", "72.5") or a percentage ("80%")."""
    s = str(text).strip()
    percent = s.endswith("%")
    try:
        value = float(s[:-1] if percent else s)
    except ValueError:
        raise ValueError("%r is not a number of points or a percentage such as 80%%" % text) from None
    if value != value or value in (float("inf"), float("-inf")) or value < 0:
        raise ValueError("%r: give a finite number of points or a percentage, at least 0" % text)
    if percent and value > 100:
        raise ValueError("%r: a percentage is at most 100%%" % text)
    return Threshold(value, percent)


def scored(result: Result, student: bool) -> tuple[float, float]:
    """(score, max): over every item from `grade`, over the visible ones from `check`."""
    items = [r for r in result.items if not (student and r.item.hidden)]
    return sum(r.score for r in items), sum(r.item.points for r in items)


def check_threshold(limit: Threshold, result: Result, student: bool) -> str | None:
    """None when `limit` can be reached, else why not (a usage error)."""
    _, maximum = scored(result, student)
    if not limit.percent and limit.value > maximum + EPSILON:
        return ("--fail-under %s is more than the %s points %s" % (
            limit, report.num(maximum), "of the visible checks" if student else "available"))
    return None


def meets(limit: Threshold, result: Result, student: bool) -> bool:
    score, maximum = scored(result, student)
    if limit.percent:
        got = 100.0 * score / maximum if maximum else 100.0
        return got + EPSILON >= limit.value
    return score + EPSILON >= limit.value


# ---------------------------------------------------------------- the CLI's options

FAIL_UNDER_HELP = (
    "exit with status 1 when the score is under SCORE: a number of points (80, 72.5) or, "
    "with a %% sign, a percentage of the maximum (80%%). `grade` compares the total over "
    "every rubric item, hidden ones included; `check` compares the score on the visible "
    "checks. A number of points above the maximum is a usage error (status 2).")


def threshold_arg(text: str) -> Threshold:
    try:
        return threshold(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_args(cmd: argparse.ArgumentParser, default: str) -> None:
    """--format, --junit and --fail-under for `grade` (default json) and `check` (text)."""
    cmd.add_argument(
        "--format", choices=FORMATS, default=default,
        help="text: readable feedback; json: Gradescope results.json (from check: visible "
             "items only); junit: JUnit XML, one testcase per visible item and one for the "
             "hidden ones' count; markdown: a table, also appended to $GITHUB_STEP_SUMMARY "
             "when that is set (default: %s)" % default)
    cmd.add_argument("--junit", metavar="PATH",
                     help="also write JUnit XML to PATH, from the same grading")
    cmd.add_argument("--fail-under", metavar="SCORE", type=threshold_arg, help=FAIL_UNDER_HELP)


# ---------------------------------------------------------------- writing

def append_step_summary(text: str, environ: Mapping[str, str] | None = None) -> str | None:
    """Append `text` to $GITHUB_STEP_SUMMARY when it is set. Returns the path, or None."""
    path = (os.environ if environ is None else environ).get("GITHUB_STEP_SUMMARY")
    if not path:
        return None
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(text if text.endswith("\n") else text + "\n")
    except OSError as exc:
        print("bpgrade: warning: cannot write the step summary %s: %s" % (path, exc.strerror),
              file=sys.stderr)
        return None
    return path


def write_file(path: str | Path, text: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text, encoding="utf-8")


def emit(args: argparse.Namespace, result: Result, student: bool) -> int:
    """Write the report as the options ask; the exit status (0, or 1 under --fail-under)."""
    limit = getattr(args, "fail_under", None)
    if limit is not None:
        problem = check_threshold(limit, result, student)
        if problem:
            raise UsageError(problem)
    text = render(result, args.format, student)
    got, maximum = scored(result, student)
    if args.results:
        write_file(args.results, text)
        print("%s: %g / %g -> %s" % (report.safe_text(result.loaded.path.name, one_line=True), got,
                                     maximum, args.results), file=sys.stderr)
    else:
        sys.stdout.write(report.safe_text(text))
    if args.junit:
        write_file(args.junit, junit(result))
    if args.format == "markdown":
        append_step_summary(text)
    if limit is not None and not meets(limit, result, student):
        print("bpgrade: score %g / %g is under --fail-under %s" % (got, maximum, limit),
              file=sys.stderr)
        return 1
    return 0
