"""The report's pages: the class summary (index) and one page per student, as HTML text.
Everything is inline (styles, SVG); a Content-Security-Policy forbids scripts and fetches."""
from __future__ import annotations

import re
import statistics
import tempfile
import warnings
from typing import TYPE_CHECKING, Any, Mapping, Sequence
from urllib.parse import quote

from backprop_grader import __version__
from backprop_grader.judge.mistake_kinds import label as mistake_label
from backprop_grader.report.charts import svg_hbars, svg_histogram
from backprop_grader.report.classdata import UNNAMED, histogram
from backprop_grader.report.notebooks import cells_notebook, module_notebook, render_with_feedback
from backprop_grader.report.sanitize import esc, num, shorten
from backprop_grader.report.submission import graded_files

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from backprop_grader.load import Loaded
    from backprop_grader.report.classdata import ClassData, Student
    from backprop_grader.report.notebooks import Renderer

CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
       "form-action 'none'")

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d232a;
       margin: 0 auto; max-width: 1100px; padding: 16px 24px 48px; background: #fff; }
h1 { font-size: 1.6em; margin: 0.4em 0 0.1em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #dde2e7; }
.sub { color: #5b6670; margin: 0 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #dde2e7; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f5f7; } td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.stats td { border: none; padding: 2px 16px 2px 0; } .stats td:first-child { color: #5b6670; }
svg.plot { display: block; margin: 0.5em 0 1em; font-size: 12px; }
svg .bar { fill: #3b7dd8; } svg .track { fill: #eef1f4; } svg .grid { stroke: #e3e7eb; }
svg .axis { stroke: #5b6670; } svg .tick, svg .value, svg .rowlabel { fill: #38424c; }
svg .count { fill: #1d232a; font-weight: 600; } svg .label { fill: #5b6670; }
.pass { color: #1a7f37; font-weight: 600; } .fail { color: #c62828; font-weight: 600; }
.muted { color: #6b7680; } .tag { font-size: 0.8em; padding: 0 6px; border-radius: 8px; background: #eef1f4; }
.hidden-item { background: #fff4d6; }
td.mark { text-align: center; font-weight: 600; }
.bpg-feedback { border-left: 5px solid #3b7dd8; background: #f5f8fc; margin: 4px 0 18px 0;
                padding: 8px 14px; border-radius: 0 6px 6px 0; }
.bpg-feedback h3 { margin: 0.2em 0 0.4em; font-size: 1.05em; }
.bpg-item { margin: 6px 0 10px; } .bpg-item pre { margin: 4px 0 0 0; background: #fff;
            border: 1px solid #dde2e7; padding: 6px 8px; white-space: pre-wrap; font-size: 13px; }
.bpg-item.bpg-failed { } .bpg-mistake { color: #8a3b00; font-weight: 600; }
.notebook { margin-top: 1em; }
.notebook .cell { margin: 8px 0; } .notebook .input_prompt, .notebook .prompt { display: none; }
.notebook .input_area { background: #f7f7f9; border: 1px solid #dde2e7; border-radius: 4px; padding: 6px 10px;
                        overflow-x: auto; }
.notebook .input_area pre { margin: 0; font-size: 13px; }
.notebook .output_area pre { margin: 4px 0 0 10px; font-size: 13px; white-space: pre-wrap; }
.notebook .output_error pre, .notebook .output_stderr pre { background: #fdecea; }
.notebook .text_cell_render { padding: 2px 4px; } .notebook img { max-width: 100%; }
.scroll { overflow-x: auto; max-width: 100%; margin: 0.5em 0 1em; } .scroll > table { margin: 0; }
svg.plot { max-width: 100%; height: auto; }
pre { overflow-x: auto; }
pre.code { background: #f7f7f9; border: 1px solid #dde2e7; padding: 6px 10px; font-size: 13px; }
td.msg { min-width: 16em; } .late { color: #8a3b00; }
@media (max-width: 600px) { body { padding: 8px 10px 32px; font-size: 14px; } }
"""

TABLE = re.compile(r"<table\b")


def scrolling(body: str) -> str:
    """Every table in a wrapper that scrolls sideways when the table is wider than the page."""
    return TABLE.sub('<div class="scroll"><table', body).replace("</table>", "</table></div>")


def page(title: str, body: str, extra_style: str = "") -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"%s\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<meta name=\"generator\" content=\"backprop-grader %s\">\n"
            "<title>%s</title>\n<style>%s%s</style>\n</head>\n<body>\n%s\n</body>\n</html>\n"
            % (CSP, esc(__version__), esc(title), STYLE, extra_style, scrolling(body)))


def index_page(data: ClassData, title: str, generated: str) -> str:
    graded, scores = data.graded, data.scores
    items = data.items
    out = ["<h1>%s</h1>" % esc(title),
           '<p class="sub">assignment <b>%s</b> · rubric %s · %d student%s · generated %s by '
           'backprop-grader %s</p>' % (esc(data.meta.get("assignment", "?")), esc(data.meta.get("rubric_name", "?")),
                                       len(data.students), "" if len(data.students) == 1 else "s",
                                       esc(generated), esc(__version__))]
    stats = [("students", len(data.students), "n-students"),
             ("graded", len(graded), "n-graded"),
             ("grader failures (not graded)", len(data.failed), "n-failed"),
             ("maximum score", num(data.max_score), "max-score")]
    if scores:
        stats += [("mean score", "%.4g" % statistics.fmean(scores), "mean"),
                  ("median score", "%.4g" % statistics.median(scores), "median"),
                  ("full marks", sum(s >= data.max_score for s in scores), "n-full"),
                  ("zero", sum(s == 0 for s in scores), "n-zero")]
    out.append('<table class="stats" id="stats">' + "".join(
        '<tr><td>%s</td><td id="stat-%s">%s</td></tr>' % (esc(k), sid, v if isinstance(v, str) else num(v))
        for k, v, sid in stats) + "</table>")

    out.append('<h2 id="scores">Score histogram</h2>')
    if scores:
        out.append(svg_histogram(histogram(scores, data.max_score), data.max_score))
    else:
        out.append('<p class="muted">No graded submissions yet.</p>')

    out.append('<h2 id="items">Pass rate per rubric item</h2>')
    rates = data.pass_rates()
    if graded:
        out.append(svg_hbars([("%s%s" % (item["id"], " (hidden)" if item["visibility"] != "visible" else ""),
                               p / n if n else 0.0, "%d%% (%d/%d)" % (round(100 * p / n) if n else 0, p, n),
                               {"item": item["id"], "passed": p, "total": n}) for item, p, n in rates],
                             "pass-rates", "Pass rate per rubric item"))
    out.append('<table id="items-table"><tr><th>item</th><th>name</th><th class="n">points</th>'
               '<th class="n">passed</th><th class="n">graded</th><th class="n">pass rate</th></tr>')
    for item, p, n in rates:
        out.append('<tr data-item="%s"%s><td><code>%s</code>%s</td><td>%s</td><td class="n">%s</td>'
                   '<td class="n passed">%d</td><td class="n total">%d</td><td class="n">%s</td></tr>'
                   % (esc(item["id"]), ' class="hidden-item"' if item["visibility"] != "visible" else "",
                      esc(item["id"]), ' <span class="tag">%s</span>' % esc(item["visibility"])
                      if item["visibility"] != "visible" else "", esc(item["name"]), num(item["points"]),
                      p, n, "%.0f%%" % (100.0 * p / n) if n else "–"))
    out.append("</table>")

    out.append('<h2 id="mistakes">Most frequent named mistakes per gate</h2>')
    out += mistakes_section(data)

    out.append('<h2 id="slowest">Slowest submissions</h2>')
    out.append('<table id="slowest-table"><tr><th>student</th><th class="n">seconds</th><th class="n">score</th>'
               '<th>first problem</th></tr>')
    for s in data.slowest():
        first = (s.problems() or [s.error] if not s.graded else s.problems() or [""])[0]
        out.append('<tr><td>%s</td><td class="n">%.2f</td><td class="n">%s</td><td>%s</td></tr>'
                   % (student_link(s), s.duration, score_text(s), esc(shorten(first, 200))))
    out.append("</table>")

    out.append('<h2 id="errors">Erroring submissions</h2>')
    out.append('<p class="muted">Submissions whose code did not run to an answer: it raised, timed out, '
               'crashed, did not load or lacks a class. Wrong answers are below, apart.</p>')
    errs = data.erroring()
    if errs:
        out.append('<table id="errors-table"><tr><th>student</th><th>what failed</th><th>kind</th>'
                   '<th class="n">score</th><th>message</th></tr>')
        for s, kind, message in errs:
            kinds = s.error_kinds() if s.graded else []
            out.append('<tr data-kind="%s" data-outcomes="%s"><td>%s</td><td>%s</td><td>%s</td><td class="n">%s</td>'
                       '<td class="msg" title="%s">%s</td></tr>'
                       % (esc(kind), esc(" ".join(kinds)), student_link(s), esc(kind),
                          esc(", ".join(k.replace("_", " ") for k in kinds)), score_text(s), esc(message),
                          esc(shorten(message, 300))))
        out.append("</table>")
        if data.failed:
            out.append('<p class="muted">“grader failed” rows are not grades: <code>bpgrade batch</code> '
                       'grades them again on its next run.</p>')
    else:
        out.append('<p class="muted">Every submission loaded and ran without an error.</p>')
    wrong = data.wrong_answers()
    out.append('<h3 id="wrong">Wrong answers, no error (%d student%s)</h3>'
               % (len(wrong), "" if len(wrong) == 1 else "s"))
    if wrong:
        out.append('<table id="wrong-table"><tr><th>student</th><th class="n">score</th><th>items answered wrongly</th>'
                   '</tr>')
        for s, ids in wrong:
            out.append('<tr data-student="%s"><td>%s</td><td class="n">%s</td><td>%s</td></tr>'
                       % (esc(s.id), student_link(s), score_text(s),
                          ", ".join("<code>%s</code>" % esc(i) for i in ids)))
        out.append("</table>")
    floods = [s for s in data.graded if s.output_dropped]
    if floods:
        out.append('<h3 id="floods">Output floods</h3><table id="floods-table"><tr><th>student</th>'
                   '<th class="n">output dropped</th></tr>')
        for s in floods:
            out.append('<tr data-student="%s" data-bytes="%d"><td>%s</td><td class="n">%s</td></tr>'
                       % (esc(s.id), s.output_dropped, student_link(s), esc(size_text(s.output_dropped))))
        out.append("</table>")

    out.append('<h2 id="students">Students</h2>')
    late = data.late
    out.append('<table id="students-table"><tr><th>student</th><th class="n">score</th>%s%s'
               '<th class="n">seconds</th></tr>' % (
                   '<th class="n">raw</th><th class="n">late penalty</th>' if late else "", "".join(
                       '<th class="n" title="%s">%s</th>' % (esc(i["name"]), esc(i["id"])) for i in items)))
    for s in data.students:
        marks = []
        for i in items:
            t = s.tests.get(i["id"])
            if t is None:
                marks.append('<td class="mark muted">–</td>')
            elif t.get("status") == "passed":
                marks.append('<td class="mark pass" title="passed">✓</td>')
            else:
                marks.append('<td class="mark fail" title="failed">✗</td>')
        cells = ""
        if late:
            p = s.penalty
            cells = '<td class="n raw">%s</td><td class="n penalty late" title="%s">%s</td>' % (
                num(s.score) if s.graded else "", esc(p["note"]) if p is not None else "",
                "-%s" % num(p["points"]) if p is not None and p["points"] else "")
        out.append('<tr data-student="%s"><td>%s</td><td class="n score">%s</td>%s%s<td class="n">%.2f</td></tr>'
                   % (esc(s.id), student_link(s), score_text(s), cells, "".join(marks), s.duration))
    out.append("</table>")
    return page(title, "\n".join(out))


def mistakes_section(data: ClassData) -> list[str]:
    if not data.graded:
        return ['<p class="muted">No graded submissions yet.</p>']
    if not data.diagnosed():
        return ['<p class="muted" id="no-diagnoses">These results record no diagnoses (they were graded by a '
                'grader version that does not name mistakes); grade again with <code>bpgrade batch '
                '--regrade</code> to see them.</p>']
    per_gate = data.mistakes()
    if not per_gate:
        return ['<p class="muted">No failed gradient checks: nothing to diagnose.</p>']
    out = []
    for gate, counts in per_gate.items():
        failing = data.failing_students(gate)
        ranked = sorted(counts.items(), key=lambda kv: (kv[0] is None, -kv[1], kv[0] or ""))
        out.append('<h3>%s</h3>' % esc(gate))
        out.append(svg_hbars([(mistake_label(m) if m else UNNAMED, c / failing if failing else 0.0,
                               "%d student%s" % (c, "" if c == 1 else "s"), {"mistake": m or "", "count": c})
                              for m, c in ranked], "mistakes-%s" % re.sub(r"\W", "_", gate),
                             "Named mistakes in %s" % gate))
        out.append('<table class="mistakes" data-gate="%s"><tr><th>mistake</th><th>id</th><th class="n">students</th>'
                   '<th>who</th></tr>' % esc(gate))
        for m, c in ranked:
            who = data.students_with(gate, m)
            out.append('<tr data-mistake="%s"><td>%s</td><td><code>%s</code></td><td class="n count">%d</td>'
                       '<td>%s</td></tr>' % (esc(m or ""), esc(mistake_label(m) if m else UNNAMED),
                                             esc(m or "–"), c, ", ".join(student_link(s) for s in who[:12])
                                             + (" and %d more" % (len(who) - 12) if len(who) > 12 else "")))
        out.append("</table>")
        out.append('<p class="muted">%d student%s failed a diagnosable %s check.</p>'
                   % (failing, "" if failing == 1 else "s", esc(gate)))
    return out


def student_link(s: Student) -> str:
    return '<a href="students/%s.html">%s</a>' % (quote(s.slug), esc(s.id))


def score_text(s: Student) -> str:
    """The score after any late penalty, or "not graded"."""
    return "%s / %s" % (num(s.final), num(s.max_score)) if s.graded else "not graded"


def size_text(n: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= size:
            return "%.1f %s (%d bytes)" % (n / size, unit, n)
    return "%d bytes" % n



def feedback_html(student: Student, tests: Sequence[Mapping[str, Any]], heading: str, anchor: str) -> str:
    out = ['<section class="bpg-feedback" id="%s"><h3>%s</h3>' % (esc(anchor), esc(heading))]
    for t in tests:
        extra = t.get("extra_data") or {}
        passed = t.get("status") == "passed"
        mistake = extra.get("mistake")
        if isinstance(mistake, dict):
            mistake = mistake.get("id")
        bits = ['<span class="%s">%s</span>' % ("pass" if passed else "fail", "PASS" if passed else "FAIL"),
                "<b>%s</b>" % esc(t.get("name", "")),
                '<span class="muted">%s / %s</span>' % (num(t.get("score", 0)), num(t.get("max_score", 0)))]
        if t.get("visibility", "visible") != "visible":
            bits.append('<span class="tag">%s: students see it only as a count</span>' % esc(t.get("visibility")))
        if mistake:
            bits.append('<span class="bpg-mistake">mistake: %s</span>' % esc(mistake_label(str(mistake))))
        out.append('<div class="bpg-item %s" id="item-%s" data-item="%s" data-status="%s">%s'
                   % ("bpg-passed" if passed else "bpg-failed", esc(extra.get("id", "")), esc(extra.get("id", "")),
                      esc(t.get("status", "")), " ".join(bits)))
        if not passed and t.get("output"):
            out.append("<pre>%s</pre>" % esc(t["output"]))
        out.append("</div>")
    out.append("</section>")
    return "\n".join(out)


def groups_of(student: Student) -> dict[str, list[dict[str, Any]]]:
    """{tag: [tests]} in results order; the tag is the gate's name, or 'graph'."""
    groups = {}
    for t in student.tests.values():
        groups.setdefault((t.get("tags") or ["other"])[0], []).append(t)
    return groups



def student_page(student: Student, data: ClassData, renderer: Renderer, gates: list[str]) -> str:
    groups = groups_of(student)
    title = "%s: %s" % (student.id, data.meta.get("assignment", ""))
    head = ['<p><a href="../index.html">← class summary</a></p>',
            "<h1>%s</h1>" % esc(student.id),
            '<p class="sub">score <b id="student-score">%s</b> · seed %s · graded %s · %.2f s · from %s</p>'
            % (score_text(student), esc(student.row["seed"]), esc(student.row["graded_at"]), student.duration,
               esc(student.row["source"]))]
    p = student.penalty
    if p is not None and p["points"] and student.graded:
        head.append('<p class="late" id="late-note">late penalty -%s (%s): raw score %s / %s</p>'
                    % (num(p["points"]), esc(p["note"]), num(student.score), num(student.max_score)))
    if student.output_dropped:
        head.append('<p class="late" id="flood-note">The submission printed %s more than was kept.</p>'
                    % esc(size_text(student.output_dropped)))
    if student.error:
        head.append('<p class="fail">The grader itself failed on this submission (%s); it is not a grade, and '
                    '<code>bpgrade batch</code> grades it again on its next run.</p>' % esc(student.error))
    head.append('<table id="summary-table"><tr><th>item</th><th class="n">score</th><th>status</th>'
                '<th>mistake</th></tr>')
    for item in data.items:
        t = student.tests.get(item["id"])
        if t is None:
            continue
        extra = t.get("extra_data") or {}
        m = extra.get("mistake")
        head.append('<tr data-item="%s"%s><td><a href="#item-%s">%s</a></td><td class="n">%s / %s</td>'
                    '<td class="%s">%s</td><td>%s</td></tr>'
                    % (esc(item["id"]), ' class="hidden-item"' if item["visibility"] != "visible" else "",
                       esc(item["id"]), esc(t.get("name", item["id"])), num(t.get("score", 0)),
                       num(t.get("max_score", 0)), "pass" if t.get("status") == "passed" else "fail",
                       esc(t.get("status", "")), esc(mistake_label(str(m))) if m else ""))
    head.append("</table>")
    if student.results.get("output"):
        head.append("<h2>About the whole submission</h2><pre>%s</pre>" % esc(student.results["output"]))

    with tempfile.TemporaryDirectory(prefix="bpgrade-report-") as tmp:
        files = graded_files(student.row, gates, tmp)
        loaded, note = files.loaded, files.note
        body, unplaced, what = "", list(groups), "submission"
        if loaded is not None and not loaded.problem:
            nb, note = submission_notebook(loaded, gates)
            if nb is not None:
                body, unplaced, note2 = render_with_feedback(
                    nb, student.id, groups, renderer, gates,
                    lambda t: feedback_html(student, groups[t], feedback_title(t, data), "fb-" + slug_tag(t)))
                note = note or note2
            what = "%s %s" % ("notebook" if loaded.kind == "notebook" else "module", loaded.path.name)
        elif loaded is not None:
            note = note or "The grader could not read this submission: %s" % loaded.problem
        others = files.others
    parts = head
    if unplaced:
        parts.append('<h2>Feedback not tied to a cell</h2><p class="muted">%s</p>' % (
            "The code these checks need is not defined in any cell of the graded file." if body else
            "The submission cannot be shown, so the feedback is listed here."))
        parts += [feedback_html(student, groups[g], feedback_title(g, data), "fb-" + slug_tag(g)) for g in unplaced]
    parts.append('<h2>The %s, with feedback after the cell each check is about</h2>' % esc(what)
                 if body else "<h2>The submission</h2>")
    if note:
        parts.append('<p class="muted">%s</p>' % esc(note))
    if body:
        parts.append('<div class="notebook" id="notebook">%s</div>' % body)
    if others:
        parts.append('<h2 id="other-files">The other code files it was graded with</h2>')
        for name, text in others:
            parts.append('<section class="other-file" data-file="%s"><h3><code>%s</code></h3>'
                         '<div class="scroll"><pre class="code">%s</pre></div></section>'
                         % (esc(name), esc(name), esc(text)))
    return page(title, "\n".join(parts), renderer.css if body else "")


def submission_notebook(loaded: Loaded, gates: list[str]) -> tuple[NotebookNode | None, str]:
    """(notebook to show, note): the graded file as the code it was graded from: a notebook
    as it is, a notebook exported as a script as the cells that ran, a module cut at its gates."""
    import nbformat
    if loaded.kind != "notebook":
        return module_notebook(loaded.source, gates), ""
    if loaded.path.suffix.lower() != ".ipynb":  # a script exported from a notebook
        return cells_notebook(loaded.cells), ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return nbformat.reads(loaded.path.read_text(encoding="utf-8-sig"), as_version=4), ""
    except Exception as exc:
        return None, "The notebook could not be read (%s)." % shorten(str(exc), 200)


def feedback_title(tag: str, data: ClassData) -> str:
    return ("Feedback on %s" % tag) if tag != "graph" else "Feedback on the whole graph (both gates together)"


def slug_tag(tag: str) -> str:
    return re.sub(r"\W", "_", tag)

