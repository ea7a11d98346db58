"""grader/report/formats.py, report/emit.py and `bpgrade grade|check --format|--junit|--fail-under`.

JUnit: no package on PyPI ships the usual JUnit XSD (Jenkins xUnit's junit-10.xsd), so
SCHEMA below encodes that schema's elements, attributes, child order and types, and every
document is checked against it. Markdown is rendered with mistune (nbconvert's Markdown
library) when it is installed. Hidden items must never show beyond a count.
"""
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from backprop_grader import cli, load
from backprop_grader.report import emit, formats, results as report
from backprop_grader.judge import rubric, score

DATA = Path(__file__).parent / "data"
SEED = 1
_script = Path(sys.executable).with_name("bpgrade")
BPGRADE = [str(_script)] if _script.exists() else [sys.executable, "-m", "backprop_grader"]

NASTY = '''\
print("```\\n</details>\\n| pipe | <script>alert(1)</script> \\x1b[31mred\\x00 ]]>")


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        raise ValueError("bad \\x1b[31m\\x00\\x07 <&> ]]> ```` | *x* </details>")


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
'''


@pytest.fixture(scope="module")
def hidden_rubric(tmp_path_factory):
    """The default rubric with two more hidden items: mul-numerical (after_due_date) and
    add-state. forgot_dz.py fails graph-random and mul-numerical, and passes add-state."""
    data = yaml.safe_load(rubric.find("gates").read_text())
    for check in data["checks"]:
        if check["id"] == "mul-numerical":
            check["visibility"] = "after_due_date"
        if check["id"] == "add-state":
            check["visibility"] = "hidden"
    for gate in data["gates"].values():
        assert ":" in gate["reference"] and not gate["reference"].split(":")[0].endswith(".py")
    path = tmp_path_factory.mktemp("rubric") / "three_hidden.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return rubric.load(path)


@pytest.fixture(scope="module")
def graded(hidden_rubric, tmp_path_factory):
    """One grading per submission, shared by every test here."""
    nasty = tmp_path_factory.mktemp("nasty") / "nasty.py"
    nasty.write_text(NASTY)
    gates = rubric.load(rubric.find("gates"))
    out = {}
    for name, path, rub in [("good", DATA / "good.py", gates),
                            ("forgot_dz", DATA / "forgot_dz.py", gates),
                            ("hidden3", DATA / "forgot_dz.py", hidden_rubric),
                            ("nasty", nasty, gates)]:
        out[name] = score.grade(load.load(path, list(rub.gates)), rub, seed=SEED)
    return out


def split(result):
    data = report.gradescope(result)
    return data, [t for t in data["tests"] if t["visibility"] == "visible"], \
        [t for t in data["tests"] if t["visibility"] != "visible"]


def hidden_secrets(result):
    """Strings that would give away a hidden item: its name, its id, its failing input."""
    _, shown, hidden = split(result)
    found = []
    for t in hidden:
        found += [t["name"], t["extra_data"]["id"]]
        found += [line for line in t["output"].splitlines() if line.startswith("input:")]
    shown_text = "\n".join(t["name"] + "\n" + t["output"] for t in shown)
    assert found and not any(s in shown_text for s in found)  # else the test proves nothing
    return found


# ---------------------------------------------------------------- JUnit

INT, DEC, STR = "int", "decimal", "string"
# junit-10.xsd (Jenkins xUnit plugin): attributes (required ones marked with *),
# and the children allowed, in order, with their counts.
SCHEMA = {
    "testsuites": ({"name": STR, "time": DEC, "tests": INT, "failures": INT, "disabled": INT,
                    "errors": INT}, [("testsuite", 0, None)]),
    "testsuite": ({"name*": STR, "tests*": INT, "failures": INT, "errors": INT, "time": DEC,
                   "disabled": INT, "skipped": INT, "timestamp": STR, "hostname": STR, "id": STR,
                   "package": STR, "file": STR, "log": STR, "url": STR, "version": STR},
                  [("properties", 0, 1), ("testcase", 0, None), ("system-out", 0, 1),
                   ("system-err", 0, 1)]),
    "properties": ({}, [("property", 1, None)]),
    "property": ({"name*": STR, "value*": STR}, []),
    "testcase": ({"name*": STR, "assertions": STR, "time": DEC, "classname": STR, "status": STR},
                 [("skipped", 0, 1), ("error", 0, None), ("failure", 0, None),
                  ("system-out", 0, None), ("system-err", 0, None)]),
    "failure": ({"message": STR, "type": STR}, []),
    "error": ({"message": STR, "type": STR}, []),
    "skipped": ({"message": STR}, []),
    "system-out": ({}, []),
    "system-err": ({}, []),
}


def validate(el):
    """Check `el` and its subtree against SCHEMA; raise AssertionError naming the problem."""
    assert el.tag in SCHEMA, "unexpected element <%s>" % el.tag
    attrs, children = SCHEMA[el.tag]
    allowed = {k.rstrip("*"): v for k, v in attrs.items()}
    for key in (k[:-1] for k in attrs if k.endswith("*")):
        assert key in el.attrib, "<%s> lacks required attribute %s" % (el.tag, key)
    for key, value in el.attrib.items():
        assert key in allowed, "<%s> has unknown attribute %s" % (el.tag, key)
        if allowed[key] == INT:
            assert re.fullmatch(r"\d+", value), (el.tag, key, value)
        if allowed[key] == DEC:
            assert re.fullmatch(r"\d+(\.\d+)?", value), (el.tag, key, value)
    tags = [c.tag for c in el]
    order = [name for name, _, _ in children]
    assert all(t in order for t in tags), "<%s> holds %s" % (el.tag, tags)
    assert [order.index(t) for t in tags] == sorted(order.index(t) for t in tags), (el.tag, tags)
    for name, low, high in children:
        n = tags.count(name)
        assert n >= low and (high is None or n <= high), (el.tag, name, n)
    if children and el.tag != "testcase":
        assert not (el.text or "").strip(), "<%s> holds text" % el.tag
    for child in el:
        validate(child)


def parse_junit(result):
    text = formats.junit(result)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(text.encode("utf-8"))
    validate(root)
    return text, root


@pytest.mark.parametrize("name", ["good", "forgot_dz", "hidden3", "nasty"])
def test_junit_is_valid_and_counts_match(graded, name):
    result = graded[name]
    text, root = parse_junit(result)
    data, shown, hidden = split(result)
    suites = root.findall("testsuite")
    assert len(suites) == 1
    suite = suites[0]
    cases = suite.findall("testcase")
    # one testcase per visible item, plus one for all the hidden ones
    assert len(cases) == len(shown) + (1 if hidden else 0)
    failed = [c for c in cases if c.find("failure") is not None]
    expect_failed = sum(t["status"] == "failed" for t in shown) + any(
        t["status"] == "failed" for t in hidden)
    assert len(failed) == expect_failed
    for el in (root, suite):
        assert int(el.get("tests")) == len(cases)
        assert int(el.get("failures")) == len(failed)
        assert int(el.get("errors")) == 0
        assert float(el.get("time")) == pytest.approx(data["execution_time"], abs=1e-3)
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["seed"] == str(SEED)
    assert props["hidden_checks"] == str(len(hidden))
    assert props["hidden_passed"] == str(sum(t["status"] == "passed" for t in hidden))
    assert float(props["score"]) == sum(t["score"] for t in shown)
    assert float(props["max_score"]) == sum(t["max_score"] for t in shown)


def test_junit_all_pass_for_a_correct_submission(graded):
    _, root = parse_junit(graded["good"])
    cases = root.findall("testsuite/testcase")
    assert len(cases) == 12  # 11 visible items and the hidden summary
    assert root.find(".//failure") is None and root.get("failures") == "0"
    assert cases[-1].get("name") == "Hidden checks (1)"


def test_junit_failure_carries_the_feedback(graded):
    result = graded["forgot_dz"]
    _, root = parse_junit(result)
    _, shown, _ = split(result)
    cases = root.findall("testsuite/testcase")
    for t, case in zip(shown, cases):
        assert case.get("name") == t["name"]
        assert case.get("classname") == "backprop-gates." + t["tags"][0]
        failure = case.find("failure")
        if t["status"] == "passed":
            assert failure is None
            continue
        assert failure.get("message") == t["output"]  # newlines survive the attribute
        assert t["output"] in failure.text
        assert failure.text.startswith("0 / %g points\n" % t["max_score"])
        mistake = t["extra_data"].get("mistake")
        assert failure.get("type") == (mistake or t["extra_data"]["check"])
    backward = next(c for c in cases if c.get("name").startswith("MultiplyGate.backward"))
    assert "expected:" in backward.find("failure").get("message")


def test_junit_hidden_items_only_as_a_count(graded):
    result = graded["hidden3"]  # graph-random and mul-numerical fail, add-state passes
    text, root = parse_junit(result)
    for secret in hidden_secrets(result):
        assert secret not in text
    summary = root.findall("testsuite/testcase")[-1]
    assert summary.get("name") == "Hidden checks (3)"
    assert summary.find("failure").get("message") == "2 of 3 hidden checks failed"
    assert len(root.findall("testsuite/testcase")) == 10  # 9 visible + 1


def test_junit_escapes_student_text(graded):
    text, root = parse_junit(graded["nasty"])
    assert "\x00" not in text and "\x1b" not in text and "\x07" not in text
    messages = [f.get("message") for f in root.iter("failure")]
    assert any("bad \\x1b[31m\\x00\\x07 <&> ]]> ```` | *x* </details>" in m for m in messages)
    out = root.find("testsuite/system-out").text
    assert "<script>alert(1)</script> \\x1b[31mred\\x00 ]]>" in out


def test_junit_without_hidden_items_has_no_summary_case(graded, tmp_path):
    data = yaml.safe_load(rubric.find("gates").read_text())
    data["checks"] = [c for c in data["checks"] if c.get("visibility", "visible") == "visible"]
    path = tmp_path / "visible.yaml"
    path.write_text(yaml.safe_dump(data))
    rub = rubric.load(path)
    # reuse a graded result with another rubric object: only visibility matters here
    result = graded["good"]
    result = score.Result(result.loaded, rub, result.seed,
                          [r for r in result.items if not r.item.hidden], elapsed=0.5)
    _, root = parse_junit(result)
    assert [c.get("name") for c in root.iter("testcase")] == [i.name for i in rub.items]


# ---------------------------------------------------------------- Markdown

def table_rows(md):
    lines = md.splitlines()
    start = lines.index("| | Check | Points |")
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    cells = [re.split(r"(?<!\\)\|", row)[1:-1] for row in rows]
    assert all(len(c) == 3 for c in cells), rows  # no cell spilled over
    return rows


@pytest.mark.parametrize("name", ["good", "forgot_dz", "hidden3", "nasty"])
def test_markdown_table(graded, name):
    result = graded[name]
    md = formats.markdown(result)
    _, shown, hidden = split(result)
    rows = table_rows(md)
    # header, delimiter, one per visible item, one for the hidden ones, the total
    assert len(rows) == 2 + len(shown) + (1 if hidden else 0) + 1
    visible = sum(t["score"] for t in shown), sum(t["max_score"] for t in shown)
    assert rows[-1] == "| | **Score on visible checks** | **%g / %g** |" % visible
    assert md.splitlines()[0].endswith(": %g / %g" % visible)
    failed = [t for t in shown if t["status"] == "failed"]
    assert md.count("<details><summary>❌") == len(failed)
    for t in failed:
        assert t["output"].replace("\x1b", "\\x1b").replace("\x00", "\\x00").replace(
            "\x07", "\\x07") in md


def test_markdown_hidden_items_only_as_a_count(graded):
    result = graded["hidden3"]
    md = formats.markdown(result)
    for secret in hidden_secrets(result):
        assert secret not in md
    assert "| ❌ | Hidden checks: 1 of 3 passed | |" in md
    assert "hidden checks: 1 of 3 passed" in md.splitlines()[2]


def render(md):
    mistune = pytest.importorskip("mistune")
    return mistune.create_markdown(escape=False, plugins=["table"])(md)


@pytest.mark.parametrize("name", ["forgot_dz", "nasty"])
def test_markdown_renders(graded, name):
    result = graded[name]
    html = render(formats.markdown(result))
    _, shown, hidden = split(result)
    assert html.count("<table>") == 1
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    assert body.count("<tr>") == len(shown) + 1 + 1
    failed = sum(t["status"] == "failed" for t in shown)
    extra = 1 if result.output.strip() else 0  # the student's printing, folded away
    assert html.count("<details>") == failed + extra
    assert html.count("<pre><code") == failed + extra
    assert "<script>" not in html  # student text never becomes markup
    assert "<strong>Score on visible checks</strong>" in html


def test_markdown_student_text_stays_in_its_code_block(graded):
    html = render(formats.markdown(graded["nasty"]))
    blocks = re.findall(r"<pre><code[^>]*>(.*?)</code></pre>", html, re.S)
    assert any("&lt;script&gt;alert(1)&lt;/script&gt;" in b and "```" in b for b in blocks)
    assert any("bad \\x1b[31m\\x00\\x07 &lt;&amp;&gt; ]]&gt; ```` | *x* &lt;/details&gt;" in b
               for b in blocks)
    # names with Markdown punctuation render as written
    assert "f = (x + y) * z at the slide" in html


def test_markdown_cell_escaping():
    assert formats.md_cell("a | b\n*c* <d>") == "a \\| b \\*c\\* \\<d\\>"
    assert formats.fenced("x ```` y").startswith("`````text\n")


def test_step_summary_is_appended(tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    assert emit.append_step_summary("table", {"GITHUB_STEP_SUMMARY": str(summary)}) == str(summary)
    assert summary.read_text() == "earlier step\ntable\n"
    assert emit.append_step_summary("table", {}) is None


# ---------------------------------------------------------------- JSON

def test_json_from_grade_is_results_json(graded):
    result = graded["hidden3"]
    data = json.loads(formats.render(result, "json", student=False))
    assert data == json.loads(json.dumps(report.gradescope(result)))
    assert len(data["tests"]) == 12 and data["max_score"] == 100


def test_json_from_check_hides_hidden_items(graded):
    result = graded["hidden3"]
    text = formats.render(result, "json", student=True)
    data = json.loads(text)
    for secret in hidden_secrets(result):
        assert secret not in text
    assert all(t["visibility"] == "visible" for t in data["tests"])
    assert len(data["tests"]) == 9
    visible = [r for r in result.items if not r.item.hidden]
    assert data["score"] == sum(t["score"] for t in data["tests"]) == sum(r.score for r in visible)
    assert data["max_score"] == sum(t["max_score"] for t in data["tests"]) == 100 - 20
    assert data["extra_data"]["hidden"] == {"checks": 3, "passed": 1}
    for t in data["tests"]:
        assert {"name", "number", "score", "max_score", "status", "output"} <= set(t)


def test_text_format_is_the_student_view(graded):
    result = graded["hidden3"]
    assert formats.render(result, "text", student=False) == report.text(result)


# ---------------------------------------------------------------- --fail-under

@pytest.mark.parametrize("text, value, percent", [("80", 80, False), ("72.5", 72.5, False),
                                                  ("80%", 80, True), (" 100% ", 100, True),
                                                  ("0", 0, False)])
def test_threshold_parses(text, value, percent):
    t = emit.threshold(text)
    assert (t.value, t.percent) == (value, percent)


@pytest.mark.parametrize("text", ["abc", "-1", "101%", "nan", "inf", "%", "80%%", ""])
def test_threshold_rejects(text):
    with pytest.raises(ValueError):
        emit.threshold(text)


def test_fail_under_points_and_percent(graded):
    result = graded["hidden3"]
    t = emit.threshold
    total = sum(r.score for r in result.items)
    visible = sum(r.score for r in result.items if not r.item.hidden)
    assert emit.scored(result, student=False) == (total, 100)
    assert emit.scored(result, student=True) == (visible, 80)
    assert 0 < visible < total < 100  # a hidden item passed, so the two scores differ
    for student, got, maximum in [(False, total, 100), (True, visible, 80)]:
        assert emit.meets(t("%g" % got), result, student)
        assert not emit.meets(t("%g" % (got + 0.5)), result, student)
        pct = 100.0 * got / maximum
        assert emit.meets(t("%g%%" % pct), result, student)
        assert not emit.meets(t("%g%%" % (pct + 0.01)), result, student)
    assert emit.check_threshold(t("100"), result, student=False) is None
    assert "more than the 80 points" in emit.check_threshold(t("81"), result, student=True)
    result = graded["forgot_dz"]
    assert "more than the 90 points" in emit.check_threshold(t("95"), result, student=True)
    assert emit.meets(t("100%"), graded["good"], student=True)


# ---------------------------------------------------------------- the CLI

def main(capsys, *args):
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_fail_under_exit_1(capsys, graded):
    got, _ = emit.scored(graded["forgot_dz"], student=True)  # the same grading, seed 1
    assert 0 < got < 90
    code, out, err = main(capsys, "check", DATA / "forgot_dz.py", "--seed", SEED,
                          "--fail-under", "100%")
    assert code == 1
    assert "Score on visible checks: %g / 90" % got in out  # the report is still written
    assert "bpgrade: score %g / 90 is under --fail-under 100%%" % got in err
    code, out, err = main(capsys, "check", DATA / "forgot_dz.py", "--seed", SEED,
                          "--fail-under", "%g" % got)
    assert code == 0 and "fail-under" not in err


def test_cli_fail_under_above_maximum_is_a_usage_error(capsys, tmp_path):
    out_file = tmp_path / "r.json"
    code, out, err = main(capsys, "grade", DATA / "good.py", "--seed", SEED,
                          "--fail-under", "101", "--results", out_file)
    assert code == 2 and out == "" and not out_file.exists()
    assert "--fail-under 101 is more than the 100 points available" in err


@pytest.mark.parametrize("args", [["--fail-under", "lots"], ["--fail-under", "120%"],
                                  ["--format", "xml"]])
def test_cli_bad_options_exit_2(capsys, args):
    with pytest.raises(SystemExit) as exc:
        cli.main(["grade", str(DATA / "good.py")] + args)
    out, err = capsys.readouterr()
    assert exc.value.code == 2 and out == ""
    assert "usage:" in err and ("--fail-under" in err or "--format" in err)


def test_cli_markdown_and_junit_from_one_grading(tmp_path):
    """The installed command, as the workflow runs it: Markdown to stdout and the step
    summary, JUnit to a file, a passing --fail-under."""
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    env = dict(os.environ, GITHUB_STEP_SUMMARY=str(summary))
    proc = subprocess.run(BPGRADE + ["check", str(DATA / "good.py"), "--format", "markdown",
                                     "--junit", str(tmp_path / "out" / "junit.xml"),
                                     "--fail-under", "90"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert summary.read_text() == "# earlier step\n" + proc.stdout
    assert "| | **Score on visible checks** | **90 / 90** |" in proc.stdout
    root = ET.parse(tmp_path / "out" / "junit.xml").getroot()
    validate(root)
    seed = re.search(r"seed (\d+)", proc.stdout).group(1)
    assert {p.get("name"): p.get("value") for p in root.iter("property")}["seed"] == seed


def test_cli_check_json_and_output_file(capsys, tmp_path, graded):
    got, _ = emit.scored(graded["forgot_dz"], student=True)
    target = tmp_path / "check.json"
    code, out, err = main(capsys, "check", DATA / "forgot_dz.py", "--seed", SEED,
                          "--format", "json", "-o", target)
    assert code == 0 and out == ""
    data = json.loads(target.read_text())
    assert [t["extra_data"]["id"] for t in data["tests"] if t["extra_data"]["id"] == "graph-random"] == []
    assert data["max_score"] == 90 and data["extra_data"]["hidden"] == {"checks": 1, "passed": 0}
    assert "forgot_dz.py: %g / 90 -> %s" % (got, target) in err


def test_cli_markdown_without_summary_variable(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.chdir(tmp_path)
    code, out, _ = main(capsys, "grade", DATA / "good.py", "--seed", SEED, "--format", "markdown")
    assert code == 0 and out.startswith("### ✅ ")
    assert list(tmp_path.iterdir()) == []


def test_the_options_and_writing_keep_their_names_in_formats():
    """cli.py and kit/notebook.py still call them through formats."""
    for name in formats.MOVED:
        assert getattr(formats, name) is getattr(emit, name)
    with pytest.raises(AttributeError):
        formats.no_such_name  # noqa: B018
