"""grader/report/results.py: gradescope() follows shared/notes/results-json.md, text()
shows visible items in full and hidden ones only as a count."""
import json
import re
from pathlib import Path

import pytest

from backprop_grader import load
from backprop_grader.report import results as report
from backprop_grader.judge import rubric, score

DATA = Path(__file__).parent / "data"
GOOD = (DATA / "good.py").read_text()
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
FORMATS = {"text", "html", "simple_format", "md", "ansi"}
ONE_MB = 1_000_000


@pytest.fixture(scope="module")
def rub():
    return rubric.load(rubric.find("gates"))


def grade(rub, path, seed=1):
    return score.grade(load.load(path, list(rub.gates)), rub, seed=seed)


@pytest.fixture(scope="module")
def graded(rub, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    loud = tmp / "loud.py"
    loud.write_text("import sys\nsys.stdout.write('x' * 10_000_000 + '\\n')\n"
                    "sys.stderr.write('e' * 1_000_000)\nprint('LAST LINE')\n" + GOOD)
    chatty = tmp / "chatty.py"  # prints during every call, not only while loading
    chatty.write_text(GOOD.replace("        return x * y\n",
                                   "        print('y' * 10_000)\n        return x * y\n"))
    binary = tmp / "binary.py"
    binary.write_bytes(b"\x00\x01\x02")
    out = {}
    for name, path in [("good", DATA / "good.py"), ("forgot_dz", DATA / "forgot_dz.py"),
                       ("loud", loud), ("chatty", chatty), ("binary", binary),
                       ("syntax_error", DATA / "syntax_error.py")]:
        result = grade(rub, path)
        out[name] = (result, report.gradescope(result), report.text(result))
    return out


NAMES = ["good", "forgot_dz", "loud", "chatty", "binary", "syntax_error"]


def is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


@pytest.mark.parametrize("name", NAMES)
def test_results_json_fields_and_types(graded, name):
    result, data, _ = graded[name]
    text = json.dumps(data, allow_nan=False)  # plain JSON: no NaN, no NumPy scalars
    assert json.loads(text) == data
    assert is_number(data["score"]) and is_number(data["max_score"])
    assert is_number(data["execution_time"]) and data["execution_time"] >= 0
    assert isinstance(data["output"], str)
    assert data["output_format"] in FORMATS
    assert data["visibility"] in VISIBILITY
    assert data.get("stdout_visibility", "visible") in VISIBILITY
    assert isinstance(data["extra_data"], dict)
    assert isinstance(data["tests"], list) and len(data["tests"]) == len(result.rubric.items)
    for t in data["tests"]:
        assert isinstance(t["name"], str) and t["name"]
        assert isinstance(t["number"], str) and re.fullmatch(r"\d+\.\d+", t["number"])
        assert is_number(t["score"]) and is_number(t["max_score"])
        assert 0 <= t["score"] <= t["max_score"]
        assert t["status"] in ("passed", "failed")
        assert isinstance(t["output"], str)
        assert t.get("output_format", "text") in FORMATS
        assert isinstance(t["tags"], list) and all(isinstance(s, str) for s in t["tags"])
        assert t["visibility"] in VISIBILITY
        assert isinstance(t.get("extra_data", {}), dict)
    assert "\r" not in text


@pytest.mark.parametrize("name", NAMES)
def test_scores_add_up_and_status_matches(graded, name):
    result, data, _ = graded[name]
    assert data["score"] == sum(t["score"] for t in data["tests"]) == result.score
    assert data["max_score"] == sum(t["max_score"] for t in data["tests"]) == 100
    for t, r in zip(data["tests"], result.items):
        assert t["status"] == ("passed" if t["score"] == t["max_score"] else "failed")
        assert t["status"] == ("passed" if r.outcome.passed else "failed")
        assert t["score"] in (0, t["max_score"])  # all or nothing


def test_numbers_are_unique_and_grouped(graded):
    _, data, _ = graded["good"]
    numbers = [t["number"] for t in data["tests"]]
    assert len(set(numbers)) == len(numbers)
    assert numbers == ["1.1", "1.2", "1.3", "1.4", "1.5", "2.1", "2.2", "2.3", "2.4", "2.5",
                       "3.1", "3.2"]


def test_tags_name_the_gate_or_graph(graded):
    result, data, _ = graded["good"]
    for t, r in zip(data["tests"], result.items):
        if r.item.check == "graph":
            assert t["tags"] == ["graph"]
        else:
            assert t["tags"] == [r.item.gate]
    assert {tuple(t["tags"]) for t in data["tests"]} == {("MultiplyGate",), ("AddGate",), ("graph",)}


def test_visibility_follows_the_rubric(graded):
    result, data, _ = graded["good"]
    assert {t["extra_data"]["id"]: t["visibility"] for t in data["tests"]} == {
        r.item.id: r.item.visibility for r in result.items}
    assert [t["extra_data"]["id"] for t in data["tests"] if t["visibility"] == "hidden"] == [
        "graph-random"]


def test_extra_data_records_seed_and_rubric(graded, rub):
    _, data, _ = graded["good"]
    extra = data["extra_data"]
    assert extra["seed"] == 1
    assert extra["rubric"] == "gates.yaml" and extra["rubric_sha256"] == rub.sha256
    assert extra["submission"] == "good.py"
    assert isinstance(extra["isolation"], dict) and "tier" in extra["isolation"]


def test_correct_submission(graded):
    result, data, text = graded["good"]
    assert data["score"] == 100
    assert all(t["status"] == "passed" for t in data["tests"])
    assert all(re.fullmatch(r"passed (\d+) of \1 trials", t["output"]) for t in data["tests"])
    assert "Score on visible checks: 90 / 90" in text
    assert "Hidden checks: 1 of 1 passed" in text


def test_failing_items_show_input_expected_received_hint(graded):
    result, data, text = graded["forgot_dz"]
    by_id = {t["extra_data"]["id"]: t for t in data["tests"]}
    failed = sorted(i for i, t in by_id.items() if t["status"] == "failed")
    # graph-slide passes: its upstream gradient is 1, where forgetting dz does not show.
    # mul-state passes: state is judged against the student's own gate on fresh instances
    assert failed == ["graph-random", "mul-backward", "mul-numerical"]
    out = by_id["mul-backward"]["output"]
    lines = out.splitlines()
    assert re.fullmatch(r"failed \d+ of \d+ trials", lines[0])
    for label in ("input:", "expected:", "received:", "hint:"):
        assert any(line.startswith(label) for line in lines), (label, out)
    # The example shown is a real failure: received = [y, x], expected = [y*dz, x*dz].
    values = dict(re.findall(r"(\w+) = (-?[\d.e+-]+)", out))
    x, y, dz = float(values["x"]), float(values["y"]), float(values["dz"])
    received = re.search(r"received: dx = (\S+), dy = (\S+)", out)
    expected = re.search(r"expected: dx = (\S+), dy = (\S+)", out)
    assert float(received.group(1)) == pytest.approx(y, rel=1e-5)
    assert float(expected.group(1)) == pytest.approx(y * dz, rel=1e-5)
    assert float(expected.group(2)) == pytest.approx(x * dz, rel=1e-5)
    hint = next(i.hint for i in result.rubric.items if i.id == "mul-backward")
    assert "hint:     " + hint in out  # the rubric's hint for this item
    assert "mistake:  It looks like the upstream gradient was not multiplied in." in out
    assert by_id["mul-backward"]["extra_data"]["mistake"] == "forgot_upstream"
    assert "note:" in by_id["mul-numerical"]["output"]
    # the same details in the student's text view
    assert "received: dx =" in text and hint in text


def test_text_hides_hidden_items(graded, rub):
    result, _, text = graded["forgot_dz"]
    hidden = [r for r in result.items if r.item.hidden]
    assert [r.item.id for r in hidden] == ["graph-random"]
    assert hidden[0].item.name not in text
    assert "graph-random" not in text
    assert "Hidden checks: 0 of 1 passed" in text
    shown = {r.item.name for r in result.items if not r.item.hidden}
    assert all(name in text for name in shown)
    assert "Score on visible checks: 56 / 90" in text  # lost mul-backward and mul-numerical
    f = hidden[0].outcome.example()
    for v in list(f.inputs.values()) + list(f.expected.values()) + list(f.received.values()):
        assert report.fmt(v) not in text


def test_problem_submission_reports_the_reason_everywhere(graded):
    result, data, text = graded["binary"]
    assert data["score"] == 0
    assert all(t["status"] == "failed" and "binary file" in t["output"] for t in data["tests"])
    assert "binary file" in text


def test_load_warning_is_in_the_summary(graded):
    _, data, text = graded["syntax_error"]
    assert "SyntaxError" in data["output"] and "while loading" in data["output"]
    assert "SyntaxError" in text
    assert any("MultiplyGate is not defined" in t["output"] for t in data["tests"])


def test_ten_megabytes_of_printing_stays_under_one_megabyte(graded):
    result, data, text = graded["loud"]
    assert data["score"] == 100
    assert len(json.dumps(data, indent=2).encode()) < ONE_MB
    assert len(text.encode()) < ONE_MB
    assert "Output from your code while loading" in data["output"]
    assert "xxxx" in data["output"]


def test_cut_output_says_it_was_cut(graded):
    """Students should see that their output was shortened, not a silent cut."""
    _, data, text = graded["loud"]
    assert re.search(r"more (bytes|characters)|not shown|truncated", data["output"]), \
        data["output"][-300:]
    assert re.search(r"more (bytes|characters)|not shown|truncated", text), text[-300:]


def test_printing_during_checks_is_not_reported(graded):
    result, data, text = graded["chatty"]
    assert data["score"] == 100
    assert "yyyy" not in data["output"] and "yyyy" not in text
    assert len(json.dumps(data).encode()) < ONE_MB


def test_correct_gates_pass_the_numerical_checks_at_any_seed(rub):
    """A correct submission must get full marks whatever the seed (here: the
    finite-difference items, whose special cases include mixed magnitudes)."""
    import dataclasses
    small = dataclasses.replace(rub, items=[i for i in rub.items if i.check == "numerical"])
    loaded = load.load(DATA / "good.py", list(rub.gates))
    lost = {}
    for seed in (0, 2, 3):  # seeds where mixed magnitudes once failed a correct AddGate
        result = score.grade(loaded, small, seed=seed)
        for r in result.items:
            if not r.outcome.passed:
                lost.setdefault(r.item.id, []).append(seed)
    assert lost == {}


def test_fmt_numbers_and_arrays():
    import numpy as np
    assert report.fmt(-1.05) == "-1.05"
    assert report.fmt(np.float64(3.0)) == "3"
    assert report.fmt(1234567.0) == "1.23457e+06"
    assert report.fmt(np.array([1.0, -2.5])) == "[ 1. , -2.5]"
    assert "\n" not in report.fmt(np.arange(400.0).reshape(20, 20))


def test_reports_of_an_item_that_failed_without_an_example(rub):
    """An outcome that failed with no failing trial and no error (e.g. no trials
    ran) must still be reported, not crash the report."""
    from backprop_grader.judge.checks import Outcome
    loaded = load.load(DATA / "good.py", list(rub.gates))
    result = score.Result(loaded, rub, seed=0)
    result.items = [score.ItemResult(i, Outcome(trials=0)) for i in rub.items]
    data = report.gradescope(result)
    text = report.text(result)
    assert data["score"] == 0
    assert all(t["status"] == "failed" and t["output"] for t in data["tests"])
    assert "FAIL" in text


def test_an_output_flood_reports_its_real_size(tmp_path):
    """What was printed beyond the kept 64 KB is counted, as a field the class
    report reads (extra_data.output_dropped)."""
    from backprop_grader import load
    from backprop_grader.judge import rubric as rubric_mod, score
    from backprop_grader.report import results
    sub = tmp_path / "flood.py"
    sub.write_text("import sys\nfor _ in range(3000):\n    sys.stdout.write('x' * 999 + '\\n')\n"
                   + (Path(__file__).parent / "data" / "good.py").read_text())
    rub = rubric_mod.load(rubric_mod.find("gates"))
    result = score.grade(load.load(sub, class_names=list(rub.gates)), rub, seed=1)
    data = results.results_json(result)
    assert data["extra_data"]["output_dropped"] == 3000 * 1000 - 64 * 1024
    assert data["score"] == rub.max_score
