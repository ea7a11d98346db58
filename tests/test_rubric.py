"""grader/judge/rubric.py: the packaged rubric, the schema, RubricError messages,
defaults, and a custom three-input gate graded end to end."""
import copy
import os
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from backprop_grader import load
from backprop_grader.report import results as report
from backprop_grader.judge import rubric, score
from backprop_grader.judge.checks import CHECKS
from backprop_grader.reference import AddGate, MultiplyGate

DATA = Path(__file__).parent / "data"
RUBRICS = DATA / "rubrics"
PACKAGED = rubric.find("gates")
BASE = yaml.safe_load(PACKAGED.read_text())


def ids(data):
    return [c["id"] for c in data["checks"]]


# Positions in the packaged rubric the bad-rubric cases below rely on.
MUL_BACKWARD = ids(BASE).index("mul-backward")
MUL_NUMERICAL = ids(BASE).index("mul-numerical")
GRAPH_SLIDE = ids(BASE).index("graph-slide")
GRAPH_RANDOM = ids(BASE).index("graph-random")


# ---------------------------------------------------------------- packaged rubric and schema

def test_packaged_rubric_validates_against_the_schema():
    schema = rubric.schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(BASE)


def test_packaged_rubric_loads():
    rub = rubric.load(PACKAGED)
    assert rub.assignment == "backprop-gates"
    assert set(rub.gates) == {"MultiplyGate", "AddGate"}
    assert rub.gates["MultiplyGate"].reference is MultiplyGate
    assert rub.gates["AddGate"].reference is AddGate
    assert rub.gates["MultiplyGate"].grads == ["dx", "dy"]
    assert [i.id for i in rub.items] == [
        "mul-format", "mul-forward", "mul-backward", "mul-numerical", "mul-state",
        "add-format", "add-forward", "add-backward", "add-numerical", "add-state",
        "graph-slide", "graph-random"]
    assert rub.max_score == 100
    assert [i.id for i in rub.items if i.hidden] == ["graph-random"]
    assert rub.graphs["slide"].gates == ["AddGate", "MultiplyGate"]
    assert re.fullmatch(r"[0-9a-f]{64}", rub.sha256)


def test_every_schema_check_kind_is_registered_and_vice_versa():
    enum = rubric.schema()["properties"]["checks"]["items"]["properties"]["check"]["enum"]
    assert len(enum) == len(set(enum))
    assert set(enum) == set(CHECKS)
    assert all(callable(fn) for fn in CHECKS.values())


def test_schema_specials_match_the_input_strategies():
    from backprop_grader.judge.inputs import SPECIALS
    enum = rubric.schema()["$defs"]["specials"]["items"]["enum"]
    assert set(enum) == set(SPECIALS)


def test_schema_limits_match_the_sandbox_limits():
    import dataclasses
    from backprop_grader.sandbox import Limits
    props = rubric.schema()["properties"]["limits"]["properties"]
    assert set(props) == {f.name for f in dataclasses.fields(Limits)}


def test_find():
    assert rubric.find() == rubric.find("gates") == rubric.find("gates.yaml") == PACKAGED
    assert rubric.find(str(RUBRICS / "fma.yaml")) == RUBRICS / "fma.yaml"
    with pytest.raises(load.UsageError):
        rubric.find("no-such-rubric")
    with pytest.raises(load.UsageError):
        rubric.find("some/dir/missing.yaml")


# ---------------------------------------------------------------- bad rubrics

def write(tmp_path, data):
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def rubric_error(path):
    with pytest.raises(rubric.RubricError) as info:
        rubric.load(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert "\n" not in message, message
    return message[len(str(path)):]


def setter(*keys, value=None, pop=False):
    """A mutation of the base rubric at a key path."""
    def mutate(data):
        target = data
        for k in keys[:-1]:
            target = target[k]
        if pop:
            target.pop(keys[-1])
        else:
            target[keys[-1]] = value
    return mutate


BAD = [
    # (id, mutation, YAML path in the message, problem text in the message)
    ("unknown-top-level-key", setter("colour", value="red"), "(top)", "unknown key 'colour'"),
    ("unknown-item-key", setter("checks", MUL_BACKWARD, "colour", value="red"),
     "checks[%d]:" % MUL_BACKWARD, "unknown key 'colour'"),
    ("points-wrong-type", setter("checks", MUL_BACKWARD, "points", value="ten"),
     "checks[%d].points" % MUL_BACKWARD, "not of type 'number'"),
    ("points-bool", setter("checks", MUL_BACKWARD, "points", value=True),
     "checks[%d].points" % MUL_BACKWARD, "not of type 'number'"),
    ("points-negative", setter("checks", MUL_BACKWARD, "points", value=-1),
     "checks[%d].points" % MUL_BACKWARD, "minimum"),
    ("unknown-gate", setter("checks", MUL_BACKWARD, "gate", value="DivideGate"),
     "checks[%d].gate" % MUL_BACKWARD, "unknown gate 'DivideGate'"),
    ("unknown-check-kind", setter("checks", MUL_BACKWARD, "check", value="gradient"),
     "checks[%d].check" % MUL_BACKWARD, "'gradient' is not one of"),
    ("unknown-check-kind-on-graph-item", setter("checks", GRAPH_SLIDE, "check", value="grph"),
     "checks[%d].check" % GRAPH_SLIDE, "'grph' is not one of"),
    ("unknown-graph", setter("checks", GRAPH_RANDOM, "graph", value="nope"),
     "checks[%d].graph" % GRAPH_RANDOM, "unknown graph 'nope'"),
    ("graph-check-naming-a-gate", setter("checks", GRAPH_SLIDE, "gate", value="MultiplyGate"),
     "checks[%d]" % GRAPH_SLIDE, "graph check must not name a gate"),
    ("gate-check-naming-a-graph", setter("checks", MUL_BACKWARD, "graph", value="slide"),
     "checks[%d]" % MUL_BACKWARD, "backward check must not name a graph"),
    ("gate-check-without-gate", setter("checks", MUL_BACKWARD, "gate", pop=True),
     "checks[%d]" % MUL_BACKWARD, "'gate' is a required property"),
    ("duplicate-id", setter("checks", MUL_NUMERICAL, "id", value="mul-backward"),
     "checks[%d].id" % MUL_NUMERICAL, "duplicate id 'mul-backward'"),
    ("missing-id", setter("checks", MUL_BACKWARD, "id", pop=True),
     "checks[%d]" % MUL_BACKWARD, "'id' is a required property"),
    ("reference-missing-class",
     setter("gates", "MultiplyGate", "reference", value="reference.gates:DivideGate"),
     "gates.MultiplyGate.reference", "cannot load reference.gates:DivideGate (AttributeError"),
    ("reference-missing-module", setter("gates", "AddGate", "reference", value="no_such_mod:AddGate"),
     "gates.AddGate.reference", "cannot load no_such_mod:AddGate (ModuleNotFoundError"),
    ("reference-missing-file", setter("gates", "AddGate", "reference", value="missing.py:AddGate"),
     "gates.AddGate.reference", "cannot load missing.py:AddGate (FileNotFoundError"),
    ("reference-without-colon",
     setter("gates", "AddGate", "reference", value="reference.gates.AddGate"),
     "gates.AddGate.reference", "does not match"),
    ("graph-node-too-few-inputs", setter("graphs", "slide", "nodes", 0, "inputs", value=["x"]),
     "graphs.slide.nodes[0].inputs", "AddGate takes 2 inputs, not 1"),
    ("graph-node-too-many-inputs",
     setter("graphs", "slide", "nodes", 1, "inputs", value=["q", "z", "x"]),
     "graphs.slide.nodes[1].inputs", "MultiplyGate takes 2 inputs, not 3"),
    ("graph-node-unknown-gate", setter("graphs", "slide", "nodes", 1, "gate", value="PowGate"),
     "graphs.slide.nodes[1].gate", "unknown gate 'PowGate'"),
    ("graph-node-later-input", setter("graphs", "slide", "nodes", 0, "inputs", value=["x", "f"]),
     "graphs.slide.nodes[0].inputs[1]", "'f' is not a graph input or an earlier node"),
    ("graph-duplicate-node-name", setter("graphs", "slide", "nodes", 1, "name", value="q"),
     "graphs.slide.nodes[1]", "q"),
    ("graph-node-named-like-an-input",
     lambda d: d["graphs"]["slide"].update(nodes=[
         {"name": "x", "gate": "AddGate", "inputs": ["x", "y"]},
         {"name": "f", "gate": "MultiplyGate", "inputs": ["x", "z"]}]),
     "graphs.slide.nodes[0]", "x"),
    ("example-unknown-name", setter("checks", GRAPH_SLIDE, "examples", 0, "w", value=1),
     "checks[%d].examples[0]" % GRAPH_SLIDE, "unknown w"),
    ("example-missing-name", setter("checks", GRAPH_SLIDE, "examples", 0, "z", pop=True),
     "checks[%d].examples[0]" % GRAPH_SLIDE, "missing z"),
    ("example-not-a-number", setter("checks", GRAPH_SLIDE, "examples", 0, "z", value="four"),
     "checks[%d].examples[0].z" % GRAPH_SLIDE, "not of type 'number'"),
    ("bad-visibility", setter("checks", GRAPH_RANDOM, "visibility", value="secret"),
     "checks[%d].visibility" % GRAPH_RANDOM, "'secret' is not one of"),
    ("trials-not-integer", setter("checks", MUL_NUMERICAL, "trials", value=2.5),
     "checks[%d].trials" % MUL_NUMERICAL, "not of type 'integer'"),
    ("tolerance-key", setter("checks", MUL_NUMERICAL, "tolerance", value={"rtl": 1}),
     "checks[%d].tolerance" % MUL_NUMERICAL, "unknown key 'rtl'"),
    ("unknown-special", setter("checks", MUL_NUMERICAL, "specials", value=["huge"]),
     "checks[%d].specials[0]" % MUL_NUMERICAL, "'huge' is not one of"),
    ("defaults-key", setter("defaults", "tolerence", value={}), "defaults", "unknown key 'tolerence'"),
    ("limits-too-small", setter("limits", "memory_mb", value=10), "limits.memory_mb", "minimum"),
    ("shapes-count", setter("gates", "MultiplyGate", "shapes", value=[[2]]),
     "gates.MultiplyGate.shapes", "1 shapes for 2 inputs"),
    ("no-checks", setter("checks", pop=True), "(top)", "'checks' is a required property"),
    ("empty-checks", setter("checks", value=[]), "checks", "non-empty"),
    ("no-gates", setter("gates", value={}), "gates", "non-empty"),
]


@pytest.mark.parametrize("mutate, where, problem", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_rubric_names_file_path_and_problem(tmp_path, mutate, where, problem):
    data = copy.deepcopy(BASE)
    mutate(data)
    message = rubric_error(write(tmp_path, data))
    assert message.startswith(": " + where), message
    assert problem in message, message


def test_yaml_syntax_error_gives_the_line():
    path = RUBRICS / "syntax_error.yaml"
    message = rubric_error(path)
    found = re.match(r":(\d+):(\d+): YAML syntax error: ", message)
    assert found, message
    assert int(found.group(1)) in (5, 6)  # the unclosed [ is on line 5; the parser stops at 6


def test_tab_indentation_gives_the_line(tmp_path):
    p = tmp_path / "tab.yaml"
    p.write_text("assignment: x\ngates:\n\tMultiplyGate: {}\n")
    assert rubric_error(p).startswith(":3:1: YAML syntax error")


@pytest.mark.parametrize("text", ["", "- 1\n- 2\n", "just a string\n"])
def test_rubric_must_be_a_mapping(tmp_path, text):
    p = tmp_path / "r.yaml"
    p.write_text(text)
    assert "must be a YAML mapping" in rubric_error(p)


def test_binary_rubric_is_one_line(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_bytes(b"assignment: \xff\xfe\x00x\n")
    assert "YAML" in rubric_error(p)  # rubric_error also asserts a single line


# ---------------------------------------------------------------- defaults

def test_defaults_merge_item_over_rubric_over_builtin(tmp_path):
    data = copy.deepcopy(BASE)
    data["defaults"] = {"trials": 7, "tolerance": {"rtol": 1e-5},
                        "inputs": {"magnitude": [1.0, 2.0]}}
    data["checks"][MUL_BACKWARD]["tolerance"] = {"rtol": 1e-3}
    data["checks"][MUL_BACKWARD]["inputs"] = {"min_gap": 0.3}
    data["checks"][MUL_NUMERICAL]["trials"] = 3
    rub = rubric.load(write(tmp_path, data))
    items = {i.id: i for i in rub.items}

    backward = items["mul-backward"]
    assert backward.tolerance == {"rtol": 1e-3, "atol": 1e-9}  # item rtol, built-in atol
    assert backward.inputs == {"magnitude": [1.0, 2.0], "upstream": [0.5, 4.0], "min_gap": 0.3}
    assert backward.trials == 7

    forward = items["mul-forward"]
    assert forward.tolerance == {"rtol": 1e-5, "atol": 1e-9}
    assert forward.inputs == {"magnitude": [1.0, 2.0], "upstream": [0.5, 4.0], "min_gap": 0.1}
    assert items["mul-numerical"].trials == 3
    assert forward.specials == list(rubric.DEFAULTS["specials"])
    assert forward.visibility == "visible" and not forward.hidden


def test_item_override_keeps_default_atol_from_rubric_defaults(tmp_path):
    data = copy.deepcopy(BASE)
    data["defaults"]["tolerance"] = {"rtol": 1e-6, "atol": 1e-7}
    data["checks"][MUL_BACKWARD]["tolerance"] = {"rtol": 1e-4}
    rub = rubric.load(write(tmp_path, data))
    item = {i.id: i for i in rub.items}["mul-backward"]
    assert item.tolerance == {"rtol": 1e-4, "atol": 1e-7}


def test_default_item_names_and_limits(tmp_path):
    data = copy.deepcopy(BASE)
    del data["checks"][MUL_BACKWARD]["name"]
    del data["checks"][GRAPH_SLIDE]["name"]
    data["limits"] = {"call_timeout": 2.5}
    rub = rubric.load(write(tmp_path, data))
    names = {i.id: i.name for i in rub.items}
    assert names["mul-backward"] == "MultiplyGate backward"
    assert names["graph-slide"] == "graph slide graph"
    assert rub.limits.call_timeout == 2.5
    assert rub.limits.memory_mb == 1024  # built-in default
    assert rub.title == BASE["title"]


# ---------------------------------------------------------------- a custom three-input gate

@pytest.fixture(scope="module")
def fma(tmp_path_factory):
    """The FMA rubric loaded from another working directory: the reference path
    is relative to the rubric file, not to where the grader runs."""
    here = Path.cwd()
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    try:
        os.chdir(elsewhere)
        return rubric.load(RUBRICS / "fma.yaml")
    finally:
        os.chdir(here)


def test_fma_rubric_loads_a_reference_by_path(fma):
    gate = fma.gates["FmaGate"]
    assert gate.inputs == ["x", "y", "z"] and gate.grads == ["dx", "dy", "dz"]
    ref = gate.reference()
    assert ref.forward(2.0, 3.0, 4.0) == 10.0
    assert ref.backward(0.5) == [1.5, 1.0, 0.5]
    items = {i.id: i for i in fma.items}
    assert items["fma-backward"].tolerance == {"rtol": 1e-6, "atol": 1e-9}
    assert items["fma-forward"].tolerance == {"rtol": 1e-4, "atol": 1e-9}
    assert items["fma-state"].trials == 4 and items["fma-forward"].trials == 6
    assert fma.max_score == 13


@pytest.fixture(scope="module")
def fma_graded(fma):
    out = {}
    for name in ("fma_good", "fma_swapped"):
        loaded = load.load(DATA / (name + ".py"), list(fma.gates))
        out[name] = score.grade(loaded, fma, seed=11)
    return out


def test_correct_three_input_gate_gets_full_marks(fma_graded):
    result = fma_graded["fma_good"]
    assert [(r.item.id, r.outcome.error) for r in result.items if not r.outcome.passed] == []
    assert result.score == 13
    assert all(r.outcome.trials > 0 for r in result.items)


def test_wrong_three_input_gate_fails_the_gradient_checks(fma_graded):
    result = fma_graded["fma_swapped"]
    passed = {r.item.id: r.outcome.passed for r in result.items}
    # fma-state passes: a wrong formula is the backward check's business, not state's
    assert passed == {"fma-format": True, "fma-forward": True, "fma-backward": False,
                      "fma-numerical": False, "fma-state": True, "fma-graph": False}
    assert result.score == 4
    backward = {r.item.id: r for r in result.items}["fma-backward"]
    f = backward.outcome.example()
    assert set(f.inputs) == {"x", "y", "z", "dout"}
    assert set(f.expected) == set(f.received) == {"dx", "dy", "dz"}
    x, y, dout = float(f.inputs["x"]), float(f.inputs["y"]), float(f.inputs["dout"])
    assert float(f.received["dx"]) == pytest.approx(x * dout)
    assert float(f.expected["dx"]) == pytest.approx(y * dout)
    text = report.text(result)
    assert "d(xy+z)/dx = y" in text  # the item's own hint
    assert "fanout" not in text and "fma-graph" not in text  # after_due_date: not shown yet


def test_graph_example_with_fan_out_uses_the_chain_rule(fma):
    """v = fma(u, a, b) with u = fma(a, b, a): a reaches v three ways; checked by hand."""
    import numpy as np
    from backprop_grader.judge.checks.base import ReferenceGate
    from backprop_grader.judge.checks.graph import run
    from backprop_grader.judge.inputs import Case
    g = fma.graphs["fanout"]
    a, b, up = 2.0, -3.0, 0.5
    case = Case([np.float64(a), np.float64(b)], [np.float64(up)], "example")
    [(v, da, db)], _ = run(g, [case], lambda gate: [ReferenceGate(fma.gates[gate].reference)])
    u = a * b + a
    assert float(v) == u * a + b
    # dv/da = a * du/da + u = a * (b + 1) + u ; dv/db = a * du/db + 1 = a * a + 1
    assert float(da) == pytest.approx(up * (a * (b + 1) + u))
    assert float(db) == pytest.approx(up * (a * a + 1))


@pytest.mark.parametrize("kind, extra", [
    ("format", {"trials": 0}),
    ("forward", {"trials": 0, "specials": []}),
], ids=["format-no-trials", "forward-no-trials-no-specials"])
def test_item_that_runs_no_trials_is_rejected_or_passes_correct_code(tmp_path, kind, extra):
    """An item that can never run a trial must not silently fail every student:
    either the rubric is refused, or correct code passes it."""
    data = copy.deepcopy(BASE)
    data["checks"] = [dict({"id": "only", "gate": "MultiplyGate", "check": kind, "points": 1},
                           **extra)]
    path = write(tmp_path, data)
    try:
        rub = rubric.load(path)
    except rubric.RubricError as exc:
        assert "checks[0]" in str(exc)
        return
    result = score.grade(load.load(DATA / "good.py", list(rub.gates)), rub, seed=1)
    assert result.items[0].outcome.passed, result.items[0].outcome


def test_examples_on_a_gate_check_are_used_or_refused(tmp_path):
    """A rubric author's fixed example must not be silently ignored. The student
    here is wrong only at x=7, y=11, which random inputs never hit."""
    data = copy.deepcopy(BASE)
    data["checks"] = [{"id": "only", "gate": "MultiplyGate", "check": "backward", "points": 1,
                       "trials": 2, "specials": [], "examples": [{"x": 7, "y": 11, "upstream": 2}]}]
    path = write(tmp_path, data)
    try:
        rub = rubric.load(path)
    except rubric.RubricError as exc:
        assert "checks[0].examples" in str(exc)
        return
    student = tmp_path / "hw.py"
    student.write_text((DATA / "good.py").read_text().replace(
        "        return [self.y * dz, self.x * dz]",
        "        if (self.x, self.y) == (7, 11):\n            return [0.0, 0.0]\n"
        "        return [self.y * dz, self.x * dz]"))
    result = score.grade(load.load(student, list(rub.gates)), rub, seed=1)
    outcome = result.items[0].outcome
    assert not outcome.passed
    assert outcome.example().inputs["x"] == 7


def test_a_rubric_that_passed_the_schema_is_not_validated_again(tmp_path):
    """The schema check is remembered per rubric file, schema and grader version
    (in $XDG_CACHE_HOME): the second load does not import jsonschema; a changed
    or a bad rubric is always validated, and a bad one is never remembered."""
    import subprocess
    import sys
    good = tmp_path / "good.yaml"
    good.write_text(Path(rubric.find("gates")).read_text())
    code = ("import sys; from backprop_grader.judge import rubric\n"
            "try:\n    rubric.load(sys.argv[1]); print('ok')\n"
            "except rubric.RubricError as e:\n    print('error', e)\n"
            "print('jsonschema' in sys.modules)")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))

    def load(path):
        out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env)
        return out.stdout.split("\n")[:2]

    assert load(good) == ["ok", "True"]
    assert load(good) == ["ok", "False"]  # remembered
    assert len(list((tmp_path / "cache" / "backprop-grader" / "valid-rubrics").iterdir())) == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("assignment:", "assignmnt:", 1))
    for _ in range(2):
        verdict, imported = load(bad)
        assert verdict.startswith("error") and "unknown key 'assignmnt'" in verdict and imported == "True"
    assert len(list((tmp_path / "cache" / "backprop-grader" / "valid-rubrics").iterdir())) == 1
