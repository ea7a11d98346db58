"""bpgrade report: the HTML class summary and per-student pages, checked as files and in Chromium.

One small class is graded once (module fixture) with `bpgrade batch` and the
short rubric (tests/data/rubrics/batch_short.yaml, 15 points), plus one row where
the grader itself failed. Expected numbers are read back from the gradebook with
sqlite3, not from the report code. The browser tests need Debian's `chromium`
and are skipped without it.
"""
import html.parser
import io
import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import nbformat
import pytest

from backprop_grader.batch import grading as batch, gradebook, pool
from backprop_grader.report import html as html_report, sanitize
from backprop_grader.judge import rubric
from backprop_grader import cli as cli_module

DATA = Path(__file__).parent / "data"
SHORT = DATA / "rubrics" / "batch_short.yaml"
GOOD = (DATA / "good.py").read_text()
FORGOT_DZ = (DATA / "forgot_dz.py").read_text()
SYNTAX_ERROR = (DATA / "syntax_error.py").read_text()
ADD_MUL_RULE = GOOD.replace("return [dz, dz]", "return [self.y * dz, self.x * dz]").replace(
    "    def forward(self, x, y):\n        return x + y",
    "    def forward(self, x, y):\n        self.x, self.y = x, y\n        return x + y")
SECRET = "report-test-secret-0123456789abcdef"
WEIRD = "o'neil <b>&amp; \"x\""  # a student id that needs escaping
MUL, ADD = GOOD.split("\n\n\nclass AddGate")
ADD = "class AddGate" + ADD
XSS = '<img src="x" onerror="document.title=\'pwned\'"><b id="student-bold">bold</b>'


def notebook(mul_source):
    """A notebook with the gates in two cells, markdown, outputs, and hostile HTML."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Homework\n\n<script>document.title='pwned'</script>Some *text*."),
        nbformat.v4.new_code_cell("import math"),
        nbformat.v4.new_code_cell(mul_source, execution_count=2, outputs=[
            nbformat.v4.new_output("display_data", data={"text/html": XSS, "text/plain": "x"}),
            nbformat.v4.new_output("display_data", data={"application/javascript": "document.title='pwned'"})]),
        nbformat.v4.new_markdown_cell("## Add gate"),
        nbformat.v4.new_code_cell(ADD),
        nbformat.v4.new_code_cell("print('done')", outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="done\n")]),
    ]
    return nbformat.writes(nb)


CLASS = {
    "alice.py": GOOD,
    "bob.py": FORGOT_DZ,
    "carol.ipynb": notebook(MUL.replace("return [self.y * dz, self.x * dz]", "return [self.y, self.x]")),
    "dave.py": ADD_MUL_RULE,
    "erin.ipynb": notebook(MUL),
    "gina.py": SYNTAX_ERROR,
    WEIRD + ".py": GOOD,
}
STUDENTS = sorted(["alice", "bob", "carol", "dave", "erin", "gina", WEIRD, "zed"])


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    subs = base / "subs"
    subs.mkdir()
    for name, text in CLASS.items():
        (subs / name).write_text(text)
    secret = base / "course.secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    gb = base / "grades.sqlite"
    rep = batch.run([str(subs)], rubric=str(SHORT), gradebook=str(gb), jobs=2, progress="none",
                    secret=str(secret), stream=io.StringIO())
    assert rep.exit_code == 0, rep.text
    book = gradebook.Gradebook(gb, rubric=rubric.load(SHORT))  # a grader failure, as batch records it
    task = pool.Task("zed", str(subs / "zed.py"), 1)
    book.record(pool.Graded(task, pool.failed_results(rubric.load(SHORT), "the grader failed: boom"), 0.5,
                            error="RuntimeError: boom"), "0" * 64, "subs/zed.py")
    book.close()
    out = base / "report"
    code = cli_module.main(["report", "--gradebook", str(gb), "-o", str(out)])
    assert code == 0
    return {"base": base, "gb": gb, "out": out, "rows": latest_rows(gb)}


def latest_rows(gb):
    db = sqlite3.connect(str(gb))
    db.row_factory = sqlite3.Row
    try:
        rows = db.execute("SELECT * FROM grades WHERE id IN (SELECT MAX(id) FROM grades GROUP BY student)")
        return {r["student"]: dict(r) for r in rows}
    finally:
        db.close()


def results_by_item(row):
    return {t["extra_data"]["id"]: t for t in json.loads(row["results"])["tests"]}


# ------------------------------------------------------------------ a small DOM, from html.parser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent, self.children, self.texts = tag, dict(attrs), parent, [], []

    def iter(self):
        yield self
        for c in self.children:
            yield from c.iter()

    def find_all(self, tag=None, cls=None, **attrs):
        return [n for n in self.iter() if (tag is None or n.tag == tag)
                and (cls is None or cls in (n.attrs.get("class") or "").split())
                and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def find(self, *a, **kw):
        found = self.find_all(*a, **kw)
        assert found, (a, kw)
        return found[0]

    def text(self):
        return "".join(self.texts) + "".join(c.text() for c in self.children)


class Builder(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.cur = Node("#document", {})

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.texts.append(data)


def dom(text):
    b = Builder()
    b.feed(text)
    b.close()
    return b.root


# ------------------------------------------------------------------ expected numbers, from the gradebook

def expected_bins(rows, max_score=15.0, bins=10):
    counts = [0] * bins
    for r in rows.values():
        if not r["error"]:
            counts[min(bins - 1, int(r["score"] // (max_score / bins)))] += 1
    return counts


def expected_pass(rows, item):
    have = [results_by_item(r)[item] for r in rows.values() if not r["error"] and item in results_by_item(r)]
    return sum(t["status"] == "passed" for t in have), len(have)


def check_summary(doc, rows):
    """The summary page agrees with the gradebook."""
    bars = doc.find("svg", id="histogram").find_all("rect", cls="bar")
    assert [int(b.attrs["data-count"]) for b in bars] == expected_bins(rows)
    assert sum(int(b.attrs["data-count"]) for b in bars) == 7  # graded students; zed's failure is not a grade
    assert doc.find(id="stat-n-students").text() == "8"
    assert doc.find(id="stat-n-failed").text() == "1"
    good = [r["score"] for r in rows.values() if not r["error"]]
    assert float(doc.find(id="stat-mean").text()) == pytest.approx(sum(good) / len(good), rel=1e-3)
    table = doc.find("table", id="items-table")
    for item in [i.id for i in rubric.load(SHORT).items]:
        tr = table.find("tr", data_item=item)
        passed, total = expected_pass(rows, item)
        assert (int(tr.find("td", cls="passed").text()), int(tr.find("td", cls="total").text())) == (passed, total)
        bar = doc.find("svg", id="pass-rates").find("rect", data_item=item)
        assert (int(bar.attrs["data-passed"]), int(bar.attrs["data-total"])) == (passed, total)
    students = doc.find("table", id="students-table").find_all("tr")[1:]
    assert sorted(tr.attrs["data-student"] for tr in students) == STUDENTS
    for tr in students:
        row = rows[tr.attrs["data-student"]]
        shown = tr.find("td", cls="score").text()
        assert shown == ("not graded" if row["error"] else "%g / 15" % row["score"])
        link = tr.find("a").attrs["href"]
        assert link.startswith("students/") and link.endswith(".html")


# ------------------------------------------------------------------ files

def test_summary_numbers_match_the_gradebook(graded):
    doc = dom((graded["out"] / "index.html").read_text())
    check_summary(doc, graded["rows"])
    rows = graded["rows"]
    assert rows["alice"]["score"] == 15 and rows["bob"]["score"] == 8 and rows["gina"]["score"] == 0


def test_named_mistakes_per_gate(graded):
    doc = dom((graded["out"] / "index.html").read_text())
    mul = doc.find("table", data_gate="MultiplyGate")
    add = doc.find("table", data_gate="AddGate")
    assert int(mul.find("tr", data_mistake="forgot_upstream").find("td", cls="count").text()) == 2  # bob, carol
    assert "bob" in mul.find("tr", data_mistake="forgot_upstream").text()
    assert int(add.find("tr", data_mistake="multiply_rule_in_add").find("td", cls="count").text()) == 1  # dave
    assert "multiply rule in add" in add.text()
    # gina's syntax error is a crash, not a wrong answer: never "no known mistake"
    for table in doc.find_all("table", cls="mistakes"):
        assert "gina" not in table.text()


def test_slowest_and_erroring_submissions(graded):
    doc = dom((graded["out"] / "index.html").read_text())
    slow = doc.find("table", id="slowest-table").find_all("tr")[1:]
    durations = sorted((r["duration"] for r in graded["rows"].values()), reverse=True)
    assert [float(tr.find_all("td")[1].text()) for tr in slow] == [pytest.approx(d, abs=0.006)
                                                                   for d in durations[:len(slow)]]
    errors = doc.find("table", id="errors-table")
    kinds = {tr.find("a").text(): tr.attrs["data-kind"] for tr in errors.find_all("tr")[1:]}
    assert kinds == {"zed": "grader failed", "gina": "submission"}
    assert "RuntimeError: boom" in errors.text() and "SyntaxError" in errors.text()


def test_student_page_puts_feedback_after_the_cell(graded):
    page = graded["out"] / "students" / "carol.html"
    doc = dom(page.read_text())
    assert doc.find(id="student-score").text() == "%g / 15" % graded["rows"]["carol"]["score"]
    order = [n for n in doc.find(id="notebook").iter()
             if "code_cell" in (n.attrs.get("class") or "") or "bpg-feedback" in (n.attrs.get("class") or "")]
    kinds = [("feedback:" + n.attrs["id"]) if n.tag == "section" else
             "cell:" + ("mul" if "class MultiplyGate" in n.text() else "add" if "class AddGate" in n.text()
                        else "other") for n in order]
    assert kinds == ["cell:other", "cell:mul", "feedback:fb-MultiplyGate", "cell:add", "feedback:fb-AddGate",
                     "feedback:fb-graph", "cell:other"]
    fb = doc.find("section", id="fb-MultiplyGate")
    item = fb.find("div", data_item="mul-backward")
    assert item.attrs["data-status"] == "failed"
    assert "forgot the upstream gradient" in item.text()
    assert "expected:" in item.find("pre").text()
    assert results_by_item(graded["rows"]["carol"])["mul-backward"]["output"] in item.find("pre").text()
    assert doc.find("section", id="fb-graph").find("div", data_item="graph-random").find("span", cls="tag")


def test_student_pages_are_static_and_sanitized(graded):
    for page in [graded["out"] / "index.html"] + sorted((graded["out"] / "students").glob("*.html")):
        text = page.read_text()
        doc = dom(text)
        assert not doc.find_all("script") and not doc.find_all("link") and not doc.find_all("iframe"), page
        assert "Content-Security-Policy" in text and "default-src 'none'" in text
        for n in doc.iter():
            assert not any(k.startswith("on") for k in n.attrs), (page, n.tag, n.attrs)
            src = n.attrs.get("src") or ""
            assert not src or src.startswith("data:image/"), (page, src)
    erin = dom((graded["out"] / "students" / "erin.html").read_text())
    assert [b.text() for b in erin.find("div", cls="output_html").find_all("b")] == ["bold"]  # harmless HTML stays
    assert not erin.find_all(id="student-bold")  # ids could clash with the report's own: dropped
    assert "pwned" not in "".join(n.attrs.get("onerror", "") for n in erin.iter())


def test_module_gina_and_weird_ids(graded):
    out = graded["out"]
    files = sorted(p.name for p in (out / "students").glob("*.html"))
    assert len(files) == len(STUDENTS)
    index = (out / "index.html").read_text()
    assert "o&#x27;neil &lt;b&gt;&amp;amp; &quot;x&quot;" in index and "<b>&amp;" not in index
    weird = [f for f in files if f.startswith("o_neil")]
    assert len(weird) == 1 and all(c.isalnum() or c in "._-" for c in weird[0])
    # a module is split at its gate classes; feedback follows each
    bob = dom((out / "students" / "bob.html").read_text())
    assert [s.attrs["id"] for s in bob.find_all("section", cls="bpg-feedback")] == \
        ["fb-MultiplyGate", "fb-AddGate", "fb-graph"]
    # a syntax error: the class regex still finds MultiplyGate; AddGate's feedback is not tied to a cell
    gina = (out / "students" / "gina.html").read_text()
    assert "Feedback not tied to a cell" in gina and "SyntaxError" in gina
    zed = (out / "students" / "zed.html").read_text()
    assert "The grader itself failed" in zed and "RuntimeError: boom" in zed


def test_results_without_diagnoses(graded, tmp_path):
    """A gradebook graded before named mistakes existed: no extra_data.mistake anywhere."""
    gb = tmp_path / "old.sqlite"
    shutil.copyfile(graded["gb"], gb)
    db = sqlite3.connect(str(gb))
    for rid, results in db.execute("SELECT id, results FROM grades").fetchall():
        data = json.loads(results)
        for t in data.get("tests", []):
            t.get("extra_data", {}).pop("mistake", None)
        db.execute("UPDATE grades SET results = ? WHERE id = ?", (json.dumps(data), rid))
    db.commit()
    db.close()
    info = html_report.build(gb, tmp_path / "out", title="Old <class>", stream=io.StringIO())
    doc = dom(info["index"].read_text())
    assert doc.find(id="no-diagnoses")
    assert not doc.find_all("table", cls="mistakes")
    assert doc.find("h1").text() == "Old <class>"
    check_summary(doc, graded["rows"])


def test_report_usage_errors(tmp_path, capsys, graded):
    capsys.readouterr()
    assert cli_module.main(["report", "--gradebook", str(tmp_path / "none.sqlite"), "-o", str(tmp_path)]) == 2
    assert "no such gradebook" in capsys.readouterr().err
    (tmp_path / "afile").write_text("x")
    assert cli_module.main(["report", "--gradebook", str(graded["gb"]), "-o", str(tmp_path / "afile")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_rerun_removes_pages_of_students_no_longer_there(graded, tmp_path):
    out = tmp_path / "out"
    (out / "students").mkdir(parents=True)
    (out / "students" / "ghost.html").write_text("old")
    (out / "students" / "keep.txt").write_text("not ours")
    html_report.build(graded["gb"], out, stream=io.StringIO())
    assert not (out / "students" / "ghost.html").exists()
    assert (out / "students" / "keep.txt").exists()
    assert (out / "students" / "alice.html").exists()


# ------------------------------------------------------------------ in a real browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


def chromium(tmp_path, url, *args):
    profile = tmp_path / ("profile%d" % len(list(tmp_path.glob("profile*"))))
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
           "--user-data-dir=%s" % profile, *args, url]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90,
                          env=dict(os.environ, HOME=str(tmp_path)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@needs_chromium
def test_summary_in_chromium(graded, tmp_path):
    index = graded["out"] / "index.html"
    doc = dom(chromium(tmp_path, index.as_uri(), "--dump-dom"))
    assert doc.find("title").text().startswith("batch-demo")
    check_summary(doc, graded["rows"])
    assert doc.find("svg", id="pass-rates") and doc.find("table", data_gate="MultiplyGate")
    shot = graded["base"] / "index.png"
    chromium(tmp_path, index.as_uri(), "--screenshot=%s" % shot, "--window-size=1200,2600", "--hide-scrollbars")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == 1200 and len(data) > 20000  # drawn, not blank


@needs_chromium
def test_student_page_in_chromium(graded, tmp_path):
    page = graded["out"] / "students" / "erin.html"
    doc = dom(chromium(tmp_path, page.as_uri(), "--dump-dom"))
    assert doc.find("title").text().startswith("erin")  # no student script renamed the page
    assert not doc.find_all("script")
    assert doc.find("section", id="fb-MultiplyGate").find("div", data_item="mul-backward").attrs["data-status"] \
        == "passed"
    assert "bold" in [b.text() for b in doc.find(id="notebook").find_all("b")]
    shot = graded["base"] / "carol.png"
    chromium(tmp_path, (graded["out"] / "students" / "carol.html").as_uri(), "--screenshot=%s" % shot,
             "--window-size=1100,2200", "--hide-scrollbars")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------ the report tells the truth

HELPERS_NB = nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("from helpers import *")]))
EXPORTED = ("#!/usr/bin/env python\n# coding: utf-8\n\n# In[1]:\n\n\nimport math\n\n\n# In[2]:\n\n\n" + GOOD
            + "\n\n# In[3]:\n\n\nprint('from the exported notebook')\n")
LONG = ("the grading sandbox does not allow writing outside the submission folder; this attempt to write to "
        "the shared results folder was refused ") * 3
TRUTH = {
    "alice.py": GOOD,
    "bob.py": FORGOT_DZ,                                   # a wrong answer, no error
    "frank.py": EXPORTED,                                  # a notebook exported as a script
    "hana/gates.ipynb": HELPERS_NB, "hana/helpers.py": GOOD,  # the gates live in the module beside it
    "ivy.py": GOOD.replace("return x * y", "raise PermissionError(%r)" % LONG),
    "gina.py": SYNTAX_ERROR,
}


@pytest.fixture(scope="module")
def truth(tmp_path_factory):
    base = tmp_path_factory.mktemp("truth")
    for name, text in TRUTH.items():
        (base / "subs" / name).parent.mkdir(parents=True, exist_ok=True)
        (base / "subs" / name).write_text(text)
    secret = base / "course.secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    gb = base / "grades.sqlite"
    rep = batch.run([str(base / "subs")], rubric=str(SHORT), gradebook=str(gb), jobs=2, progress="none",
                    secret=str(secret), stream=io.StringIO())
    assert rep.exit_code == 0, rep.text
    db = sqlite3.connect(str(gb))
    (bob_id, results), = db.execute("SELECT id, results FROM grades WHERE student = 'bob'").fetchall()
    data = json.loads(results)
    for t in data["tests"]:  # bob: also a failed MultiplyGate check that no known mistake explains
        if t["extra_data"]["id"] == "mul-forward":
            t["status"], t["score"] = "failed", 0
            t["extra_data"].update(kind="wrong_answer", mistake=None, check="backward", problem=None)
    data["extra_data"]["output_dropped"] = 52_000_000  # as the sandbox records a flood
    db.execute("UPDATE grades SET results = ? WHERE id = ?", (json.dumps(data), bob_id))
    db.execute("INSERT INTO penalties VALUES (?, 'bob', '2026-10-01T23:59:00-04:00', '2026-10-02T10:00:00-04:00', "
               "36060, 1, 10, 0.8, '10h1m late: 1 day started, -10%', '2026-10-03T00:00:00+00:00')", (bob_id,))
    db.execute("INSERT OR REPLACE INTO meta VALUES ('late', '{\"per\": \"day\"}')")
    db.commit()
    db.close()
    out = base / "report"
    html_report.build(gb, out, stream=io.StringIO())
    return {"base": base, "out": out, "index": dom((out / "index.html").read_text()), "rows": latest_rows(gb)}


def test_errors_apart_from_wrong_answers(truth):
    doc = truth["index"]
    errors = {tr.find("a").text(): tr for tr in doc.find("table", id="errors-table").find_all("tr")[1:]}
    assert sorted(errors) == ["gina", "ivy"]  # bob's wrong answers are not errors
    assert errors["ivy"].attrs["data-outcomes"] == "exception"
    assert errors["gina"].attrs["data-outcomes"] == "missing_class"
    wrong = [tr.attrs["data-student"] for tr in doc.find("table", id="wrong-table").find_all("tr")[1:]]
    assert wrong == ["bob"]


def test_messages_are_never_cut_mid_word(truth):
    cell = truth["index"].find("table", id="errors-table").find("td", cls="msg")
    for td in truth["index"].find("table", id="errors-table").find_all("td", cls="msg"):
        if "PermissionError" in td.text():
            cell = td
    shown = cell.text()
    assert shown.endswith("…") and len(shown) <= 301
    assert cell.attrs["title"].startswith(shown[:-1])  # the whole message is in the title
    words = set(cell.attrs["title"].split())
    assert shown[:-1].split()[-1] in words  # the last word shown is a whole word
    assert sanitize.shorten("PermissionError: the sandbox", 18) == "PermissionError…"
    assert sanitize.shorten("short", 18) == "short"


def test_each_student_once_per_mistakes_table(truth):
    rows = truth["index"].find("table", data_gate="MultiplyGate").find_all("tr")[1:]
    counts = {tr.attrs["data-mistake"]: int(tr.find("td", cls="count").text()) for tr in rows}
    assert counts == {"forgot_upstream": 1}  # bob, once, under his named mistake
    assert "bob" not in "".join(tr.text() for tr in rows if tr.attrs["data-mistake"] == "")
    failing = truth["index"].find("table", data_gate="MultiplyGate").parent.parent
    assert "1 student failed a diagnosable MultiplyGate check" in failing.text()


def test_every_table_scrolls_sideways(truth):
    for page in [truth["out"] / "index.html", truth["out"] / "students" / "bob.html"]:
        doc = dom(page.read_text())
        tables = doc.find_all("table")
        assert tables
        for t in tables:
            assert "scroll" in (t.parent.attrs.get("class") or "").split(), page
    assert ".scroll { overflow-x: auto;" in (truth["out"] / "index.html").read_text()


def test_every_graded_file_is_shown_as_code(truth):
    frank = dom((truth["out"] / "students" / "frank.html").read_text())
    cells = [n.text() for n in frank.find(id="notebook").iter() if "code_cell" in (n.attrs.get("class") or "")]
    assert any("class MultiplyGate" in c for c in cells) and any("from the exported notebook" in c for c in cells)
    assert frank.find("section", id="fb-MultiplyGate")
    hana = dom((truth["out"] / "students" / "hana.html").read_text())
    assert "from helpers import" in hana.find(id="notebook").text()
    other = hana.find("section", data_file="helpers.py")
    assert "class MultiplyGate" in other.find("pre").text()


def test_late_penalty_and_flood_are_shown(truth):
    bob = truth["index"].find("table", id="students-table").find("tr", data_student="bob")
    assert bob.find("td", cls="score").text() == "7.2 / 15"
    assert bob.find("td", cls="raw").text() == "8" and bob.find("td", cls="penalty").text() == "-0.8"
    flood = truth["index"].find("table", id="floods-table").find("tr", data_student="bob")
    assert flood.attrs["data-bytes"] == "52000000" and "49.6 MB" in flood.text()
    page = dom((truth["out"] / "students" / "bob.html").read_text())
    assert "49.6 MB" in page.find(id="flood-note").text()
    assert "raw score 8 / 15" in page.find(id="late-note").text()


@needs_chromium
@pytest.mark.parametrize("width", [1400, 390])
def test_the_report_at_desktop_and_phone_widths(truth, tmp_path, width):
    index = truth["out"] / "index.html"
    doc = dom(chromium(tmp_path, index.as_uri(), "--dump-dom", "--window-size=%d,2000" % width))
    assert doc.find("table", id="errors-table") and doc.find("table", id="wrong-table")
    shot = truth["base"] / ("index-%d.png" % width)
    chromium(tmp_path, index.as_uri(), "--screenshot=%s" % shot, "--window-size=%d,2000" % width, "--hide-scrollbars")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(data[16:20], "big") == width
