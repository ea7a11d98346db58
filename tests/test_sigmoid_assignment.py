"""The second assignment, assignments/sigmoid-neuron/: the lecture's sigmoid neuron
f(w, x) = 1 / (1 + e^-(w0 x0 + w1 x1 + w2)) and what the max, copy and sigmoid gates
do to the gradient. Its source notebook and module, its rubric (graphs built from
the student's gates), its release, its grading, and `bpgrade validate`.
"""
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from backprop_grader import cli, load
from backprop_grader.authoring import release, validate
from backprop_grader.report import results as report
from backprop_grader.judge import rubric, score
import backprop_grader.reference.gates as ref

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = ROOT / "assignments" / "sigmoid-neuron"
RUBRIC = ASSIGNMENT / "rubric.yaml"
SEED = 4242
BPGRADE = Path(sys.executable).parent / "bpgrade"
STUDENT_GATES = ("SigmoidGate", "MaxGate", "CopyGate")


@pytest.fixture(scope="module")
def rub():
    return rubric.load(RUBRIC)


def notebook():
    return nbformat.read(str(ASSIGNMENT / "source.ipynb"), as_version=4)


def solution_code(text):
    """The code (comments dropped) of every solution region, in order."""
    return [[line.split("#")[0].strip() for line in r.lines if line.split("#")[0].strip()]
            for r in release.parse(text)]


# ---------------------------------------------------------------- sources

def test_source_notebook_is_valid_and_teaches_the_neuron_and_the_gradient_patterns():
    nb = notebook()
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5)
    assert all(c.get("id") for c in nb.cells) and len({c.id for c in nb.cells}) == len(nb.cells)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for words in [r"e^{-(w_0 x_0 + w_1 x_1 + w_2)}", "w = [2, -3, -3]", "x = [-1, -2]",
                  r"\sigma(1) = 0.73", "[-0.20, -0.39, 0.20]", "[0.39, -0.59]",
                  "*distributes*", "*switches*", "*routes*", "*adds*",
                  r"\big(1 - \sigma(x)\big)\,\sigma(x)", "At a tie", "first** input",
                  "fan-out", "overwrite", "x = 3,\\ y = -4,\\ z = 2,\\ w = -1", "Self-check"]:
        assert words in text, words
    code = {c.id: c.source for c in nb.cells if c.cell_type == "code"}
    for cell_id, cls in [("sigmoid-gate", "SigmoidGate"), ("max-gate", "MaxGate"), ("copy-gate", "CopyGate")]:
        assert code[cell_id].startswith("class %s" % cls) and "### BEGIN SOLUTION" in code[cell_id]
    assert "### BEGIN SOLUTION" not in code["given-gates"]
    assert "class MultiplyGate" in code["given-gates"] and "class AddGate" in code["given-gates"]
    last = list(code.values())[-1]
    assert "assert" in last and "neuron_and_gradients([2.0, -3.0, -3.0], [-1.0, -2.0])" in last


def test_module_and_notebook_hold_the_same_solutions():
    nb_text = "\n".join(c.source for c in notebook().cells if c.cell_type == "code")
    module = (ASSIGNMENT / "neuron.py").read_text()
    assert solution_code(module) == solution_code(nb_text)
    assert len(release.parse(module)) == 5


def test_module_self_check_runs_with_the_solution():
    out = subprocess.run([sys.executable, str(ASSIGNMENT / "neuron.py")], capture_output=True,
                         text=True, timeout=60, cwd=str(ASSIGNMENT))
    assert out.returncode == 0, out.stderr
    assert "Self-check passed: f = 0.7311" in out.stdout


def test_lecture_numbers_from_the_reference_gates():
    """The neuron's numbers in the notebook are the reference gates' own."""
    w, x = [2.0, -3.0, -3.0], [-1.0, -2.0]
    mul0, mul1, add0, add1, sig = (ref.MultiplyGate(), ref.MultiplyGate(), ref.AddGate(),
                                   ref.AddGate(), ref.SigmoidGate())
    t = add1.forward(add0.forward(mul0.forward(w[0], x[0]), mul1.forward(w[1], x[1])), w[2])
    f = sig.forward(t)
    [dt] = sig.backward(1.0)
    dc, dw2 = add1.backward(dt)
    da, db = add0.backward(dc)
    (dw0, dx0), (dw1, dx1) = mul0.backward(da), mul1.backward(db)
    assert float(t) == 1.0 and round(float(f), 2) == 0.73
    assert [round(float(g), 2) for g in (dw0, dw1, dw2)] == [-0.20, -0.39, 0.20]
    assert [round(float(g), 2) for g in (dx0, dx1)] == [0.39, -0.59]


# ---------------------------------------------------------------- rubric

def test_rubric_gives_the_known_gates_and_every_forward(rub):
    assert rub.assignment == "sigmoid-neuron" and rub.max_score == 100
    assert rub.given == ["MultiplyGate", "AddGate", "SigmoidGate.forward", "MaxGate.forward",
                         "CopyGate.forward"]
    assert {n: g.reference for n, g in rub.gates.items()} == {
        "MultiplyGate": ref.MultiplyGate, "AddGate": ref.AddGate, "SigmoidGate": ref.SigmoidGate,
        "MaxGate": ref.MaxGate, "CopyGate": ref.CopyGate}
    assert rub.gates["CopyGate"].upstreams == ["da", "db"]
    assert {i.gate for i in rub.items if i.gate} == set(STUDENT_GATES)
    assert [i.id for i in rub.items if i.hidden] == ["graph-neuron-random"]


def test_rubric_graph_is_the_neuron_built_from_the_students_gates(rub):
    neuron = rub.graphs["neuron"]
    assert neuron.inputs == ["w0", "x0", "w1", "x1", "w2"]
    assert [(n["gate"], n["inputs"]) for n in neuron.nodes] == [
        ("MultiplyGate", ["w0", "x0"]), ("MultiplyGate", ["w1", "x1"]), ("AddGate", ["a", "b"]),
        ("AddGate", ["c", "w2"]), ("SigmoidGate", ["t"])]
    slide = next(i for i in rub.items if i.id == "graph-neuron-slide")
    assert slide.examples == [{"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3, "upstream": 1}]
    swish = [src for n in rub.graphs["swish"].nodes for src in n["inputs"]]
    assert swish.count("x") == 2  # a fan-out
    assert "MaxGate" in rub.graphs["patterns"].gates


def test_rubric_checks_the_max_tie_on_its_own(rub):
    tie = next(i for i in rub.items if i.id == "max-tie")
    assert tie.trials == 0 and tie.specials == [] and all(e["x"] == e["y"] for e in tie.examples)
    for item in rub.items:  # zeros (a tie at 0, 0) never reaches a max gate elsewhere
        uses_max = item.gate == "MaxGate" or (item.graph and "MaxGate" in rub.graphs[item.graph].gates)
        if uses_max and item.check not in ("format", "state"):
            assert "zeros" not in item.specials, item.id


# ---------------------------------------------------------------- release and grading

# `released` and `graded`: tests/conftest.py


def test_release_names_and_regions(released):
    assert {name: (item.name, len(item.regions)) for name, (item, _) in released.items()} == {
        "source.ipynb": ("sigmoid_neuron.ipynb", 5), "neuron.py": ("neuron.py", 5)}
    module = released["neuron.py"][1].read_text()
    assert "return [self.y * dz, self.x * dz]" in module  # given code stays
    assert module.count("# YOUR CODE HERE\n") == 5
    assert "da + db" not in module and "(1.0 - self.s)" not in module


def test_cli_release_copies_the_workflow_for_the_released_notebook(tmp_path, capsys):
    out = tmp_path / "release"
    assert cli.main(["release", str(ASSIGNMENT), "-o", str(out), "--student-rubric",
                     str(out / "rubric.yaml")]) == 0
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert [f for f in files if not f.startswith(".bpgrade/")] == [
        ".github/workflows/check.yml", ".gitlab-ci.yml", "neuron.py", "rubric.yaml", "sigmoid_neuron.ipynb"]
    workflow = yaml.safe_load((out / ".github" / "workflows" / "check.yml").read_text())
    assert workflow["env"]["SUBMISSION"] == "sigmoid_neuron.ipynb"
    student = rubric.load(out / "rubric.yaml")
    assert "graph-neuron-random" not in [i.id for i in student.items] and len(student.items) == 14


@pytest.mark.parametrize("name", ["source.ipynb", "neuron.py"])
def test_solution_gets_full_marks_and_its_self_check_passes(graded, name):
    result = graded["source " + name]
    assert [r.item.id for r in result.items if not r.outcome.passed] == []
    assert result.score == result.rubric.max_score == 100
    assert result.warnings == []  # every cell ran, the self-check's asserts included
    if name == "source.ipynb":
        assert "Self-check passed: f = 0.7311" in result.output


@pytest.mark.parametrize("name", ["source.ipynb", "neuron.py"])
def test_template_scores_zero_and_fails_only_on_its_placeholders(graded, released, rub, name):
    result = graded["template " + name]
    item = released[name][0]
    assert result.score == 0
    for r in result.items:
        assert validate.needs_student_code(r.item, rub)
        assert "raised NotImplementedError" in r.outcome.error, r.item.id
        assert r.outcome.where in item.placeholders, r.item.id
    for warning in result.warnings:
        assert any(warning.startswith(p + ": NotImplementedError") for p in item.placeholders), warning


def with_mistakes(text):
    """The module with three classic mistakes: σ instead of σ(1 - σ), max routing to
    both inputs, and a fan-out keeping one path's gradient."""
    swaps = [("dx = self.s * (1.0 - self.s) * dz", "dx = self.s * dz"),
             ("dx, dy = dz, 0.0", "dx, dy = dz, dz"), ("dx, dy = 0.0, dz", "dx, dy = dz, dz"),
             ("dx = da + db", "dx = da")]
    for old, new in swaps:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def test_wrong_gates_lose_their_items_with_named_mistakes_and_the_rubrics_hints(tmp_path, rub):
    sub = tmp_path / "neuron.py"
    sub.write_text(with_mistakes((ASSIGNMENT / "neuron.py").read_text()))
    result = score.grade(load.load(sub, class_names=list(rub.gates)), rub, seed=SEED)
    data = report.gradescope(result)
    lost = {t["extra_data"]["id"]: t["extra_data"]["mistake"] for t in data["tests"]
            if t["score"] < t["max_score"]}
    assert lost == {
        "sig-backward": "sigmoid_not_derivative", "sig-numerical": "sigmoid_not_derivative",
        "max-backward": "max_routes_to_both", "max-numerical": "max_routes_to_both", "max-tie": None,
        "copy-backward": "fan_out_overwritten", "copy-numerical": "fan_out_overwritten",
        "graph-neuron-slide": None, "graph-neuron-random": "sigmoid_not_derivative",
        "graph-swish": "sigmoid_not_derivative", "graph-patterns": "max_routes_to_both"}
    assert result.score == sum(i.points for i in rub.items if i.id not in lost)
    outputs = {t["extra_data"]["id"]: t["output"] for t in data["tests"]}
    assert rub.items[[i.id for i in rub.items].index("sig-backward")].mistakes[
        "sigmoid_not_derivative"] in outputs["sig-backward"]
    assert "only the input that max(x, y) picked" in outputs["max-backward"]
    assert "first input, x" in outputs["max-tie"]
    assert "every path add up" in outputs["copy-backward"]


# ---------------------------------------------------------------- bpgrade validate

def test_validate_counts_examples_as_cases(rub):
    """max-tie runs its two examples (rubric.load counts them, the backward check runs
    them); validate's reachability check must count them too."""
    tie = next(i for i in rub.items if i.id == "max-tie")
    assert tie.trials == 0 and tie.specials == [] and len(tie.examples) == 2
    assert validate.min_trials(tie) == ""


def test_validate_passes(rub):
    """(Was a bug: validate's reachability check ignored `examples`, so the examples-only
    max-tie item was reported as running nothing, though rubric.load and the checks run it.)"""
    rows, seed = validate.validate(ASSIGNMENT, seed=SEED)
    assert seed == SEED
    assert [(r.name, r.detail) for r in rows if not r.ok] == []
    names = [r.name for r in rows]
    assert names == ["rubric", "checks reachable", "release source.ipynb", "release neuron.py",
                     "solution source.ipynb", "template sigmoid_neuron.ipynb", "solution neuron.py",
                     "template neuron.py", "no solution text"]
    details = {r.name: r.detail for r in rows}
    assert details["template neuron.py"].startswith("0/100; 0 on the 15 items that need student code")
    assert details["solution source.ipynb"] == "100/100"


def test_cli_validate_passes():
    """What CI runs: `bpgrade validate assignments/sigmoid-neuron/`."""
    out = subprocess.run([str(BPGRADE), "validate", str(ASSIGNMENT) + "/", "--seed", str(SEED)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"^validate: all 9 passed \(seed %d\)$" % SEED, out.stdout, re.M), out.stdout
    assert "FAIL" not in out.stdout
