"""The student kit that `bpgrade release` builds: everything a student needs to
check their work offline, and nothing that gives the answers away.

    OUTPUT/
      gates.ipynb, gates.py       the released notebook and module (solutions removed)
      rubric.yaml                 the visible checks; each gate's reference is a stand-in
      .bpgrade/kit.json           what the kit is: assignment, seed, rubric, wheel
      .bpgrade/answers.py         the stand-ins' loader (no reference code)
      .bpgrade/recorded.json.gz   the reference's answers at the kit's inputs
      .bpgrade/wheels/*.whl       the grader for students: no reference/, no hidden items
      .github/workflows/check.yml GitHub Actions: check on every push
      .gitlab-ci.yml              GitLab CI: the same

How the visible checks work without the reference: at release, each visible item
runs once at the kit's fixed seed against the instructor's solution, with each
reference gate class replaced by a recorder (backprop_grader.kit.replay). Every reference
call and its answer is kept, including the calls the named-mistake diagnosis
makes on its mistake variants, and, in a second pass, each trial on its own and
with the float32 round-off estimates a failing trial asks for. In the kit the
stand-ins answer from that table, so a student's check gives the same
messages and named mistakes as the instructor's grader at that seed. Values at
fixed inputs are not the answer key; the reference code is, and it stays out.
The kit is the same for every student: grading with hidden items and per-student
seeds stays with the instructor (or Gradescope).
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence, TextIO

import yaml

from backprop_grader import __version__, load
from backprop_grader.authoring import wheel
from backprop_grader.errors import ReleaseError, UsageError
from backprop_grader.judge import rubric as rubric_mod
from backprop_grader.kit import KIT_DIR, MANIFEST, ANSWERS
from backprop_grader.kit import replay

FORMAT = 1
LOADER = '''"""Stand-ins for the reference gates of this kit (written by `bpgrade release`).

They hold no reference code: they answer the grader's calls at this kit's
inputs from recorded.json.gz beside this file (see grader/kit/replay.py).
"""
from backprop_grader.kit.replay import stand_ins

globals().update(stand_ins(__file__))
'''

GITHUB = r"""# Self-check on every push: grade __SUBMISSION__ with the kit's visible checks,
# show a table in the run's summary, keep a JUnit report and result.json.
# `bpgrade release` wrote this file into the student kit.
#
# The grader is installed from the wheel the kit carries (.bpgrade/wheels/): it
# holds no reference gates and no hidden checks; pip takes its dependencies from
# the package index. result.json: {"score", "max_score", "tests": [{"name",
# "score", "max_score", "status", "output"}], ...} over the visible checks, for
# workflows that publish a score (e.g. as a release asset).
#
# Settings (env below):
#   SUBMISSION   the file that is graded
#   FAIL_UNDER   the run fails under this score: points, or a percentage of the
#                visible checks' points with a % sign; empty: never fails
name: bpgrade check

on:
  push:
  workflow_dispatch:

permissions:
  contents: read

env:
  SUBMISSION: __SUBMISSION__
  FAIL_UNDER: "100%"
  JUNIT: bpgrade-junit.xml
  RESULT: result.json

defaults:
  run:
    shell: bash

jobs:
  check:
    runs-on: ubuntu-latest
    timeout-minutes: 15
    steps:
      - uses: actions/checkout@v5

      - uses: actions/setup-python@v6
        with:
          python-version: "3.12"

      - name: Install the grader
        run: python -I -m pip install .bpgrade/wheels/*.whl

      - name: Check the gates
        run: |
          args=(--format markdown --junit "$JUNIT" --result-json "$RESULT")
          if [ -n "$FAIL_UNDER" ]; then args+=(--fail-under "$FAIL_UNDER"); fi
          bpgrade check "$SUBMISSION" "${args[@]}"

      - name: Upload the reports
        if: always()
        uses: actions/upload-artifact@v6
        with:
          name: bpgrade-reports
          path: |
            ${{ env.JUNIT }}
            ${{ env.RESULT }}
          if-no-files-found: warn
"""

GITLAB = r"""# Self-check on every push: grade __SUBMISSION__ with the kit's visible checks.
# `bpgrade release` wrote this file into the student kit. The grader comes from
# the wheel the kit carries (.bpgrade/wheels/: no reference gates, no hidden
# checks). The job log shows the Markdown table; GitLab shows the JUnit report
# in the merge request; result.json ({"score", "max_score", "tests": [...]}) is
# kept as an artifact.
bpgrade-check:
  image: python:3.12
  variables:
    SUBMISSION: __SUBMISSION__
    FAIL_UNDER: "100%"
    JUNIT: bpgrade-junit.xml
    RESULT: result.json
  script:
    - python -I -m pip install .bpgrade/wheels/*.whl
    - |
      args=(--format markdown --junit "$JUNIT" --result-json "$RESULT")
      if [ -n "$FAIL_UNDER" ]; then args+=(--fail-under "$FAIL_UNDER"); fi
      bpgrade check "$SUBMISSION" "${args[@]}"
  artifacts:
    when: always
    paths:
      - result.json
      - bpgrade-junit.xml
    reports:
      junit: bpgrade-junit.xml
"""
TEMPLATES = {".github/workflows/check.yml": GITHUB, ".gitlab-ci.yml": GITLAB}


def template(name: str, submission: str) -> str:
    """A built-in CI template with the kit's submission file filled in."""
    return TEMPLATES[name].replace("__SUBMISSION__", submission)


def kit_seed(rub: rubric_mod.Rubric) -> int:
    """The kit's fixed seed: the same for every student, and for every release of the same rubric."""
    digest = hashlib.sha256(("bpgrade kit\0%s\0%s" % (rub.assignment, rub.sha256)).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


# ---------------------------------------------------------------- recording

def recording_rubric(rub: rubric_mod.Rubric, tables: dict, refuse_stacked: bool) -> rubric_mod.Rubric:
    """A copy of `rub` whose gates' references are recorders writing into `tables`."""
    gates = {}
    for name, gate in rub.gates.items():
        scalar = not any(gate.shapes)
        wrongs = replay_mistakes(gate.reference)
        mistakes = None
        if wrongs is not None:
            mistakes = {}
            for mid, (sentence, classes) in wrongs.items():
                recs = []
                for k, wrong in enumerate(classes):
                    table = tables.setdefault("%s#%s#%d" % (name, mid, k), replay.new_table())
                    recs.append(replay.recorder(wrong, table, scalar, refuse_stacked, kink=False))
                mistakes[mid] = (sentence, recs)
        table = tables.setdefault(name, replay.new_table())
        gates[name] = replace(gate, reference=replay.recorder(gate.reference, table, scalar, refuse_stacked,
                                                              mistakes))
    out = copy.copy(rub)
    out.gates = gates
    return out


def replay_mistakes(reference: type) -> dict[str, tuple[str, list[type]]] | None:
    """{id: (sentence, [classes])} the reference declares, or None."""
    found = getattr(reference, "mistakes", None)
    if not isinstance(found, dict):
        return None
    return {str(k): (str(v[0]), list(v[1]) if isinstance(v[1], (list, tuple)) else [v[1]])
            for k, v in found.items()}


def forcing_context() -> type:
    """A check Context that asks for the float32 round-off estimate of every trial,
    as a failing trial would (so those calls are recorded too)."""
    from backprop_grader.judge.checks import Context

    class Forcing(Context):
        diagnose_all = True  # engine checks (checks/engine.py) ask for every mistake variant too

        def compare_all(self, cases, got, want, *args, **kw):
            robust = kw.get("robust") if "robust" in kw else (args[6] if len(args) > 6 else None)
            if robust is not None and cases:
                robust(list(range(len(cases))))
            return super().compare_all(cases, got, want, *args, **kw)
    return Forcing


def exercise_suspects(rub: rubric_mod.Rubric, item: rubric_mod.Item, log: Sequence[tuple[Any, ...]]) -> None:
    """Run every named-mistake suspect through the check's calls (as
    judge.mistakes.replays does), to record the reference calls they make."""
    from backprop_grader.judge import mistakes
    targets = [item.gate] if item.gate else sorted({g.cls for g, *_ in log})
    for target in targets:
        if target not in rub.gates:
            continue
        kinds = [mistakes.Suspect] + [s for _, _, s in mistakes.suspects(rub, target)]
        for suspect in kinds:
            instances, shared = {}, {}
            for gate, method, args, _ in log:
                if gate.cls != target:
                    continue
                try:
                    if id(gate) not in instances:
                        instances[id(gate)] = suspect(rub.gates[target].reference, shared)
                    getattr(instances[id(gate)], method)(*[mistakes.scalar(a) for a in args])
                except Exception:  # noqa: BLE001  (as in replays: this suspect stops here)
                    break


def record(rub: rubric_mod.Rubric, solution: Path, seed: int) -> tuple:
    """(tables, problems): every reference call the visible items make at `seed`,
    grading `solution` (the instructor's source) in the sandbox."""
    from backprop_grader.judge.checks import CHECKS, Context, Outcome
    from backprop_grader.judge.probe import Wrong
    from backprop_grader.judge.score import item_rng
    from backprop_grader.sandbox import Sandbox, SandboxError
    tables, problems = {}, []
    visible = [i for i in rub.items if not i.hidden]
    loaded = load.load(solution, class_names=list(rub.gates))
    if loaded.problem:
        raise ReleaseError("%s: cannot record the kit's checks: %s" % (solution, loaded.problem))
    forcing = forcing_context()
    with Sandbox(loaded, rub.limits) as box:
        try:
            box.start()
        except SandboxError as exc:
            raise ReleaseError("%s: cannot record the kit's checks: %s" % (solution, exc.message)) from None
        for refuse in (False, True):
            rec = recording_rubric(rub, tables, refuse)
            for item in visible:
                outcome = Outcome()
                try:
                    with box.check() as session:
                        try:
                            CHECKS[item.check]((forcing if refuse else Context)(
                                rec, item, item_rng(seed, item.id), session, outcome))
                        except Wrong as exc:
                            outcome.error = exc.message
                        if not refuse:
                            exercise_suspects(rec, item, session.log)
                except (Wrong, SandboxError) as exc:
                    outcome.error = exc.message
                if not refuse and not outcome.passed:
                    problems.append("%s: the solution %s fails it (%s)" % (
                        item.id, solution.name, outcome.error or "%d failing trials" % len(outcome.failures)))
    return tables, problems


def gate_specs(rub: rubric_mod.Rubric) -> dict:
    specs = {}
    for name, gate in rub.gates.items():
        wrongs = replay_mistakes(gate.reference)
        specs[name] = {
            "class": gate.reference.__name__, "table": name,
            "kink": callable(getattr(gate.reference, "kink", None)),
            "mistakes": None if wrongs is None else {
                mid: [sentence, ["%s#%s#%d" % (name, mid, k) for k in range(len(classes))]]
                for mid, (sentence, classes) in wrongs.items()},
        }
    return specs


# ---------------------------------------------------------------- the kit's rubric

def student_rubric(rub: rubric_mod.Rubric, out_path: Path, loader: Path) -> tuple:
    """Write `rub` without its hidden items, each gate's reference the kit's stand-in.
    Returns (kept ids, removed ids)."""
    data = yaml.safe_load(Path(rub.path).read_text(encoding="utf-8"))
    checks = data.get("checks", [])
    kept = [c for c in checks if c.get("visibility", "visible") == "visible"]
    removed = [c["id"] for c in checks if c not in kept]
    if not kept:
        raise ReleaseError("%s: every check is hidden; a student rubric would be empty" % rub.path)
    data["checks"] = kept
    out_path = Path(out_path)
    if out_path.exists() and out_path.resolve() == Path(rub.path).resolve():
        raise UsageError("%s: the student rubric would overwrite the rubric itself" % out_path)
    rel = Path(os.path.relpath(Path(loader).resolve(), out_path.parent.resolve())).as_posix()
    for name, gate in data.get("gates", {}).items():
        gate["reference"] = "%s:%s" % (rel, name)
    header = ("# Student rubric for %s: the visible checks only (%d hidden check%s left out).\n"
              "# Each gate's reference is a stand-in that answers from the kit's recorded values.\n"
              "# Written by `bpgrade release` from %s; edit that file, not this one.\n"
              % (data["assignment"], len(removed), "" if len(removed) == 1 else "s", Path(rub.path).name))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100),
                        encoding="utf-8")
    return [c["id"] for c in kept], removed


# ---------------------------------------------------------------- the kit

def ci_templates(source: Path, submission: str, secret_texts: set) -> dict:
    """{path in the kit: text}: the assignment folder's own CI files when it has them
    (checked for solution text), else the built-in templates."""
    from backprop_grader.authoring.release import find_leaks
    folder = source if source.is_dir() else source.parent
    out = {}
    for name in TEMPLATES:
        own = folder / name
        text = own.read_text(encoding="utf-8") if own.is_file() else template(name, submission)
        leaks = find_leaks(text, secret_texts, name)
        if leaks:
            raise ReleaseError("%s: solution text in a workflow (CI template): %r" % (own, leaks[0][1]))
        out[name] = text
    extra = folder / ".github" / "workflows"
    for p in sorted(extra.glob("*.y*ml")) if extra.is_dir() else ():
        rel = ".github/workflows/" + p.name
        if rel not in out:
            text = p.read_text(encoding="utf-8")
            if find_leaks(text, secret_texts, p.name):
                raise ReleaseError("%s: solution text in a workflow" % p)
            out[rel] = text
    return out


def build(source: Path, out_dir: Path, rub: rubric_mod.Rubric, items: list, student_rubric_path: Path | None = None,
          stream: TextIO | None = None) -> dict:
    """Write the kit for the released `items` into `out_dir`. Returns a summary."""
    import sys
    stream = stream or sys.stdout
    source, out_dir = Path(source), Path(out_dir)
    seed = kit_seed(rub)
    solution = next((i.source for i in items if i.kind == "notebook"), items[0].source)
    tables, problems = record(rub, solution, seed)
    if problems:
        raise ReleaseError("cannot build the kit: the solution must pass every visible check: "
                           + "; ".join(problems))
    secret_texts = set().union(*[item.secrets for item in items])
    submission = items[0].name
    ci = ci_templates(source, submission, secret_texts)
    kit = out_dir / KIT_DIR
    rubric_path = Path(student_rubric_path) if student_rubric_path else out_dir / "rubric.yaml"
    try:
        rubric_path.resolve().relative_to(out_dir.resolve())
    except ValueError:
        raise UsageError("%s: the student rubric belongs in the kit (%s): it names the kit's stand-ins"
                         % (rubric_path, out_dir)) from None
    kit.mkdir(parents=True, exist_ok=True)
    (kit / ".gitignore").unlink(missing_ok=True)
    loader = kit / ANSWERS
    loader.write_text(LOADER, encoding="utf-8")
    replay.write_tables(kit / replay.TABLE_FILE, gate_specs(rub), tables)
    kept, removed = student_rubric(rub, rubric_path, loader)
    for old in (kit / "wheels").glob("*.whl") if (kit / "wheels").is_dir() else ():
        old.unlink()
    wheel_path = wheel.build(kit / "wheels", student=True)
    for rel, text in ci.items():
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    manifest = {
        "format": FORMAT, "assignment": rub.assignment, "title": rub.title, "seed": seed,
        "rubric": Path(os.path.relpath(rubric_path.resolve(), out_dir.resolve())).as_posix(),
        "submissions": [i.name for i in items], "grader_version": __version__,
        "wheel": "%s/wheels/%s" % (KIT_DIR, wheel_path.name),
        "visible_checks": kept, "hidden_checks": len(removed),
    }
    (kit / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    verify(out_dir, solution, rubric_path, seed, rub)
    stream.write("wrote %s (student rubric: %d visible checks; hidden, not included: %d)\n"
                 % (rubric_path, len(kept), len(removed)))
    stream.write("wrote %s (the kit: recorded checks at seed %d, stand-ins, the student wheel %s)\n"
                 % (kit, seed, wheel_path.name))
    for rel in ci:
        stream.write("wrote %s (CI template)\n" % (out_dir / rel))
    return {"kit": kit, "rubric": rubric_path, "seed": seed, "wheel": wheel_path, "ci": list(ci)}


def verify(out_dir: Path, solution: Path, rubric_path: Path, seed: int, rub: rubric_mod.Rubric) -> None:
    """The solution passes every check of the kit's rubric offline, as with the reference."""
    from backprop_grader.judge import score
    kit_rub = rubric_mod.load(rubric_path)
    result = score.grade(load.load(solution, class_names=list(kit_rub.gates)), kit_rub, seed=seed)
    bad = [r.item.id for r in result.items if not r.outcome.passed]
    if bad:
        raise ReleaseError("%s: the kit's recorded checks do not pass the solution %s offline: %s (%s)"
                           % (out_dir, solution.name, ", ".join(bad), next(
                               (r.outcome.error for r in result.items if r.outcome.error), "wrong values")))
