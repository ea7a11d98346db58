"""The `bpgrade` command. Each subcommand is an `add_*` function below, all of one
shape on purpose (a parser, its options, a `run` that calls the library).

Exit status: 0 when grading ran (whatever the score), 1 when `grade` or `check`
was given --fail-under and the score is under it, or when grading could not run
for reasons that are not the student's (the sandbox did not start, a reference
gate failed), 2 for usage errors (a missing file, a bad rubric).
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from backprop_grader import __version__, load
from backprop_grader.report import formats
from backprop_grader.judge import rubric, score
from backprop_grader.report.results import safe_text
from backprop_grader.errors import NotGraded, UsageError

if TYPE_CHECKING:
    from backprop_grader.judge.score import Result

USAGE_ERROR = 2


def add_submission_args(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("submission", help="a .ipynb notebook, a .py module, or a folder holding one")
    cmd.add_argument("--rubric", help="rubric YAML file or packaged rubric name (default: gates)")
    cmd.add_argument("--seed", type=int, help="grading seed, to reproduce a run exactly")


def grade_one(args: argparse.Namespace, rubric_path: str | Path | None = None) -> Result:
    rub = rubric.load(rubric_path or rubric.find(args.rubric))
    loaded = load.load(args.submission, class_names=list(rub.gates))
    result = score.grade(loaded, rub, seed=args.seed)
    warn_isolation(result.isolation)
    return result


def check_rubric(args: argparse.Namespace) -> Path:
    """The rubric a self-check uses, said on standard error: --rubric; else the
    assignment's own (a student kit's, or a rubric.yaml beside the submission);
    else the packaged default. In a kit, the kit's seed (its checks are recorded there)."""
    from backprop_grader.kit import find_rubric, kit_for
    if args.rubric:
        path = rubric.find(args.rubric)
        kit = kit_for(path) if path.is_file() else None
        said = str(path)
    else:
        found = find_rubric(args.submission)
        if found is None:
            try:
                path = rubric.find("gates")
            except UsageError:
                raise UsageError("%s: no rubric.yaml beside it or in the working directory; "
                                 "pass --rubric FILE" % args.submission) from None
            kit, said = None, "%s (the packaged default: no rubric.yaml beside %s)" % (path, args.submission)
        else:
            path, kit, said = found.rubric, found.kit, found.describe()
    if kit:
        if args.seed is not None and args.seed != kit.get("seed"):
            raise UsageError("--seed %d: this kit's checks are recorded at its own seed (%s); "
                             "run without --seed" % (args.seed, kit.get("seed")))
        args.seed = kit.get("seed")
    print("bpgrade: rubric %s" % safe_text(said, one_line=True), file=sys.stderr)
    return path


def warn_isolation(isolation: dict | None) -> None:
    if isolation and isolation.get("tier", 0) < 2:
        print("bpgrade: warning: isolation tier %d (%s): student code could read or write files "
              "outside its folder. Install bubblewrap, or run on Linux with Landlock and seccomp."
              % (isolation["tier"], ", ".join(isolation.get("layers", []))), file=sys.stderr)


def add_grade(cmd: argparse.ArgumentParser) -> None:
    add_submission_args(cmd)
    cmd.add_argument("--results", "-o", "--output", dest="results", metavar="PATH",
                     help="where to write results.json, or the --format output "
                          "(default: standard output)")
    formats.add_args(cmd, default="json")

    def run(args):
        return formats.emit(args, grade_one(args), student=False)
    cmd.set_defaults(run=run)


def add_check(cmd: argparse.ArgumentParser) -> None:
    cmd.description = ("Grade SUBMISSION with the visible checks of the assignment's rubric: "
                       "--rubric, else a student kit's rubric or a rubric.yaml beside the "
                       "submission (or in the working directory), else the packaged default. "
                       "The rubric used is named on standard error.")
    add_submission_args(cmd)
    cmd.add_argument("-o", "--output", dest="results", metavar="PATH",
                     help="where to write the --format output (default: standard output)")
    cmd.add_argument("--result-json", metavar="PATH",
                     help="also write the student's results.json to PATH (visible checks: score, "
                          "max_score, tests[]; hidden ones only counted), e.g. for a CI job to publish")
    formats.add_args(cmd, default="text")

    def run(args):
        result = grade_one(args, check_rubric(args))
        if args.result_json:
            from pathlib import Path
            Path(args.result_json).write_text(formats.json_text(result, student=True), encoding="utf-8")
        return formats.emit(args, result, student=True)
    cmd.set_defaults(run=run)


def add_release(cmd: argparse.ArgumentParser) -> None:
    cmd.description = ("Replace each ### BEGIN SOLUTION / ### END SOLUTION region with a "
                       "placeholder, clear outputs and metadata, and write the student files; "
                       "then the kit around them: the student rubric (visible checks only), the "
                       "reference's answers recorded at the kit's inputs (no reference code), a "
                       "student wheel of the grader, and CI templates. SOURCE is a notebook (the "
                       "modules beside it with solution regions are released too), a module, or a "
                       "folder; source.ipynb is released under its folder's name. Exit status 2 "
                       "for a source that cannot be released.")
    cmd.add_argument("source", help="source notebook, module, or assignment folder")
    cmd.add_argument("-o", "--output", required=True, help="folder for the student files")
    cmd.add_argument("--rubric", help="rubric (default: rubric.yaml beside the source, else gates)")
    cmd.add_argument("--student-rubric", metavar="PATH",
                     help="where in the kit to write the student rubric (default: OUTPUT/rubric.yaml)")

    def run(args):
        from backprop_grader.authoring import release
        return release.run(args)
    cmd.set_defaults(run=run)


def add_validate(cmd: argparse.ArgumentParser) -> None:
    cmd.description = ("Check that the rubric is valid and reachable, the source solution gets "
                       "full marks, the released template gets 0 on every item that needs "
                       "student code, and no solution text is released. Exit status 1 when a "
                       "check fails.")
    cmd.add_argument("assignment", help="assignment folder (or one source file)")
    cmd.add_argument("--rubric", help="rubric (default: rubric.yaml in the folder, else gates)")
    cmd.add_argument("--seed", type=int, help="grading seed, to reproduce a run exactly")

    def run(args):
        from backprop_grader.authoring import validate
        return validate.run(args)
    cmd.set_defaults(run=run)


def elsewhere(module: str, function: str) -> Callable[[argparse.ArgumentParser], None]:
    """A command whose options its own module adds, imported only when that command runs."""
    def add(cmd: argparse.ArgumentParser) -> None:
        getattr(importlib.import_module("backprop_grader." + module), function)(cmd)
    return add


# name: (one line for `bpgrade --help`, the function that adds its options)
COMMANDS = {
    "grade": ("grade a submission; write Gradescope results.json", add_grade),
    "check": ("self-check: readable feedback on the visible checks", add_check),
    "release": ("build the student kit: student notebook and module, rubric, offline self-check, CI",
                add_release),
    "validate": ("instructor sanity check of an assignment folder", add_validate),
    "batch": ("grade a class in parallel into a gradebook (resumable); CSV and results.json",
              elsewhere("batch.grading", "batch_args")),
    "export": ("CSV or results.json files from a gradebook", elsewhere("batch.grading", "export_args")),
    "push": ("send a gradebook's grades to an LMS through its API (Canvas); a dry run unless --send",
             elsewhere("batch.canvas", "push_args")),
    "replay": ("grade a student's graded submission again with its recorded seed; compare",
               elsewhere("batch.grading", "replay_args")),
    "gradescope-package": ("build a Gradescope autograder zip (setup.sh, run_autograder, rubric, course secret)",
                           elsewhere("authoring.gradescope", "package_args")),
    "report": ("static HTML class summary and per-student feedback pages from a gradebook",
               elsewhere("report.html", "report_args")),
}


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line; with `command`, only that subcommand gets its options (the
    others' modules are not imported: `bpgrade check` starts faster)."""
    p = argparse.ArgumentParser(prog="bpgrade", description="Grade backpropagation exercises.")
    p.add_argument("--version", action="version", version="%(prog)s " + __version__)
    sub = p.add_subparsers(dest="command", required=True)
    for name, (help, add) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help)
        if command in (None, name):
            add(cmd)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    command = next((a for a in argv if not a.startswith("-")), None)  # the top level has options only
    args = parser(command if command in COMMANDS else None).parse_args(argv)
    try:
        return args.run(args)
    except UsageError as exc:
        print("bpgrade: error: %s" % safe_text(exc), file=sys.stderr)
        return USAGE_ERROR
    except NotGraded as exc:  # not the student's fault: no grade
        print("bpgrade: error: could not grade: %s" % safe_text(exc), file=sys.stderr)  # beats a wrong 0
        return 1
