"""Output formats of `bpgrade grade|check --format`: each renders a `Result` as text.

    text      the student's view: report.text()
    json      Gradescope results.json: report.results_json(). From `grade`, every item, hidden
              ones marked by their `visibility` (Gradescope hides them). From `check`, the
              student's view: hidden items left out, score and max_score over the visible
              items, and `extra_data.hidden = {"checks": N, "passed": K}`.
    junit     JUnit XML (testsuites > testsuite > testcase) for GitHub Actions reporters,
              GitLab CI and Jenkins: one <testcase> per visible item, a failed one with
              <failure message="FEEDBACK" type="MISTAKE-OR-CHECK">FEEDBACK</failure>; hidden
              items are ONE summary testcase "Hidden checks (N)", failed ("F of N hidden checks
              failed") when any hidden item failed, plus the suite properties
              hidden_checks and hidden_passed. Testcase names are stable from run to run.
    markdown  a compact table (status, check, points) with the feedback of each failed
              item in a <details> block; appended to $GITHUB_STEP_SUMMARY when that is set.

Every student-facing format (text, junit, markdown, json from `check`) shows hidden items
only as a count: no name, id, input, value or message. The per-item feedback is the
`output` of report.results_json()'s tests (report.details()), passed through unchanged.

The command line's options (--format, --junit, --fail-under) and the writing of what
these render are in report/emit.py.
"""
from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

from backprop_grader.judge import visibility
from backprop_grader.report import results as report

if TYPE_CHECKING:
    from backprop_grader.judge.score import Result

FORMATS = ("text", "json", "junit", "markdown")


# ---------------------------------------------------------------- what is shown

def tests(result: Result, data: dict | None = None) -> tuple[list[dict], list[dict]]:
    """(visible tests, hidden tests) of results.json, in rubric order."""
    data = report.results_json(result) if data is None else data
    return visibility.split(data["tests"])


def passed(test: dict) -> bool:
    return test["status"] == "passed"


def student_json(data: dict) -> dict:
    """results.json as a student may see it: hidden tests reduced to a count."""
    data = json.loads(json.dumps(data))  # a deep copy
    shown, hidden = visibility.split(data["tests"])
    data["tests"] = shown
    data["score"] = sum(t["score"] for t in shown)
    data["max_score"] = sum(t["max_score"] for t in shown)
    data["extra_data"]["hidden"] = {"checks": len(hidden), "passed": sum(map(passed, hidden))}
    return data


def json_text(result: Result, student: bool) -> str:
    data = report.results_json(result)
    return json.dumps(student_json(data) if student else data, indent=2) + "\n"


# ---------------------------------------------------------------- JUnit XML

# XML 1.0 allows tab, newline, carriage return and these ranges; anything else
# (NUL, escape codes, lone surrogates from student text) is shown as an escape.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: object) -> str:
    """Text for XML (and Markdown): what XML forbids, and what report.safe_text escapes."""
    return NOT_XML.sub(report.escaped_char, report.safe_text(text))


def junit(result: Result) -> str:
    data = report.results_json(result)
    shown, hidden = tests(result, data)
    rub = result.rubric
    suite_name = "%s: %s" % (rub.assignment, result.loaded.path.name)
    failed_shown = sum(not passed(t) for t in shown)
    hidden_failed = sum(not passed(t) for t in hidden)
    count = len(shown) + (1 if hidden else 0)
    failures = failed_shown + (1 if hidden_failed else 0)
    time = "%.3f" % data["execution_time"]

    def attrs(**kw):
        return {k: xml_text(v) for k, v in kw.items()}

    root = ET.Element("testsuites", attrs(name="bpgrade", tests=count, failures=failures,
                                          errors=0, time=time))
    suite = ET.SubElement(root, "testsuite", attrs(
        name=suite_name, tests=count, failures=failures, errors=0, skipped=0, time=time))
    props = ET.SubElement(suite, "properties")
    visible_score = sum(t["score"] for t in shown)
    visible_max = sum(t["max_score"] for t in shown)
    for key, value in [("assignment", rub.assignment), ("submission", result.loaded.path.name),
                       ("rubric", rub.path.name), ("seed", result.seed),
                       ("score", report.num(visible_score)), ("max_score", report.num(visible_max)),
                       ("hidden_checks", len(hidden)),
                       ("hidden_passed", len(hidden) - hidden_failed)]:
        ET.SubElement(props, "property", attrs(name=key, value=value))
    names = [t["name"] for t in shown]
    for t in shown:
        group = t["tags"][0] if t.get("tags") else "graph"
        name = t["name"] if names.count(t["name"]) == 1 else "%s (%s)" % (
            t["name"], t["extra_data"]["id"])
        case = ET.SubElement(suite, "testcase", attrs(
            classname="%s.%s" % (rub.assignment, group), name=name, time="0"))
        if not passed(t):
            feedback = "%s / %s points\n%s" % (report.num(t["score"]), report.num(t["max_score"]), t["output"])
            extra = t.get("extra_data") or {}
            failure = ET.SubElement(case, "failure", attrs(
                message=t["output"], type=extra.get("mistake") or extra.get("check", "failed")))
            failure.text = xml_text(feedback)
    if hidden:
        case = ET.SubElement(suite, "testcase", attrs(
            classname="%s.hidden" % rub.assignment,
            name="Hidden checks (%d)" % len(hidden), time="0"))
        if hidden_failed:
            failure = ET.SubElement(case, "failure", attrs(
                message="%d of %d hidden checks failed" % (hidden_failed, len(hidden)),
                type="hidden"))
            failure.text = "Hidden checks are graded but not shown; %d of %d failed." % (
                hidden_failed, len(hidden))
    out = whole_output(result)
    if out:
        ET.SubElement(suite, "system-out").text = xml_text(out)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def whole_output(result: Result) -> str:
    """Notes about the submission and what its code printed while loading."""
    lines = list(report.messages(result))
    if result.output.strip():
        lines.append("Output from your code while loading:")
        lines.append(report.shown_output(result.output))
    return "\n".join(lines)


# ---------------------------------------------------------------- Markdown

MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&#!])")


def md_cell(text: object) -> str:
    """Text for one GitHub-flavoured Markdown table cell: one line, punctuation escaped."""
    return MD_SPECIAL.sub(r"\\\1", " ".join(xml_text(text).split()))


def fenced(text: object) -> str:
    """A fenced code block that `text` cannot break out of (control characters escaped)."""
    text = xml_text(text)
    runs = [len(r) for r in re.findall(r"`+", text)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return "%stext\n%s\n%s" % (fence, text.rstrip("\n"), fence)


def markdown(result: Result) -> str:
    data = report.results_json(result)
    shown, hidden = tests(result, data)
    rub = result.rubric
    score = sum(t["score"] for t in shown)
    maximum = sum(t["max_score"] for t in shown)
    ok = all(map(passed, shown))
    lines = ["### %s %s: %s / %s" % ("✅" if ok else "❌", md_cell(rub.title), report.num(score),
                                      report.num(maximum)), ""]
    facts = ["`%s`" % result.loaded.path.name.replace("`", "'"),
             "%d of %d visible checks passed" % (sum(map(passed, shown)), len(shown))]
    if hidden:
        facts.append("hidden checks: %d of %d passed" % (sum(map(passed, hidden)), len(hidden)))
    facts.append("rubric `%s`, seed %d" % (rub.path.name.replace("`", "'"), result.seed))
    lines += [" · ".join(facts), ""]
    for note in report.messages(result):
        lines.append("> ⚠️ " + md_cell(note))
        lines.append("")
    lines += ["| | Check | Points |", "| :-: | --- | --: |"]
    for t in shown:
        lines.append("| %s | %s | %s / %s |" % ("✅" if passed(t) else "❌", md_cell(t["name"]),
                                                report.num(t["score"]), report.num(t["max_score"])))
    if hidden:
        lines.append("| %s | %s | |" % ("✅" if not any(not passed(t) for t in hidden) else "❌",
                                         md_cell("Hidden checks: %d of %d passed" % (
                                             sum(map(passed, hidden)), len(hidden)))))
    lines.append("| | **Score on visible checks** | **%s / %s** |" % (report.num(score), report.num(maximum)))
    lines.append("")
    for t in shown:
        if passed(t):
            continue
        lines += ["<details><summary>❌ %s (%s / %s)</summary>" % (
            html.escape(" ".join(xml_text(t["name"]).split())), report.num(t["score"]), report.num(t["max_score"])), "",
            fenced(t["output"]), "", "</details>", ""]
    if result.output.strip():
        lines += ["<details><summary>Output from your code while loading</summary>", "",
                  fenced(report.shown_output(result.output)), "", "</details>", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- dispatch

def render(result: Result, fmt: str, student: bool) -> str:
    """The report in `fmt`. `student` (from `check`) applies to json: the student's view."""
    if fmt == "text":
        return report.text(result)
    if fmt == "json":
        return json_text(result, student)
    if fmt == "junit":
        return junit(result)
    if fmt == "markdown":
        return markdown(result)
    raise ValueError("unknown format %r" % fmt)


# The command line's options and writing moved to report/emit.py; their names here
# still work (cli.py and kit/notebook.py call them through this module).
MOVED = ("EPSILON", "FAIL_UNDER_HELP", "Threshold", "add_args", "append_step_summary", "check_threshold",
         "emit", "meets", "scored", "threshold", "threshold_arg", "write_file")


def __getattr__(name: str) -> Any:
    if name in MOVED:
        from backprop_grader.report import emit
        return getattr(emit, name)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
