"""Turn a `Result` into what people and machines read.

`results_json()` makes results.json (Gradescope's format; `gradescope` is its old
name); `text()` is the student's view.
Hidden items never show their inputs, values or messages to students.
"""
from __future__ import annotations

import platform
import re
from typing import TYPE_CHECKING, Any

import numpy as np

from backprop_grader import __version__
from backprop_grader.judge import check_kinds
from backprop_grader.judge.facts import Where
from backprop_grader.judge.mistake_kinds import EVIDENCE

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from backprop_grader.judge.checks.base import Failure, Outcome
    from backprop_grader.judge.rubric import Rubric
    from backprop_grader.judge.score import ItemResult, Result

OUTPUT_SHOWN = 4000  # characters of the student's own printing in a report


def fmt(v: ArrayLike | dict) -> str:
    """A value as a student reads it: numbers to 6 digits, integer labels as
    integers, a plain setting (a dict such as bn_param) as it is."""
    if isinstance(v, dict):
        return "{%s}" % ", ".join("%s: %s" % (k, fmt(x) if isinstance(x, (int, float, dict)) else repr(x))
                                  for k, x in v.items())
    whole = np.asarray(v).dtype.kind in "iub"
    v = np.asarray(v, dtype=np.int64 if whole else np.float64)
    if v.ndim == 0:
        return "%d" % int(v) if whole else "%.6g" % float(v)
    return np.array2string(v, precision=6, threshold=12, edgeitems=2, separator=", ",
                           max_line_width=100).replace("\n", " ")


def pairs(values: dict) -> str:
    return ", ".join("%s = %s" % (k, fmt(v)) for k, v in values.items())


def details(r: ItemResult, rubric: Rubric | None = None) -> list[str]:
    """Lines explaining one item's outcome: the failing input, expected, received, hint
    (in the words of the gate's own calls, given the `rubric`)."""
    o, item = r.outcome, r.item
    if o.passed:
        return ["passed %d of %d trials" % (o.trials, o.trials)]
    gate = rubric.gates.get(item.gate) if rubric is not None and item.gate else None
    hint = item.hint or check_kinds.hint(item.check, gate.calls() if gate is not None else None)
    if o.mistake is not None:
        hint = item.mistakes.get(o.mistake.id, hint)
    if o.error:
        lines = ["problem:  " + problem(o)]
        if o.mistake is not None:
            lines.append("mistake:  " + o.mistake.sentence)
        return lines + (["hint:     " + hint] if hint else [])
    f = o.example()
    if f is None:
        return ["ran no trials, so nothing was checked"]
    lines = ["failed %d of %d trials" % (len(o.failures), o.trials),
             "input:    %s%s" % (pairs(f.inputs), "" if f.label == "random" else "  (%s)" % f.label),
             "expected: " + pairs(f.expected),
             "received: " + pairs(f.received) + same_as(f)]
    if f.note:
        lines.append("note:     " + f.note)
    if o.mistake is not None:
        lines.append("mistake:  " + o.mistake.sentence)
    elif check_kinds.diagnosed(item.check) and o.trials >= EVIDENCE:
        lines.append("mistake:  none of the known mistakes explains these answers")
    return lines + (["hint:     " + hint] if hint else [])


def problem(outcome: Outcome) -> str:
    """Why a check stopped, as the student reads it: the error and where it happened."""
    return outcome.error + (" (%s)" % outcome.where if outcome.where else "")


def facts_of(outcome: Outcome) -> dict:
    """How a check ended, as results.json `extra_data` fields (judge.facts): what
    batch, validate and the class report read instead of the text."""
    return {"kind": outcome.kind, "exception": outcome.exception or None,
            "where": outcome.where.fields() if isinstance(outcome.where, Where) else None,
            "problem": problem(outcome) if outcome.error else None,
            "mistake": outcome.mistake.id if outcome.mistake else None}


def same_as(f: Failure) -> str:
    """Point out received values that equal an input, e.g. "(dx = y)"."""
    notes = []
    for name, got in f.received.items():
        got = np.asarray(got, dtype=np.float64)
        if got.ndim or np.isclose(got, f.expected.get(name, np.nan), rtol=1e-9, atol=0):
            continue
        for other, value in f.inputs.items():
            value = np.asarray(value, dtype=np.float64)
            if value.ndim == 0 and float(value) != 0 and np.isclose(got, value, rtol=1e-9, atol=0):
                notes.append("%s = %s" % (name, other))
                break
    return "  (%s)" % ", ".join(notes) if notes else ""


def messages(result: Result) -> list[str]:
    """Notes about the whole submission: what was graded and what went wrong loading."""
    out = list(result.loaded.notes)
    out += ["%s (later cells and code still ran)" % w if result.loaded.kind == "notebook"
            else "%s while loading" % w for w in result.warnings]
    return out


# C0 and C1 control characters, DEL, and the invisible marks that reorder or hide text
# (bidi embeddings, overrides and isolates, zero-width and line/paragraph separators),
# and lone surrogates (undecodable file names), which cannot even be printed.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e"
                     "\u2060-\u2069\ud800-\udfff\ufeff\ufff9-\ufffb]")
LINE_BREAKS = re.compile("[\t\n]")


def escaped_char(m: re.Match) -> str:
    c = ord(m.group())
    return "\\x%02x" % c if c < 0x100 else "\\u%04x" % c


def safe_text(text: object, one_line: bool = False) -> str:
    """Untrusted text made harmless to print: control characters (terminal escape codes,
    carriage returns) and bidi/invisible marks shown as \\x1b / \\u202e. Tab and newline are
    kept unless `one_line` (for ids and names printed inside a line of our own)."""
    text = CONTROL.sub(escaped_char, str(text))
    return LINE_BREAKS.sub(escaped_char, text) if one_line else text


def printable(value: Any) -> Any:
    """Student text without control characters (NUL, ESC...), which break readers."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {k: printable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [printable(v) for v in value]
    return value


def results_json(result: Result) -> dict:
    """Gradescope results.json (see shared/notes/results-json.md), student text made printable."""
    return printable(unprinted_results_json(result))


gradescope = results_json  # its old name, still called


def unprinted_results_json(result: Result) -> dict:
    """`results_json` before its student text is made printable."""
    rubric = result.rubric
    groups = {}
    tests = []
    for r in result.items:
        group = r.item.gate or "graph"
        groups.setdefault(group, [len(groups) + 1, 0])
        groups[group][1] += 1
        tests.append({
            "name": r.item.name,
            "number": "%d.%d" % tuple(groups[group]),
            "score": r.score,
            "max_score": r.item.points,
            "status": "passed" if r.outcome.passed else "failed",
            "output": "\n".join(details(r, result.rubric)),
            "visibility": r.item.visibility,
            "tags": [r.item.gate] if r.item.gate else ["graph"],
            "extra_data": dict({"id": r.item.id, "check": r.item.check, "trials": r.outcome.trials,
                                "failed": len(r.outcome.failures)}, **facts_of(r.outcome)),
        })
    summary = messages(result)
    if result.output.strip():
        summary.append("Output from your code while loading:\n" + shown_output(result.output))
    return {
        "score": result.score,
        "max_score": rubric.max_score,
        "execution_time": round(result.elapsed, 3),
        "output": "\n".join(summary),
        "output_format": "text",
        "visibility": "visible",
        "extra_data": {
            "seed": result.seed,
            "rubric": rubric.path.name,
            "rubric_sha256": rubric.sha256,
            "assignment": rubric.assignment,
            "submission": result.loaded.path.name,
            "isolation": result.isolation,
            "output_dropped": result.output_dropped,
            "versions": {"backprop-grader": __version__, "python": platform.python_version(),
                         "numpy": np.__version__},
        },
        "tests": tests,
    }


def text(result: Result) -> str:
    """The student's view: visible items in full, hidden items as a count."""
    rubric = result.rubric
    lines = ["%s: %s (rubric %s, seed %d)" % (rubric.title, result.loaded.path.name,
                                              rubric.path.name, result.seed)]
    lines += ["  ! " + m for m in messages(result)]
    shown = [r for r in result.items if not r.item.hidden]
    hidden = [r for r in result.items if r.item.hidden]
    group, width = None, max([len(r.item.name) for r in shown] + [10])
    said = {}  # a problem already explained -> the item that explained it
    for r in shown:
        if (r.item.gate or "graph") != group:
            group = r.item.gate or "graph"
            lines.append("")
            lines.append(group if r.item.gate else "Graph " + rubric.graphs[r.item.graph].title)
        mark = "PASS" if r.outcome.passed else "FAIL"
        lines.append("  %s  %-*s %5s / %s" % (mark, width, r.item.name, num(r.score), num(r.item.points)))
        if not r.outcome.passed and r.outcome.error and problem(r.outcome) in said:
            lines.append("        problem:  the same as in %s, above" % said[problem(r.outcome)])  # said once
        elif not r.outcome.passed:
            shown_lines = details(r, rubric)
            mistake = r.outcome.mistake
            key = (r.item.gate, mistake.id) if mistake is not None else None
            if key in said:  # the same named mistake: pointed to, its sentence and hint not repeated
                shown_lines = [("mistake:  the same as in %s, above" % said[key]) if line.startswith("mistake:")
                               else line for line in shown_lines if not line.startswith("hint:")]
            elif key is not None:
                said[key] = r.item.name
            lines += ["        " + line for line in shown_lines]
            if r.outcome.error:
                said[problem(r.outcome)] = r.item.name
    if hidden:
        lines.append("")
        lines.append("Hidden checks: %d of %d passed" % (sum(r.outcome.passed for r in hidden),
                                                         len(hidden)))
    visible_score = sum(r.score for r in shown)
    visible_max = sum(r.item.points for r in shown)
    lines.append("")
    lines.append("Score on visible checks: %s / %s" % (num(visible_score), num(visible_max)))
    if result.output.strip():
        lines.append("")
        lines.append("Output from your code while loading:")
        lines += ["  | " + line for line in shown_output(result.output).splitlines()]
    return printable("\n".join(lines) + "\n")


def shown_output(text: str) -> str:
    if len(text) <= OUTPUT_SHOWN:
        return text
    return text[:OUTPUT_SHOWN] + "\n[... output cut: %d more characters not shown]" % (
        len(text) - OUTPUT_SHOWN)


def num(x: float) -> str:
    """A number of points as every report writes it (%g: 80, 72.5)."""
    return "%g" % x
