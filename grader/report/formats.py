"""Output formats of `bpgrade grade|check --format`, and `--fail-under`.

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
"""
import html
import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from grader.report import results as report

FORMATS = ("text", "json", "junit", "markdown")
EPSILON = 1e-9


# ---------------------------------------------------------------- what is shown

def tests(result, data=None):
    """(visible tests, hidden tests) of results.json, in rubric order."""
    data = report.results_json(result) if data is None else data
    shown = [t for t in data["tests"] if t.get("visibility", "visible") == "visible"]
    hidden = [t for t in data["tests"] if t.get("visibility", "visible") != "visible"]
    return shown, hidden


def passed(test):
    return test["status"] == "passed"


def student_json(data):
    """results.json as a student may see it: hidden tests reduced to a count."""
    data = json.loads(json.dumps(data))  # a deep copy
    shown = [t for t in data["tests"] if t.get("visibility", "visible") == "visible"]
    hidden = [t for t in data["tests"] if t.get("visibility", "visible") != "visible"]
    data["tests"] = shown
    data["score"] = sum(t["score"] for t in shown)
    data["max_score"] = sum(t["max_score"] for t in shown)
    data["extra_data"]["hidden"] = {"checks": len(hidden), "passed": sum(map(passed, hidden))}
    return data


def json_text(result, student):
    data = report.results_json(result)
    return json.dumps(student_json(data) if student else data, indent=2) + "\n"


# ---------------------------------------------------------------- JUnit XML

# XML 1.0 allows tab, newline, carriage return and these ranges; anything else
# (NUL, escape codes, lone surrogates from student text) is shown as an escape.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text):
    """Text for XML (and Markdown): what XML forbids, and what report.safe_text escapes."""
    return NOT_XML.sub(report.escaped_char, report.safe_text(text))


def junit(result):
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


def whole_output(result):
    """Notes about the submission and what its code printed while loading."""
    lines = list(report.messages(result))
    if result.output.strip():
        lines.append("Output from your code while loading:")
        lines.append(report.shown_output(result.output))
    return "\n".join(lines)


# ---------------------------------------------------------------- Markdown

MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&#!])")


def md_cell(text):
    """Text for one GitHub-flavoured Markdown table cell: one line, punctuation escaped."""
    return MD_SPECIAL.sub(r"\\\1", " ".join(xml_text(text).split()))


def fenced(text):
    """A fenced code block that `text` cannot break out of (control characters escaped)."""
    text = xml_text(text)
    runs = [len(r) for r in re.findall(r"`+", text)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return "%stext\n%s\n%s" % (fence, text.rstrip("\n"), fence)


def markdown(result):
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


def append_step_summary(text, environ=None):
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


# ---------------------------------------------------------------- dispatch

def render(result, fmt, student):
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


# ---------------------------------------------------------------- --fail-under

@dataclass
class Threshold:
    value: float
    percent: bool

    def __str__(self):
        return report.num(self.value) + ("%" if self.percent else "")


def threshold(text):
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


def scored(result, student):
    """(score, max): over every item from `grade`, over the visible ones from `check`."""
    items = [r for r in result.items if not (student and r.item.hidden)]
    return sum(r.score for r in items), sum(r.item.points for r in items)


def check_threshold(limit, result, student):
    """None when `limit` can be reached, else why not (a usage error)."""
    _, maximum = scored(result, student)
    if not limit.percent and limit.value > maximum + EPSILON:
        return ("--fail-under %s is more than the %s points %s" % (
            limit, report.num(maximum), "of the visible checks" if student else "available"))
    return None


def meets(limit, result, student):
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


def threshold_arg(text):
    import argparse
    try:
        return threshold(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_args(cmd, default):
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


def write_file(path, text):
    from pathlib import Path
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text, encoding="utf-8")


def emit(args, result, student):
    """Write the report as the options ask; the exit status (0, or 1 under --fail-under)."""
    from grader.errors import UsageError
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
