"""`bpgrade report`: a static HTML class summary from a gradebook, for course staff.

    REPORT/index.html              score histogram, pass rate per rubric item,
                                   the most frequent named mistakes per gate, the
                                   slowest and the erroring submissions, and one
                                   row per student linking to
    REPORT/students/STUDENT.html   the student's notebook (or module), rendered by
                                   nbconvert's HTML exporter, with each gate's
                                   feedback right after the cell that defines it

Everything is in the files: plots are inline SVG drawn here, styles are inline,
there is no script and nothing is fetched (a Content-Security-Policy says so to
the browser), so the report works offline and can be zipped and mailed.

Student notebooks are untrusted: their markdown and HTML outputs are sanitized
(bleach, through nbconvert's `clean_html` filter, with a wider list of tags),
their scripts are dropped, and the page's policy forbids running any.
Hidden rubric items are shown (this is a staff report) and marked as hidden.
"""
import datetime
import hashlib
import html
import json
import math
import re
import statistics
import sys
import tempfile
import warnings
from collections import Counter
from pathlib import Path
from urllib.parse import quote

from grader import __version__
from grader.batch import gradebook as gradebook_mod
from grader.errors import ReportError

from grader.judge import check_kinds
from grader.load import cell_source, class_pattern
from grader.judge.mistake_kinds import label as mistake_label

SLOWEST = 10
BINS = 10
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
       "form-action 'none'")

UNNAMED = "no known mistake matches"


def esc(x):
    return html.escape(str(x), quote=True)


def num(x):
    return "%g" % x if isinstance(x, (int, float)) else esc(x)


# ---------------------------------------------------------------------------- reading the gradebook

class Student:
    """One student's latest row, decoded."""

    def __init__(self, row):
        self.id = row["student"]
        self.row = row
        self.error = row["error"] or ""
        self.score = float(row["score"])
        self.max_score = float(row["max_score"])
        self.duration = float(row["duration"])
        try:
            self.results = json.loads(row["results"])
        except ValueError:
            self.results = {"tests": []}
        self.tests = {}
        for t in self.results.get("tests") or []:
            tid = (t.get("extra_data") or {}).get("id") or t.get("name")
            self.tests[tid] = t
        self.slug = None

    @property
    def graded(self):
        """Graded by the grader (whatever the score); False when the grader itself failed."""
        return not self.error

    def problems(self):
        """Why checks stopped (the submission did not load, crashed, timed out): the
        `problem` field of the tests' extra_data, each once."""
        seen = []
        for t in self.tests.values():
            text = (t.get("extra_data") or {}).get("problem")
            if text and text not in seen:
                seen.append(text)
        return seen

    def mistakes(self):
        """[(gate tag, mistake id or None, item id)] for failed tests that could be diagnosed.

        A test counts only when its extra_data has a 'mistake' key (results from
        before diagnosis have none); None there means no known mistake matched.
        """
        out = []
        for tid, t in self.tests.items():
            extra = t.get("extra_data") or {}
            if t.get("status") == "passed" or "mistake" not in extra:
                continue
            mistake = extra["mistake"]
            if isinstance(mistake, dict):  # tolerate a richer record
                mistake = mistake.get("id")
            if not mistake and (not check_kinds.diagnosed(extra.get("check")) or extra.get("problem")):
                continue  # not a wrong answer (a crash, a missing class), or a check never diagnosed
            tag = (t.get("tags") or ["other"])[0]
            out.append((tag, str(mistake) if mistake else None, tid))
        return out


def slugs(ids):
    """A file name for each student id: readable, unique, safe on every file system."""
    out, used = {}, set()
    for sid in ids:
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", sid).strip("._-")[:80] or "student"
        slug = base
        if slug != sid or slug.lower() in used:
            slug = "%s-%s" % (base, hashlib.sha256(sid.encode("utf-8", "surrogatepass")).hexdigest()[:8])
        used.add(slug.lower())
        out[sid] = slug
    return out


def histogram(scores, max_score, bins=BINS):
    """[(lo, hi, count)]: `bins` equal bins over [0, max_score]; the last includes max_score."""
    top = max([max_score] + list(scores)) or 1.0
    width = top / bins
    counts = [0] * bins
    for s in scores:
        k = min(bins - 1, max(0, int(math.floor(s / width + 1e-9)))) if width > 0 else 0
        counts[k] += 1
    return [(k * width, (k + 1) * width, c) for k, c in enumerate(counts)]


class ClassData:
    """What the summary page shows, computed from the gradebook."""

    def __init__(self, book):
        self.book = book
        self.meta = book.meta
        self.items = book.items
        self.students = [Student(r) for r in book.latest(submission=True).values()]
        for s, slug in zip(self.students, slugs([s.id for s in self.students]).values()):
            s.slug = slug
        self.graded = [s for s in self.students if s.graded]
        self.failed = [s for s in self.students if not s.graded]
        self.max_score = float(self.meta.get("max_score") or
                               (self.graded[0].max_score if self.graded else 0.0))
        self.scores = [s.score for s in self.graded]

    def pass_rates(self):
        """[(item, passed, total)] over graded students that have the item."""
        out = []
        for item in self.items:
            have = [s.tests[item["id"]] for s in self.graded if item["id"] in s.tests]
            out.append((item, sum(t.get("status") == "passed" for t in have), len(have)))
        return out

    def diagnosed(self):
        """True when any stored result records diagnoses (extra_data.mistake)."""
        return any("mistake" in (t.get("extra_data") or {}) for s in self.graded for t in s.tests.values())

    def mistakes(self):
        """{gate: Counter(mistake id or None -> number of students)}, gates in rubric order."""
        per_gate = {}
        for s in self.graded:
            seen = set()
            for tag, mistake, _ in s.mistakes():
                if (tag, mistake) not in seen:
                    seen.add((tag, mistake))
                    per_gate.setdefault(tag, Counter())[mistake] += 1
        order = []
        for s in self.graded:
            for t in s.tests.values():
                tag = (t.get("tags") or ["other"])[0]
                if tag not in order:
                    order.append(tag)
        return {g: per_gate[g] for g in order + sorted(set(per_gate) - set(order)) if g in per_gate}

    def failing_students(self, gate):
        """Students with any failed, diagnosable test of `gate`."""
        return sum(1 for s in self.graded if any(tag == gate for tag, _, _ in s.mistakes()))

    def slowest(self, n=SLOWEST):
        return sorted(self.students, key=lambda s: -s.duration)[:n]

    def erroring(self):
        """(student, kind, message): grader failures first, then submissions that did not run cleanly."""
        out = [(s, "grader failed", s.error) for s in self.failed]
        out += [(s, "submission", "; ".join(s.problems())) for s in self.graded if s.problems()]
        return out


# ---------------------------------------------------------------------------- SVG plots

def svg_histogram(bins, max_score, width=640, height=280):
    left, right, top, bottom = 44, 16, 16, 44
    w, h = width - left - right, height - top - bottom
    peak = max([c for _, _, c in bins] + [1])
    step = max(1, int(math.ceil(peak / 5)))
    ymax = step * int(math.ceil(peak / step))
    bw = w / len(bins)
    parts = ['<svg id="histogram" class="plot" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
             'viewBox="0 0 %d %d" role="img" aria-labelledby="histogram-title">' % (width, height, width, height),
             '<title id="histogram-title">Score histogram: number of students per score range</title>']
    for k in range(0, ymax + 1, step):  # y grid and labels
        y = top + h - h * k / ymax
        parts.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" class="grid"/>' % (left, y, left + w, y))
        parts.append('<text x="%d" y="%.1f" class="tick" text-anchor="end">%d</text>' % (left - 6, y + 4, k))
    for i, (lo, hi, c) in enumerate(bins):
        x = left + i * bw
        bh = h * c / ymax
        last = i == len(bins) - 1
        label = "%s–%s%s" % (num(round(lo, 6)), num(round(hi, 6)), "" if last else " (excl.)")
        parts.append('<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" data-lo="%s" '
                     'data-hi="%s" data-count="%d"><title>%s points: %d student%s</title></rect>'
                     % (x + 1, top + h - bh, bw - 2, bh, num(round(lo, 6)), num(round(hi, 6)), c,
                        esc(label), c, "" if c == 1 else "s"))
        if c:
            parts.append('<text x="%.1f" y="%.1f" class="count" text-anchor="middle">%d</text>'
                         % (x + bw / 2, top + h - bh - 4, c))
    for i in range(len(bins) + 1):  # x labels at the bin edges
        edge = bins[0][0] + i * (bins[0][1] - bins[0][0])
        parts.append('<text x="%.1f" y="%d" class="tick" text-anchor="middle">%s</text>'
                     % (left + i * bw, top + h + 16, num(round(edge, 2))))
    parts.append('<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>' % (left, top + h, left + w, top + h))
    parts.append('<text x="%.1f" y="%d" class="label" text-anchor="middle">score (of %s)</text>'
                 % (left + w / 2, height - 6, num(max_score)))
    parts.append('<text x="12" y="%.1f" class="label" text-anchor="middle" transform="rotate(-90 12 %.1f)">'
                 'students</text>' % (top + h / 2, top + h / 2))
    parts.append("</svg>")
    return "\n".join(parts)


def svg_hbars(rows, chart_id, title, width=640):
    """Horizontal bars: rows of (label, value in 0..1, right-hand text, {data-attr: value})."""
    label_w, bar_w, row_h, top = 250, width - 250 - 110, 22, 6
    height = top * 2 + row_h * len(rows)
    parts = ['<svg id="%s" class="plot" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
             'viewBox="0 0 %d %d" role="img"><title>%s</title>' % (chart_id, width, height, width, height,
                                                                     esc(title))]
    for i, (label, value, text, attrs) in enumerate(rows):
        y = top + i * row_h
        data = "".join(' data-%s="%s"' % (k, esc(v)) for k, v in attrs.items())
        parts.append('<text x="%d" y="%.1f" class="rowlabel" text-anchor="end">%s</text>'
                     % (label_w - 8, y + row_h * 0.68, esc(label)))
        parts.append('<rect class="track" x="%d" y="%.1f" width="%d" height="%.1f"/>'
                     % (label_w, y + 3, bar_w, row_h - 6))
        parts.append('<rect class="bar" x="%d" y="%.1f" width="%.1f" height="%.1f"%s><title>%s: %s</title></rect>'
                     % (label_w, y + 3, bar_w * max(0.0, min(1.0, value)), row_h - 6, data, esc(label),
                        esc(text)))
        parts.append('<text x="%d" y="%.1f" class="value">%s</text>'
                     % (label_w + bar_w + 8, y + row_h * 0.68, esc(text)))
    parts.append("</svg>")
    return "\n".join(parts)


# ---------------------------------------------------------------------------- pages

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
"""


def page(title, body, extra_style=""):
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"%s\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<meta name=\"generator\" content=\"backprop-grader %s\">\n"
            "<title>%s</title>\n<style>%s%s</style>\n</head>\n<body>\n%s\n</body>\n</html>\n"
            % (CSP, esc(__version__), esc(title), STYLE, extra_style, body))


def index_page(data, title, generated):
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
                   % (student_link(s), s.duration, score_text(s), esc(first[:200])))
    out.append("</table>")

    out.append('<h2 id="errors">Erroring submissions</h2>')
    errs = data.erroring()
    if errs:
        out.append('<table id="errors-table"><tr><th>student</th><th>what failed</th><th class="n">score</th>'
                   '<th>message</th></tr>')
        for s, kind, message in errs:
            out.append('<tr data-kind="%s"><td>%s</td><td>%s</td><td class="n">%s</td><td>%s</td></tr>'
                       % (esc(kind), student_link(s), esc(kind), score_text(s), esc(message[:300])))
        out.append("</table>")
        if data.failed:
            out.append('<p class="muted">“grader failed” rows are not grades: <code>bpgrade batch</code> '
                       'grades them again on its next run.</p>')
    else:
        out.append('<p class="muted">Every submission loaded and ran without a problem.</p>')

    out.append('<h2 id="students">Students</h2>')
    out.append('<table id="students-table"><tr><th>student</th><th class="n">score</th>%s'
               '<th class="n">seconds</th></tr>' % "".join(
                   '<th class="n" title="%s">%s</th>' % (esc(i["name"]), esc(i["id"])) for i in items))
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
        out.append('<tr data-student="%s"><td>%s</td><td class="n score">%s</td>%s<td class="n">%.2f</td></tr>'
                   % (esc(s.id), student_link(s), score_text(s), "".join(marks), s.duration))
    out.append("</table>")
    return page(title, "\n".join(out))


def mistakes_section(data):
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
            who = [s for s in data.graded if any(tag == gate and mk == m for tag, mk, _ in s.mistakes())]
            out.append('<tr data-mistake="%s"><td>%s</td><td><code>%s</code></td><td class="n count">%d</td>'
                       '<td>%s</td></tr>' % (esc(m or ""), esc(mistake_label(m) if m else UNNAMED),
                                             esc(m or "–"), c, ", ".join(student_link(s) for s in who[:12])
                                             + (" and %d more" % (len(who) - 12) if len(who) > 12 else "")))
        out.append("</table>")
        out.append('<p class="muted">%d student%s failed a diagnosable %s check.</p>'
                   % (failing, "" if failing == 1 else "s", esc(gate)))
    return out


def student_link(s):
    return '<a href="students/%s.html">%s</a>' % (quote(s.slug), esc(s.id))


def score_text(s):
    return "%s / %s" % (num(s.score), num(s.max_score)) if s.graded else "not graded"


# ---------------------------------------------------------------------------- student pages

ALLOWED_TAGS = {"a", "abbr", "acronym", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl",
                "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre",
                "s", "samp", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th",
                "thead", "tr", "u", "ul"}


def _allowed_attr(tag, name, value):
    if name == "class":
        return "bpg" not in value  # the student cannot dress up as the grader's feedback
    if tag == "a" and name == "href":
        return value.startswith(("http://", "https://", "mailto:", "#"))
    if tag == "a" and name == "title":
        return True
    if tag == "img" and name == "src":
        return value.startswith("data:image/") and not value.startswith("data:image/svg")
    if tag == "img" and name in ("alt", "width", "height"):
        return True
    if tag in ("td", "th") and name in ("colspan", "rowspan", "align"):
        return True
    return False


def clean_html(text):
    """Sanitize student HTML: formatting tags only, no scripts, styles, or remote resources."""
    import bleach
    text = text.decode() if isinstance(text, bytes) else str(text)
    return bleach.clean(text, tags=ALLOWED_TAGS, attributes=_allowed_attr,
                        protocols=["http", "https", "mailto", "data"], strip=True, strip_comments=True)


class Renderer:
    """Renders notebooks with nbconvert (one exporter for the whole report)."""

    def __init__(self):
        from nbconvert import HTMLExporter
        from pygments.formatters import HtmlFormatter
        self.exporter = HTMLExporter(template_name="basic", sanitize_html=True, exclude_anchor_links=True,
                                     filters={"clean_html": clean_html})
        self.css = HtmlFormatter(style="default").get_style_defs(".highlight")

    def render(self, nb):
        body, _ = self.exporter.from_notebook_node(nb)
        return body


def gate_cells(cells, gates):
    """{gate: index of the last code cell defining it} (the last definition is the one that ran)."""
    found = {}
    for k, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        src = cell_source(cell)
        for g in gates:
            if class_pattern([g], at="line").search(src):
                found[g] = k
    return found


def module_notebook(source, gates):
    """A module as a notebook: one code cell per top-level gate class, and the code between."""
    import nbformat
    lines = source.splitlines(keepends=True)
    top = class_pattern(gates, at="top")
    starts = [0] + [i for i, line in enumerate(lines) if i and top.match(line)]
    cells = []
    for a, b in zip(starts, starts[1:] + [len(lines)]):
        chunk = "".join(lines[a:b]).strip("\n")
        if chunk:
            cells.append(nbformat.v4.new_code_cell(chunk))
    nb = nbformat.v4.new_notebook()
    nb.cells = cells or [nbformat.v4.new_code_cell(source)]
    return nb


def feedback_html(student, tests, heading, anchor):
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


def groups_of(student):
    """{tag: [tests]} in results order; the tag is the gate's name, or 'graph'."""
    groups = {}
    for t in student.tests.values():
        groups.setdefault((t.get("tags") or ["other"])[0], []).append(t)
    return groups


def submission_file(student, gates, tmp):
    """(loaded, note): the graded file, unpacked from the gradebook, read as the grader read it."""
    from grader.batch import classlist
    from grader import load
    blob = student.row["submission"]
    if blob is None:
        return None, "The gradebook does not hold this submission (it was too large to keep)."
    try:
        path = classlist.unpack(blob, tmp)
        return load.load(path, class_names=gates), ""
    except Exception as exc:  # a damaged blob must not stop the report
        return None, "The stored submission could not be unpacked (%s: %s)." % (type(exc).__name__, exc)


def student_page(student, data, renderer, gates):
    import nbformat
    groups = groups_of(student)
    title = "%s: %s" % (student.id, data.meta.get("assignment", ""))
    head = ['<p><a href="../index.html">← class summary</a></p>',
            "<h1>%s</h1>" % esc(student.id),
            '<p class="sub">score <b id="student-score">%s</b> · seed %s · graded %s · %.2f s · from %s</p>'
            % (score_text(student), esc(student.row["seed"]), esc(student.row["graded_at"]), student.duration,
               esc(student.row["source"]))]
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
        loaded, note = submission_file(student, gates, tmp)
        body, unplaced = "", list(groups)
        if loaded is not None and not loaded.problem:
            if loaded.kind == "notebook":
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        nb = nbformat.reads(loaded.path.read_text(encoding="utf-8-sig"), as_version=4)
                except Exception as exc:
                    nb, note = None, "The notebook could not be read (%s)." % exc
            else:
                nb = module_notebook(loaded.source, gates)
            if nb is not None:
                body, unplaced, note2 = render_with_feedback(nb, student, groups, renderer, gates)
                note = note or note2
            what = "%s %s" % ("notebook" if loaded.kind == "notebook" else "module", loaded.path.name)
        else:
            what = "submission"
            if loaded is not None:
                note = note or "The grader could not read this submission: %s" % loaded.problem
    parts = head
    if unplaced:
        parts.append('<h2>Feedback not tied to a cell</h2><p class="muted">%s</p>' % (
            "The code these checks need is not defined in any cell." if body else
            "The submission cannot be shown, so the feedback is listed here."))
        parts += [feedback_html(student, groups[g], feedback_title(g, data), "fb-" + slug_tag(g)) for g in unplaced]
    parts.append('<h2>The %s, with feedback after the cell each check is about</h2>' % esc(what)
                 if body else "<h2>The submission</h2>")
    if note:
        parts.append('<p class="muted">%s</p>' % esc(note))
    if body:
        parts.append('<div class="notebook" id="notebook">%s</div>' % body)
    return page(title, "\n".join(parts), renderer.css if body else "")


def feedback_title(tag, data):
    return ("Feedback on %s" % tag) if tag != "graph" else "Feedback on the whole graph (both gates together)"


def slug_tag(tag):
    return re.sub(r"\W", "_", tag)


def render_with_feedback(nb, student, groups, renderer, gates):
    """(html, unplaced groups, note): the notebook with a feedback block after each gate's cell."""
    import nbformat
    where = gate_cells(nb.cells, gates)
    placed = {}
    for tag in groups:
        if tag in where:
            placed[tag] = where[tag]
        elif tag not in gates and where and all(g in where for g in gates):
            placed[tag] = max(where.values())  # a graph check: after the last gate it uses
    token = "BPGFEEDBACK%s" % hashlib.sha256(repr((student.id, id(nb))).encode()).hexdigest()[:16]
    after = {}
    for tag, k in placed.items():
        after.setdefault(k, []).append(tag)
    cells = []
    for k, cell in enumerate(nb.cells):
        cells.append(cell)
        if k in after:
            cells.append(nbformat.v4.new_raw_cell("%s-%d" % (token, k), metadata={"raw_mimetype": "text/html"}))
    nb.cells = cells
    try:
        body = renderer.render(nb)
    except Exception as exc:  # nbconvert on a malformed notebook: show the code plainly
        body = "\n".join("<pre>%s</pre>" % esc(cell_source(c))
                         for c in nb.cells
                         if c.get("cell_type") == "code" and not str(c.get("source", "")).startswith(token))
        note = "nbconvert could not render this notebook (%s: %s); its code cells are shown as text." % (
            type(exc).__name__, exc)
        return body, list(groups), note
    for k, tags in after.items():
        block = "\n".join(feedback_html(student, groups[t], feedback_title(t, None), "fb-" + slug_tag(t))
                          for t in tags)
        body = body.replace("%s-%d" % (token, k), block, 1)
    return body, [t for t in groups if t not in placed], ""


# ---------------------------------------------------------------------------- the command

def build(gradebook, output, title=None, stream=None):
    """Write the report; returns a summary dict (paths, counts)."""
    stream = stream or sys.stderr
    book = gradebook_mod.Gradebook(gradebook, create=False)
    out = Path(output)
    try:
        if out.exists() and not out.is_dir():
            raise ReportError("%s exists and is not a folder" % out)
        (out / "students").mkdir(parents=True, exist_ok=True)
        data = ClassData(book)
        renderer = Renderer()
        gates = []
        for s in data.students:
            for t in s.tests.values():
                tag = (t.get("tags") or [""])[0]
                if tag and tag != "graph" and tag not in gates:
                    gates.append(tag)
        generated = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        title = title or "%s: class report" % data.meta.get("assignment", "assignment")
        written = set()
        for s in data.students:
            target = inside(out / "students", s.slug + ".html")  # slugs are safe; checked anyway
            write(target, student_page(s, data, renderer, gates))
            written.add(target.name)
        for old in (out / "students").glob("*.html"):  # students no longer in the gradebook
            if old.name not in written:
                old.unlink()
        write(out / "index.html", index_page(data, title, generated))
    finally:
        book.close()
    stream.write("bpgrade: %s: class report for %d student%s (%d graded); open %s\n"
                 % (out, len(data.students), "" if len(data.students) == 1 else "s", len(data.graded),
                    out / "index.html"))
    return {"index": out / "index.html", "students": {s.id: out / "students" / (s.slug + ".html")
                                                      for s in data.students},
            "graded": len(data.graded), "failed": len(data.failed)}


def inside(folder, name):
    try:
        return gradebook_mod.inside(folder, name)
    except gradebook_mod.OutsideFolder as exc:
        raise ReportError(str(exc)) from None


def write(path, text):
    try:
        gradebook_mod.write_atomic(Path(path), text)
    except gradebook_mod.GradebookFull as exc:
        raise ReportError(str(exc)) from None


def report_args(cmd):
    cmd.description = ("Write a static HTML class summary from a gradebook: score histogram, pass rate per "
                       "rubric item, the most frequent named mistakes per gate, the slowest and erroring "
                       "submissions, and one feedback page per student with their notebook. Works offline.")
    cmd.add_argument("--gradebook", default="grades.sqlite", help="the gradebook (default: grades.sqlite)")
    cmd.add_argument("-o", "--output", default="report", help="folder to write the report to (default: report)")
    cmd.add_argument("--title", help="page title (default: ASSIGNMENT: class report)")
    cmd.set_defaults(run=lambda args: (build(args.gradebook, args.output, args.title), 0)[1])
