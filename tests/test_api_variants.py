"""API variants declared per gate in the rubric (`gates.<Gate>.api`), with no
change to grader/ per exercise (tests/gates/api/):

- (a) stateless gates whose backward takes the inputs again: backward(x, y, dz);
- (b) "Deep Learning from Scratch" MulLayer/AddLayer: backward(dout) returns a
  tuple (dx, dy), which the default API accepts (AddLayer spells it out);
- (c) units with their own method names (fwd, bwd) whose bwd leaves the
  gradients on self.dx and self.dy, read back through the child as plain numbers.

Correct submissions get full marks at several seeds; wrong ones lose exactly the
affected items, with the named mistake.
"""
from pathlib import Path

import pytest
import yaml

from backprop_grader import load
from backprop_grader.errors import RubricError
from backprop_grader.judge import check_kinds, rubric, score
from backprop_grader.judge.probe import StudentGate
from backprop_grader.judge.rubric import Api
from backprop_grader.report import results as report

API = Path(__file__).resolve().parent / "gates" / "api"
SEEDS = [1, 7, 2024]


def wrong(mistake):
    """A MulGate backward mistake: the backward, numerical and graph items."""
    return {"mul-backward": mistake, "mul-numerical": mistake, "graph": mistake}


# (rubric, submission) -> {failing item: named mistake (None: fails, nothing named)}
EXPECTED = {
    ("stateless", "good"): {},
    ("stateless", "forgot_upstream"): wrong("forgot_upstream"),
    ("stateless", "swapped"): wrong("swapped_inputs"),
    ("dlfs", "good"): {},
    ("dlfs", "forgot_upstream"): wrong("forgot_upstream"),
    ("dlfs", "swapped"): wrong("swapped_inputs"),
    ("attrs", "good"): {},
    ("attrs", "forgot_upstream"): wrong("forgot_upstream"),
    # self.dx += ...: right once, then wrong on the instance reused across trials
    ("attrs", "accumulated"): {"mul-backward": "accumulated", "mul-numerical": "accumulated",
                               "mul-state": "accumulated"},
    # returns the gradients instead: there is no self.dx to read, on every MulUnit item
    # but forward
    ("attrs", "returned"): {"mul-format": None, "mul-backward": None, "mul-numerical": None,
                            "mul-state": None, "graph": None},
}


def test_every_submission_is_in_the_table():
    assert {p.stem for p in API.glob("*.py")} == {"%s_%s" % k for k in EXPECTED}


@pytest.fixture(scope="module")
def rubrics():
    return {name: rubric.load(API / (name + ".yaml")) for name in ("stateless", "dlfs", "attrs")}


def test_rubrics_declare_the_api(rubrics):
    assert rubrics["stateless"].gates["MulGate"].api == Api(inputs_again=True)
    assert rubrics["dlfs"].gates["MulLayer"].api == rubrics["dlfs"].gates["AddLayer"].api == Api()
    assert rubrics["attrs"].gates["MulUnit"].api == Api("fwd", "bwd", False, ("dx", "dy"))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name, student", sorted(EXPECTED))
def test_submission_loses_exactly_the_affected_items(rubrics, name, student, seed):
    rub = rubrics[name]
    result = score.grade(load.load(API / ("%s_%s.py" % (name, student)), class_names=list(rub.gates)),
                         rub, seed=seed)
    data = report.gradescope(result)
    assert result.warnings == [] and result.loaded.problem == ""
    failing = {t["extra_data"]["id"]: t["extra_data"]["mistake"] for t in data["tests"]
               if t["score"] < t["max_score"]}
    assert failing == EXPECTED[name, student]
    lost = sum(r.item.points for r in result.items if r.item.id in failing)
    assert result.score == pytest.approx(rub.max_score - lost)
    outputs = {t["extra_data"]["id"]: t["output"] for t in data["tests"]}
    if student == "returned":  # the attribute is read back, validated like an answer
        assert "self.dx is None, not a number" in outputs["mul-backward"]
    if student == "forgot_upstream":
        assert "upstream gradient was not multiplied in" in outputs["mul-backward"]


class FakeSession:
    def __init__(self):
        self.gates, self.to_make = 0, []


def test_calls_on_the_wire():
    """The default API sends exactly today's calls; the others name the student's
    methods, pass the latest forward's inputs again, or read attributes back."""
    session = FakeSession()
    plain = StudentGate(session, "MultiplyGate")
    assert plain.wire("forward", [2.0, 3.0]) == [1, "forward", [2.0, 3.0]]
    assert plain.wire("backward", [1.5]) == [1, "backward", [1.5]]
    stateless = StudentGate(session, "MulGate", Api(inputs_again=True))
    stateless.wire("forward", [2.0, 3.0])
    stateless.wire("forward", [4.0, 5.0])
    assert stateless.wire("backward", [1.5]) == [2, "backward", [4.0, 5.0, 1.5]]
    unit = StudentGate(session, "MulUnit", Api("fwd", "bwd", False, ("dx", "dy")))
    assert unit.wire("forward", [2.0, 3.0]) == [3, "fwd", [2.0, 3.0]]
    assert unit.wire("backward", [1.5]) == [3, "bwd", [1.5], ["dx", "dy"]]


@pytest.mark.parametrize("api, problem", [
    ({"grads_on": {"x": "dx"}}, "gates.G.api.grads_on: names inputs x; the gate's inputs are x, y"),
    ({"backward_args": ["upstream", "inputs"]}, "gates.G.api.backward_args: "),
    ({"backward": "not a name"}, "gates.G.api.backward: "),
    ({"returns": "list"}, "gates.G.api: unknown key 'returns'"),
])
def test_bad_api_is_one_rubric_error(tmp_path, api, problem):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({
        "assignment": "a", "gates": {"G": {"reference": "reference.gates:MultiplyGate",
                                           "inputs": ["x", "y"], "api": api}},
        "checks": [{"id": "b", "gate": "G", "check": "backward", "points": 1}]}))
    with pytest.raises(RubricError) as err:
        rubric.load(path)
    assert problem in str(err.value)


def test_feedback_speaks_the_students_api_and_says_a_problem_once(rubrics):
    """The format hint names the student's own methods and where the gradients go
    (not the default "backward a list [dx, dy]"); in the text view a problem that
    stops several items is explained once, then pointed to."""
    rub = rubrics["attrs"]
    result = score.grade(load.load(API / "attrs_returned.py", class_names=list(rub.gates)), rub, seed=SEEDS[0])
    data = report.gradescope(result)
    fmt = next(t["output"] for t in data["tests"] if t["extra_data"]["id"] == "mul-format")
    assert "hint:     fwd must return one value per output, and bwd must set self.dx and self.dy" in fmt
    assert "[dx, dy]" not in fmt
    text = report.text(result)
    assert text.count("problem:  self.dx is None, not a number") == 1
    assert text.count("problem:  the same as in MulUnit format, above") == 4  # backward, numerical, state, graph
    default = rubric.load(API / "stateless.yaml").gates["MulGate"].calls()
    assert check_kinds.hint("format", default) == check_kinds.hint("format")  # the default words are unchanged
    assert "backward a list with one gradient per input (e.g. [dx, dy])" in check_kinds.hint("format")


def test_layer_hints_name_functions_and_attributes():
    layers = rubric.load(Path(__file__).resolve().parent.parent / "assignments" / "layers" / "rubric.yaml")
    affine = check_kinds.hint("format", layers.gates["affine_forward"].calls())
    assert affine.startswith("affine_forward must return (out, cache), and affine_backward one gradient "
                             "per input (dx, dw, db)")
    loss = check_kinds.hint("format", layers.gates["softmax_loss"].calls())
    assert loss.startswith("softmax_loss must return (loss, dx); ")
    dlfs = rubric.load(Path(__file__).resolve().parent.parent / "assignments" / "dlfs-layers" / "rubric.yaml")
    assert "backward must return dx and set self.dW and self.db" in check_kinds.hint(
        "format", dlfs.gates["Affine"].calls())


def test_every_default_hint_reads_the_same_and_names_the_students_calls():
    for kind in check_kinds.KINDS:
        assert "{" not in check_kinds.hint(kind), kind  # every template filled by default
    layers = rubric.load(Path(__file__).resolve().parent.parent / "assignments" / "layers" / "rubric.yaml")
    calls = layers.gates["affine_forward"].calls()
    assert check_kinds.hint("numerical", calls).startswith(
        "affine_backward disagrees with finite differences of your own affine_forward")
    assert check_kinds.hint("forward", calls).startswith("affine_forward must compute")
    assert check_kinds.hint("numerical").startswith("backward disagrees with finite differences of your own forward")
