"""The `bpgrade` command."""
import argparse
import json
import sys
from pathlib import Path

from . import __version__, load, report, rubric, score

USAGE_ERROR = 2


def parser():
    p = argparse.ArgumentParser(prog="bpgrade", description="Grade backpropagation exercises.")
    p.add_argument("--version", action="version", version="%(prog)s " + __version__)
    sub = p.add_subparsers(dest="command", required=True)

    def common(cmd):
        cmd.add_argument("submission", help="a .ipynb notebook, a .py module, or a folder holding one")
        cmd.add_argument("--rubric", help="rubric YAML file or packaged rubric name (default: gates)")
        cmd.add_argument("--seed", type=int, help="grading seed, to reproduce a run exactly")

    g = sub.add_parser("grade", help="grade a submission; write Gradescope results.json")
    common(g)
    g.add_argument("--results", help="where to write results.json (default: standard output)")
    c = sub.add_parser("check", help="self-check: readable feedback on the visible checks")
    common(c)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        rub = rubric.load(rubric.find(args.rubric))
        loaded = load.load(args.submission, class_names=list(rub.gates))
    except (load.UsageError, rubric.RubricError) as exc:
        print("bpgrade: error: %s" % exc, file=sys.stderr)
        return USAGE_ERROR
    result = score.grade(loaded, rub, seed=args.seed)
    if result.isolation and result.isolation.get("tier", 0) < 2:
        print("bpgrade: warning: isolation tier %d (%s): student code could read or write files "
              "outside its folder. Install bubblewrap or run on Linux with Landlock and seccomp."
              % (result.isolation["tier"], ", ".join(result.isolation.get("layers", []))),
              file=sys.stderr)
    if args.command == "check":
        sys.stdout.write(report.text(result))
        return 0
    data = json.dumps(report.gradescope(result), indent=2) + "\n"
    if args.results:
        Path(args.results).write_text(data)
        print("%s: %g / %g -> %s" % (loaded.path.name, result.score, rub.max_score, args.results),
              file=sys.stderr)
    else:
        sys.stdout.write(data)
    return 0
