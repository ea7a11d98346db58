"""`bpgrade gradescope-package`: a Gradescope autograder zip, and the code it runs there.

The zip (Gradescope unpacks it into /autograder/source) holds:

    setup.sh          installs backprop-grader into /autograder/venv from the
                      bundled wheel (built from the installed grader: no source
                      checkout needed), then requirements.txt when there is one
    run_autograder    grades /autograder/submission and writes
                      /autograder/results/results.json
    RUBRIC.yaml       the rubric, byte for byte (so its sha256 matches `bpgrade
                      batch`), with any reference files it names by relative path
    course.secret     the course secret: each student's seed is
                      HMAC(secret, assignment, student id), as in `bpgrade batch`
    bpgrade.json      what the package was built with (rubric file, versions)
    wheels/*.whl      the grader (with reference/: grading needs it)
    requirements.txt  the packages the course's notebooks import (optional)

The student id is read from /autograder/submission_metadata.json as `bpgrade
batch` reads a Gradescope export: each submitter's sid, else email, else name,
joined by '+' for a group. So a Gradescope grade can be replayed and compared
with the batch grade of the same export.

For testing (or another layout), every path hangs off $BPGRADE_AUTOGRADER_ROOT
(default /autograder); $BPGRADE_PYTHON is the Python that run_autograder uses
$BPGRADE_SETUP_PYTHON the one setup.sh builds the virtual environment with, and
$BPGRADE_SETUP_NO_APT=1 keeps setup.sh from calling apt-get.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
import zipfile
from pathlib import Path
from typing import Any, Sequence, TextIO

from backprop_grader import __version__, atomic
from backprop_grader.judge import seeds
from backprop_grader.errors import PackageError, SecretError

ROOT_ENV = "BPGRADE_AUTOGRADER_ROOT"
DEFAULT_ROOT = "/autograder"
CONFIG = "bpgrade.json"
SECRET_NAME = "course.secret"
PROJECT = "backprop-grader"

SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
# It installs backprop-grader __VERSION__ into $ROOT/venv from the bundled wheel
# (its dependencies from the package index), then the course's requirements.txt.
set -euo pipefail
ROOT="${BPGRADE_AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="$ROOT/venv"
PY="${BPGRADE_SETUP_PYTHON:-python3}"
APT=1; [ -n "${BPGRADE_SETUP_NO_APT:-}" ] && APT=

if [ -n "$APT" ] && ! "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    # Ubuntu images ship python3 without venv/pip
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-pip
fi
if [ -n "$APT" ] && ! command -v bwrap >/dev/null 2>&1; then
    # bubblewrap gives the strongest sandbox tier; grading still works without it
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap) \
        >/dev/null 2>&1 || echo "setup.sh: bubblewrap not installed; student code runs at a weaker isolation tier"
fi
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
shopt -s nullglob
wheels=("$SOURCE"/wheels/*.whl)
if [ ${#wheels[@]} -ne 1 ]; then
    echo "setup.sh: expected one wheel in $SOURCE/wheels, found ${#wheels[@]}: rebuild the autograder zip" >&2
    exit 1
fi
echo "setup.sh: installing the bundled ${wheels[0]##*/}"
"$VENV/bin/python" -I -m pip install --disable-pip-version-check -q "${wheels[0]}"
if [ -f "$SOURCE/requirements.txt" ]; then
    echo "setup.sh: installing the course's packages (requirements.txt)"
    "$VENV/bin/python" -I -m pip install --disable-pip-version-check -q -r "$SOURCE/requirements.txt"
fi
"$VENV/bin/python" -I -c 'import backprop_grader as g; print("setup.sh: backprop-grader", g.__version__, "installed")'
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this for every submission: grade $ROOT/submission and write
# $ROOT/results/results.json (see grader/authoring/gradescope.py in backprop-grader).
set -uo pipefail
ROOT="${BPGRADE_AUTOGRADER_ROOT:-/autograder}"
ROOT="$(cd "$ROOT" 2>/dev/null && pwd || printf %s "$ROOT")"  # absolute: the cd below must not change it
PY="${BPGRADE_PYTHON:-$ROOT/venv/bin/python}"
export BPGRADE_AUTOGRADER_ROOT="$ROOT"
# -I (isolated): neither the working directory nor $PYTHONPATH nor user site-packages
# is on sys.path, so a student's grader.py or grader/ beside us is never imported;
# and we run from /, away from the student's files.
cd /
exec "$PY" -I -m backprop_grader.authoring.gradescope run --root "$ROOT"
"""


# ---------------------------------------------------------------------------- building the zip

def check_wheel(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise PackageError("%s: no such wheel" % path)
    if not path.name.startswith("backprop_grader-") or path.suffix != ".whl":
        raise PackageError("%s is not a backprop-grader wheel (backprop_grader-VERSION-...whl)" % path.name)
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile:
        raise PackageError("%s is not a readable wheel" % path) from None
    if "backprop_grader/authoring/gradescope.py" not in names:
        raise PackageError("%s has no backprop_grader/authoring/gradescope.py: it is too old to run on Gradescope"
                           % path.name)
    return path


def assignment_rubric(assignment: str | Path | None = None, rubric: str | None = None) -> str | None:
    """--rubric; else the rubric.yaml of ASSIGNMENT (or of the working directory
    when it is an assignment folder); else the packaged default."""
    if rubric:
        return rubric
    folder = Path(assignment) if assignment else Path.cwd()
    if assignment and not folder.is_dir():
        raise PackageError("%s: not an assignment folder" % assignment)
    for name in ("rubric.yaml", "rubric.yml"):
        if (folder / name).is_file():
            return str(folder / name)
    if assignment:
        raise PackageError("%s: no rubric.yaml in the assignment folder; pass --rubric" % assignment)
    return None


def package(output: str | Path, rubric: str | None = None, secret: str | Path | None = None,
            gradebook: str | Path | None = None, wheel: str | Path | None = None, stream: TextIO | None = None,
            assignment: str | Path | None = None, requirements: str | Path | None = None) -> dict:
    """Write the autograder zip to `output`. Returns a dict describing what went in.

    Nothing is written (no zip, no course.secret) until everything that goes in
    has been read and checked."""
    from backprop_grader.authoring import wheel as wheels
    from backprop_grader.batch import executors
    from backprop_grader.judge import rubric as rubric_mod
    stream = stream or sys.stderr
    output = Path(output)
    if output.is_dir():
        raise PackageError("%s is a folder: give the zip file to write, e.g. -o autograder.zip" % output)
    rubric_path = rubric_mod.find(assignment_rubric(assignment, rubric))
    rub = rubric_mod.load(rubric_path)  # refuse a bad rubric here, not on Gradescope
    bundle = executors.rubric_bundle(rubric_path)
    folder = Path(assignment) if assignment else (
        Path.cwd() if rubric is None and any((Path.cwd() / n).is_file() for n in ("rubric.yaml", "rubric.yml"))
        else None)
    if requirements is None and folder is not None and (folder / "requirements.txt").is_file():
        requirements = folder / "requirements.txt"
    reqs = None
    if requirements is not None:
        try:
            reqs = Path(requirements).read_bytes()
        except OSError as exc:
            raise PackageError("%s: cannot read the requirements (%s)" % (requirements, exc.strerror)) from None
    try:
        key = seeds.load(secret, gradebook, create=False)
        new_secret = None
    except SecretError:
        if secret or os.environ.get(seeds.ENV_SECRET) or os.environ.get(seeds.ENV_SECRET_FILE):
            raise
        new_secret = seeds.default_file(gradebook or "grades.sqlite")  # made once the zip is ready
        key = None
    with tempfile.TemporaryDirectory(prefix="bpgrade-package-") as tmp:
        wheel_path = check_wheel(wheel) if wheel else wheels.build(tmp, student=False)
        if new_secret is not None:
            key = seeds.make_file(new_secret)
        config = {
            "format": 1,
            "rubric": bundle["name"],
            "rubric_sha256": rub.sha256,
            "assignment": rub.assignment,
            "grader_version": __version__,
            "secret": SECRET_NAME,
            "secret_fingerprint": key.fingerprint,
            "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "wheel": "wheels/" + wheel_path.name,
            "requirements": "requirements.txt" if reqs is not None else None,
        }
        members = [
            ("setup.sh", fill(SETUP_SH).encode(), 0o755),
            ("run_autograder", RUN_AUTOGRADER.encode(), 0o755),
            (bundle["name"], bundle["yaml"], 0o644),
            (SECRET_NAME, key.key + b"\n", 0o600),
            (CONFIG, (json.dumps(config, indent=2) + "\n").encode(), 0o644),
        ]
        members += [(rel, data, 0o644) for rel, data in sorted(bundle["files"].items())]
        members.append((config["wheel"], wheel_path.read_bytes(), 0o644))
        if reqs is not None:
            members.append(("requirements.txt", reqs, 0o644))
        output.parent.mkdir(parents=True, exist_ok=True)
        with atomic.replacing(output, 0o600) as f:  # it holds the secret
            wheels.write_zip(f, members)
    stream.write("bpgrade: %s: Gradescope autograder for %r (rubric %s, %s), grader %s bundled as %s%s\n"
                 % (output, rub.assignment, rubric_path, "%d item(s), %g points"
                    % (len(rub.items), rub.max_score), __version__, config["wheel"],
                    ", with the course's requirements.txt" if reqs is not None else ""))
    stream.write("bpgrade: the zip holds the course secret from %s (fingerprint %s): share it only with "
                 "course staff\n" % (key.origin, key.fingerprint))
    return {"path": output, "config": config, "members": [m[0] for m in members]}


def fill(template: str) -> str:
    return template.replace("__VERSION__", __version__).replace("__PROJECT__", PROJECT)


def package_args(cmd: argparse.ArgumentParser) -> None:
    cmd.description = ("Build a Gradescope autograder zip: setup.sh (installs the bundled grader wheel, "
                       "built from this installation, and the course's requirements), "
                       "run_autograder (grades /autograder/submission into "
                       "/autograder/results/results.json), the rubric and the course secret. "
                       "Seeds are HMAC(secret, assignment, student id), as in `bpgrade batch`.")
    cmd.add_argument("assignment", nargs="?",
                     help="assignment folder: its rubric.yaml and requirements.txt (default: the "
                          "working directory's rubric.yaml, if any)")
    cmd.add_argument("-o", "--output", default="autograder.zip",
                     help="the zip to write (default: autograder.zip)")
    cmd.add_argument("--rubric", help="rubric YAML file or packaged rubric name (default: the "
                                      "assignment's rubric.yaml, else gates)")
    cmd.add_argument("--requirements", metavar="FILE",
                     help="packages the course's notebooks import (pip requirements file), installed "
                          "by setup.sh (default: the assignment's requirements.txt, if any)")
    cmd.add_argument("--secret", metavar="FILE", help=seeds.SECRET_HELP)
    cmd.add_argument("--gradebook", default="grades.sqlite",
                     help="where the default course.secret is looked for: next to this gradebook "
                          "(default: grades.sqlite)")
    cmd.add_argument("--wheel", metavar="FILE",
                     help="bundle this backprop-grader wheel (default: one built from this installation)")
    cmd.set_defaults(run=lambda args: (package(args.output, args.rubric, args.secret, args.gradebook,
                                               args.wheel, assignment=args.assignment,
                                               requirements=args.requirements), 0)[1])


# ---------------------------------------------------------------------------- on Gradescope

class BadStudentId(ValueError):
    """submission_metadata.json gives an id that `bpgrade batch` would refuse."""


def student_id(metadata: Any) -> str | None:
    """The student id from submission_metadata.json, as `bpgrade batch` reads an export
    (classlist.submitters_id, checked by classlist.check_id); None without one."""
    from backprop_grader.batch.classlist import check_id, submitters_id
    sid = submitters_id((metadata or {}).get("users") if isinstance(metadata, dict) else None)
    if sid is None:
        return None
    try:
        return check_id(sid)
    except ValueError as why:
        raise BadStudentId("submission_metadata.json: users: unusable student id %r (%s)"
                           % (sid, why)) from None


def read_json(path: str | Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def run_autograder(root: str | Path | None = None, stream: TextIO | None = None) -> int:
    """Grade ROOT/submission into ROOT/results/results.json. Returns an exit code.

    A failure of the grader itself still writes a results.json (score 0, saying
    so) so the student sees a reason; the exit code is then 1.
    """
    from backprop_grader import load
    from backprop_grader.report import results as report
    from backprop_grader.judge import score
    from backprop_grader.judge import rubric as rubric_mod
    from backprop_grader.report.results import safe_text
    stream = stream or sys.stdout
    root = Path(root or os.environ.get(ROOT_ENV) or DEFAULT_ROOT)
    source, results = root / "source", root / "results" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    try:
        config = read_json(source / CONFIG)
        if not isinstance(config, dict):
            raise RuntimeError("%s is missing or unreadable: rebuild the autograder zip" % (source / CONFIG))
        rub = rubric_mod.load(source / config["rubric"])
        key = seeds.read_file(source / config.get("secret", SECRET_NAME))
        metadata = read_json(root / "submission_metadata.json")
        sid = student_id(metadata)
        seed = key.seed(rub.assignment, sid) if sid else None  # no metadata: a random seed
        loaded = load.load(root / "submission", class_names=list(rub.gates))
        result = score.grade(loaded, rub, seed=seed)
        data = report.gradescope(result)
        data.setdefault("extra_data", {}).update({
            "student": sid, "seed_from": "course secret" if sid else "random (no submission metadata)",
            "gradescope_submission": (metadata or {}).get("id"),
        })
        code = 0
        summary = "%s: %g / %g (seed %d)" % (sid or "unknown student", result.score,
                                             rub.max_score, result.seed)
    except Exception as exc:  # a grader fault: say so in the results, not only in a log
        traceback.print_exc()
        data = {"score": 0.0, "output": "The autograder itself failed (%s: %s). This is not a problem "
                "with your submission: ask the course staff to regrade it." % (type(exc).__name__, exc),
                "tests": [], "extra_data": {"grader_error": "%s: %s" % (type(exc).__name__, exc)}}
        code = 1
        summary = "grader failure: %s: %s" % (type(exc).__name__, exc)
    data["execution_time"] = round(time.monotonic() - start, 3)
    atomic.write_text(results, json.dumps(data, indent=2) + "\n")
    stream.write("bpgrade: %s -> %s\n" % (safe_text(summary, one_line=True), results))
    return code


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m backprop_grader.authoring.gradescope",
                                description="Run inside a Gradescope autograder (see run_autograder).")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="grade ROOT/submission into ROOT/results/results.json")
    run.add_argument("--root", help="the autograder folder (default: $%s or %s)" % (ROOT_ENV, DEFAULT_ROOT))
    args = p.parse_args(argv)
    return run_autograder(args.root)


if __name__ == "__main__":
    sys.exit(main())
