"""`bpgrade validate`: the instructor's sanity check for an assignment folder.

In one run, for every source file (notebook or module with solution regions):

- the rubric loads (schema-valid) and each of its checks can be reached: the
  check kind exists, its gate or graph is defined in the source, and it runs
  at least one trial;
- the release succeeds (markers, given code, a valid notebook);
- the source's solution scores full marks and loads without errors;
- the released template scores 0 on every item that needs student code, and
  fails it because of the `raise NotImplementedError()` placeholders; items
  that use only given code pass, and the given cells run without errors;
- the released files hold no solution text.

It prints one table row per finding and exits 1 when any row failed.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Collection, Sequence

import nbformat

from backprop_grader import load
from backprop_grader.errors import UsageError
from backprop_grader.authoring import release
from backprop_grader.judge import rubric as rubric_mod, score
from backprop_grader.judge.check_kinds import KINDS, runs_nothing
from backprop_grader.judge.checks import CHECKS

if TYPE_CHECKING:
    from backprop_grader.judge.checks.base import Outcome
    from backprop_grader.judge.facts import LoadWarning
    from backprop_grader.judge.score import ItemResult, Result


@dataclass
class Row:
    name: str
    ok: bool
    detail: str


def needs_student_code(item: rubric_mod.Item, rub: rubric_mod.Rubric) -> bool:
    """The item calls a gate method the rubric does not mark as given."""
    gates = [item.gate] if item.gate else rub.graphs[item.graph].gates
    given = set(rub.given)
    return any(g not in given and "%s.%s" % (g, m) not in given
               for g in gates for m in KINDS[item.check].calls)


def min_trials(item: rubric_mod.Item) -> str:
    """How many cases the item runs, or a reason it runs none (the rubric loader's rule)."""
    return runs_nothing(item.check, item.trials, item.specials, item.examples)


def reachability(rub: rubric_mod.Rubric, items: Sequence[release.Released]) -> list[str]:
    """Problems that keep a rubric check from ever running or passing."""
    problems = []
    code = {it.source.name: code_text(it) for it in items}
    for item in rub.items:
        if item.check not in CHECKS:
            problems.append("%s: check kind %r does not exist" % (item.id, item.check))
            continue
        why = min_trials(item)
        if why:
            problems.append("%s: %s" % (item.id, why))
        gates = [item.gate] if item.gate else rub.graphs[item.graph].gates
        for gate in gates:
            for name, text in code.items():
                if not load.class_pattern([gate], at="top").search(text):
                    problems.append("%s: %s is not defined in %s" % (item.id, gate, name))
    return sorted(set(problems))


def code_text(item: release.Released) -> str:
    """The Python code of a source file (notebook code cells joined)."""
    text = item.source.read_text(encoding="utf-8-sig")
    if item.kind == "module":
        return text
    nb = nbformat.reads(text, as_version=4, capture_validation_error={})
    return "\n".join(load.cell_source(c) for c in nb.cells if c.cell_type == "code")


def grade(path: str | Path, rub: rubric_mod.Rubric, seed: int) -> Result:
    loaded = load.load(path, class_names=list(rub.gates))
    return score.grade(loaded, rub, seed=seed)


def failing(results: Sequence[ItemResult], limit: int = 3) -> str:
    text = "; ".join("%s: %s" % (r.item.id, r.outcome.error or "%d of %d trials failed" % (
        len(r.outcome.failures), r.outcome.trials)) for r in results[:limit])
    return text + ("; and %d more" % (len(results) - limit) if len(results) > limit else "")


def check_solution(result: Result, name: str) -> Row:
    bad = [r for r in result.items if not r.outcome.passed]
    problems = []
    if bad:
        problems.append("fails " + failing(bad))
    if result.warnings:
        problems.append("errors while loading: " + "; ".join(result.warnings[:3]))
    detail = "%g/%g" % (result.score, result.rubric.max_score)
    return Row("solution " + name, not problems, detail + (": " + "; ".join(problems) if problems else ""))


def placeholder_error(fault: Outcome | LoadWarning, placeholders: Collection[str]) -> bool:
    """`fault` (an outcome or a load warning) is the NotImplementedError of a
    `raise NotImplementedError()` placeholder (when the grader says where it was
    raised, that line)."""
    return fault.exception == "NotImplementedError" and (not fault.where or fault.where in placeholders)


def check_template(result: Result, item: release.Released, rub: rubric_mod.Rubric) -> Row:
    problems, given_pass, student_zero = [], [], 0
    for w in result.warnings:  # first: the likely cause of what follows
        if not placeholder_error(w, item.placeholders):
            problems.append("given code failed while loading: %s" % w)
    for r in result.items:
        if needs_student_code(r.item, rub):
            if r.outcome.passed:
                problems.append("%s passes without student code (mark the code it uses as given "
                                "in the rubric, or put it in a solution region)" % r.item.id)
            else:
                student_zero += 1
                if not placeholder_error(r.outcome, item.placeholders):
                    problems.append("%s fails for another reason than the placeholder: %s%s" % (
                        r.item.id, r.outcome.error or "wrong values",
                        " (%s)" % r.outcome.where if r.outcome.where else ""))
        elif r.outcome.passed:
            given_pass.append(r.item.id)
        else:
            problems.append("%s uses only given code but fails: %s" % (r.item.id, failing([r])))
    detail = "%g/%g; 0 on the %d items that need student code" % (
        result.score, result.rubric.max_score, student_zero)
    if given_pass:
        detail += "; given code passes %s" % ", ".join(given_pass)
    return Row("template " + item.name, not problems,
               detail if not problems else "; ".join(problems[:4]))


def check_leaks(written: Sequence[Path], items: Sequence[release.Released]) -> Row:
    secrets = set()
    for item in items:
        secrets |= item.secrets
    public = "\n".join(item.public for item in items)
    secrets = {s for s in secrets if s not in public}
    hits = []
    for path in written:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":
            found = release.notebook_leaks(json.loads(text), secrets)
        else:
            found = release.find_leaks(text, secrets, path.name)
        hits += ["%s: %r in %s" % (path.name, s, where) for where, s in found]
    return Row("no solution text", not hits,
               "; ".join(hits[:3]) if hits else "%d released file%s, %d solution lines searched"
               % (len(written), "" if len(written) == 1 else "s", len(secrets)))


def validate(path: str | Path, rubric_name: str | None = None, seed: int | None = None) -> tuple[list[Row], int]:
    """Rows for the assignment at PATH (a folder, or one source file)."""
    path = Path(path)
    if not path.exists():
        raise UsageError("%s: no such file or directory" % path)
    seed = score.new_seed() if seed is None else seed
    rows = []
    try:
        rub_path = release.find_rubric(path, rubric_name)
        rub = rubric_mod.load(rub_path)
    except rubric_mod.RubricError as exc:
        return [Row("rubric", False, str(exc))], seed
    rows.append(Row("rubric", True, "%s: schema-valid, %d checks, %g points"
                    % (rub_path.name, len(rub.items), rub.max_score)))
    try:
        items = release.build(path, rub)
    except release.ReleaseError as exc:
        return rows + [Row("release", False, exc.message)], seed
    problems = reachability(rub, items)
    rows.append(Row("checks reachable", not problems,
                    "; ".join(problems[:4]) if problems else "all %d" % len(rub.items)))
    for item in items:
        rows.append(Row("release " + item.source.name, True, "-> %s, %d solution region%s" % (
            item.name, len(item.regions), "" if len(item.regions) == 1 else "s")))
    with tempfile.TemporaryDirectory(prefix="bpgrade-validate-") as tmp:
        written = release.write(items, Path(tmp) / "release")
        for item, target in zip(items, written):
            rows.append(check_solution(grade(item.source, rub, seed), item.source.name))
            rows.append(check_template(grade(target, rub, seed), item, rub))
        rows.append(check_leaks(written, items))
    return rows, seed


def table(rows: Sequence[Row]) -> str:
    width = max(len(r.name) for r in rows)
    lines = ["%-*s  %-4s  %s" % (width, "check", "", "detail")]
    lines += ["%-*s  %-4s  %s" % (width, r.name, "ok" if r.ok else "FAIL", r.detail) for r in rows]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    """The `bpgrade validate` command."""
    rows, seed = validate(args.assignment, args.rubric, args.seed)
    sys.stdout.write(table(rows))
    failed = sum(not r.ok for r in rows)
    if failed:
        print("validate: %d of %d FAILED (seed %d)" % (failed, len(rows), seed))
        return 1
    print("validate: all %d passed (seed %d)" % (len(rows), seed))
    return 0
