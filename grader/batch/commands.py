"""The command lines of `bpgrade batch`, `bpgrade export` and `bpgrade replay`: arguments in,
keyword calls to grader.batch.grading, .export and .replay."""
from __future__ import annotations

import argparse
import sys

from backprop_grader.errors import BatchError
from backprop_grader.judge import seeds
from backprop_grader.report.results import safe_text


def batch_args(cmd: argparse.ArgumentParser) -> None:
    from backprop_grader.batch.executors import EXECUTORS
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
    cmd.add_argument("--extensions", metavar="FILE",
                     help="per-student extensions for the rubric's late policy: CSV rows student,due "
                          "(a date and time) or student,days; replaces the extensions recorded before")
    cmd.add_argument("--id-pattern", metavar="REGEX",
                     help="take the student id from each name with this regex (group 'id', else "
                          "group 1, else the match); e.g. '^([a-z]+)_' for Canvas exports")
    cmd.add_argument("--secret", metavar="FILE", help=seeds.SECRET_HELP)
    cmd.add_argument("--executor", choices=sorted(EXECUTORS), default="local",
                     help="where to grade: local worker processes, or a Dask cluster")
    cmd.add_argument("--scheduler", metavar="ADDRESS",
                     help="Dask scheduler, e.g. tcp://HOST:8786 (default: a local cluster)")
    cmd.add_argument("--progress", choices=["auto", "bar", "lines", "none"], default="auto",
                     help="progress display (auto: a bar on a terminal, else plain lines)")
    cmd.set_defaults(run=run_batch)


def run_batch(args: argparse.Namespace) -> int:
    from backprop_grader.batch import grading
    if args.jobs is not None and args.jobs < 1:
        raise BatchError("-j must be at least 1")
    if args.scheduler and args.executor != "dask":
        raise BatchError("--scheduler needs --executor dask")
    report = grading.run(args.inputs, rubric=args.rubric, gradebook=args.gradebook, csv=args.csv,
                         results_dir=args.results_dir, jobs=args.jobs, regrade=args.regrade,
                         id_pattern=args.id_pattern, list_file=args.list_file, secret=args.secret,
                         executor=args.executor, scheduler=args.scheduler, progress=args.progress,
                         extensions=args.extensions)
    sys.stdout.write(safe_text(report.text))  # the summary; progress and warnings are on stderr
    return report.exit_code


def export_args(cmd: argparse.ArgumentParser) -> None:
    from backprop_grader.report import lms
    cmd.add_argument("--gradebook", default="grades.sqlite", help="the gradebook (default: grades.sqlite)")
    cmd.add_argument("--csv", help="one row per student (default: to standard output)")
    cmd.add_argument("--results-dir", help="write DIR/STUDENT/results.json (Gradescope format)")
    cmd.add_argument("--changes", metavar="FILE",
                     help="write a CSV of the students whose score changed with the rubric: old and new "
                          "score and the rubric version (hash) of each, to announce a rubric fix")
    lms.add_export_args(cmd)
    cmd.set_defaults(run=run_export)


def run_export(args: argparse.Namespace) -> int:
    from backprop_grader.batch import export
    return export.export(args.gradebook, csv=args.csv, results_dir=args.results_dir, changes=args.changes,
                         lms_args=args)


def replay_args(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("student", help="student id, as in the gradebook")
    cmd.add_argument("--gradebook", default="grades.sqlite", help="the gradebook (default: grades.sqlite)")
    cmd.add_argument("--rubric", help="a rubric file (default: the version this grade was made with)")
    cmd.add_argument("--rubric-version", metavar="HASH",
                     help="grade with a rubric version the gradebook has seen (a prefix of its sha256)")
    cmd.add_argument("--submission", help="the submission, if the gradebook does not hold it")
    cmd.add_argument("--secret", metavar="FILE", help="course secret, to confirm the recorded seed")
    cmd.set_defaults(run=run_replay)


def run_replay(args: argparse.Namespace) -> int:
    from backprop_grader.batch import replay
    return replay.replay(args.student, args.gradebook, rubric=args.rubric, rubric_version=args.rubric_version,
                         submission=args.submission, secret=args.secret)
