"""The light registries (check kinds, mistakes, visibility) and the import layers.

Every check kind is described once (judge/check_kinds.py), every mistake id has its
sentence and its label in one place (judge/mistake_kinds.py), and what a student may
see is decided in one place (judge/visibility.py). Rendering and the gradebook never
import the sandbox or nbformat.
"""
import json
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest

from backprop_grader import load
from backprop_grader.judge import check_kinds, mistake_kinds, mistakes, rubric, score, visibility
from backprop_grader.judge.facts import LoadWarning
from backprop_grader.judge.probe import exception_type, place
from backprop_grader.report import results as report
from backprop_grader.judge.checks import CHECKS

LIGHT = ["backprop_grader.report.results", "backprop_grader.report.formats", "backprop_grader.report.emit",
         "backprop_grader.report.html", "backprop_grader.batch.gradebook",
         "backprop_grader.judge.check_kinds", "backprop_grader.judge.mistake_kinds", "backprop_grader.judge.visibility",
         "backprop_grader.judge.facts", "backprop_grader.errors"]
HEAVY = ("backprop_grader.sandbox", "nbformat", "backprop_grader.judge.probe", "backprop_grader.judge.checks")


def test_every_check_kind_is_described_once_and_run_by_one_function():
    schema = json.loads(files("backprop_grader.rubrics").joinpath("rubric.schema.json").read_text())
    enum = schema["properties"]["checks"]["items"]["properties"]["check"]["enum"]
    assert list(check_kinds.KINDS) == enum
    assert set(CHECKS) == set(check_kinds.KINDS)
    assert all(kind.hint for kind in check_kinds.KINDS.values())
    assert check_kinds.DIAGNOSED == ("backward", "numerical", "state", "graph", "engine")


def test_every_mistake_has_an_id_a_sentence_and_a_label():
    for mistake_id, kind in mistake_kinds.MISTAKES.items():
        assert kind.id == mistake_id and kind.sentence and kind.label
        assert mistake_kinds.label(mistake_id) == kind.label


@pytest.mark.parametrize("name", ["gates", "gate-library"])
def test_every_id_the_diagnosis_can_name_is_registered(name):
    rub = rubric.load(rubric.find(name))
    known = mistake_kinds.known_ids(rub.gates)
    named = {"hard_coded", "ignores_inputs"}  # named from the answers, without a suspect
    declared = set()
    for gate in rub.gates:
        named |= {mistake_id for mistake_id, _, _ in mistakes.suspects(rub, gate)}
        declared |= set(mistake_kinds.declared(rub.gates[gate].reference))
    assert named <= known
    for mistake_id in named - declared:
        assert mistake_id in mistake_kinds.MISTAKES or mistake_kinds.RULE.fullmatch(mistake_id), mistake_id
    assert mistake_kinds.label("add_rule_in_multiply") == "add rule in multiply"


def test_suspects_are_made_once_per_rubric_and_not_kept_on_it():
    rub = rubric.load(rubric.find("gates"))
    assert mistakes.suspects(rub, "MultiplyGate") is mistakes.suspects(rub, "MultiplyGate")
    assert not hasattr(rub, "suspects")


def test_visibility_is_decided_in_one_place():
    assert not visibility.is_hidden("visible")
    assert all(visibility.is_hidden(v) for v in ("hidden", "after_due_date", "after_published", "odd"))
    assert [visibility.reveal(v) for v in ("visible", "after_due_date", "after_published", "hidden", "odd")] \
        == [0, 1, 2, 3, 3]
    shown, hidden = visibility.split([{"visibility": "visible"}, {}, {"visibility": "hidden"}])
    assert len(shown) == 2 and len(hidden) == 1


def test_rendering_and_the_gradebook_import_neither_the_sandbox_nor_nbformat():
    code = ("import sys\n" + "".join("import %s\n" % m for m in LIGHT)
            + "print(sorted(m for m in sys.modules if m.startswith(%r)))" % (HEAVY,))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_places_and_exceptions_arrive_as_fields():
    """The child sends [cell, file, line] and the exception's type as fields; the
    parent checks each field's type and builds the text from them, never the reverse."""
    assert place([3, None, 12]).fields() == {"cell": 3, "file": None, "line": 12}
    assert place([3, None, 12]) == "cell 3, line 12"
    assert place([None, "gates.py", 5]).fields() == {"cell": None, "file": "gates.py", "line": 5}
    assert place([None, "gates.py", 5]) == "gates.py, line 5"
    assert place([4, None, None]) == "cell 4" and place([4, None, None]).fields()["line"] is None
    assert place(None) == "" and place(None).fields() is None  # no place known
    assert place([None, None, 5]) == "" and place([None, None, 5]).fields() is None
    for bad in ("cell 3, line 12", [3, None], [-1, None, 2], [3, None, 2.0], [True, None, 1],
                [None, ["x"], 1], {"cell": 3}):
        assert place(bad) is None, bad  # out of protocol: the reply is unreadable
    assert exception_type("ZeroDivisionError") == "ZeroDivisionError" and exception_type(None) == ""
    for odd in ("Zero Division", "a\nb", "x" * 81):
        assert exception_type(odd) == "", odd  # a class may be named anything: no type known
    for bad in (3, ["ValueError"], {"t": 1}):
        assert exception_type(bad) is None, bad
    w = LoadWarning(place([2, None, 1]), "NameError: name 'x' is not defined", "NameError")
    assert w == "cell 2, line 1: NameError: name 'x' is not defined"
    assert (w.where.cell, w.where.line, w.exception) == (2, 1, "NameError")


CORPUS = Path(__file__).parent / "corpus"


@pytest.mark.parametrize("file, item, kind, exception", [
    ("broken/missing_addgate.py", "add-backward", "missing_class", None),
    ("broken/syntax_error.py", "mul-backward", "missing_class", None),
    ("broken/binary.py", "mul-backward", "load_failure", None),
    ("mistakes/backward_returns_none.py", "mul-format", "bad_answer", None),
    ("mistakes/init_requires_args.py", "mul-backward", "exception", "TypeError"),
    ("mistakes/mul_forgot_upstream.py", "mul-backward", "wrong_answer", None),
    ("correct/" + sorted(p.name for p in (CORPUS / "correct").iterdir())[0], "mul-backward", "passed", None),
])
def test_results_json_carries_how_each_check_ended_as_fields(file, item, kind, exception):
    rub = rubric.load(rubric.find("gates"))
    loaded = load.load(CORPUS / file, class_names=list(rub.gates))
    data = report.gradescope(score.grade(loaded, rub, seed=1))
    extra = next(t["extra_data"] for t in data["tests"] if t["extra_data"]["id"] == item)
    assert extra["kind"] == kind and extra["exception"] == exception
    output = next(t["output"] for t in data["tests"] if t["extra_data"]["id"] == item)
    assert (extra["problem"] is not None) == output.startswith("problem:")
    if extra["problem"]:
        assert output.splitlines()[0] == "problem:  " + extra["problem"]
