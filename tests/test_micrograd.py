"""The `engine` check (a scalar autograd engine, micrograd's Value) on tests/micrograd/.

tests/micrograd/expected.yaml says, for every standalone student file, which items of
assignments/micrograd/rubric.yaml fail, with which outcome kind and which named mistake;
every other item must pass (no false pass, no false fail), at every seed it lists. Each
(file, seed) is graded once, two at a time, with a short call timeout (honest graphs take
milliseconds; one file loops forever in backward).
"""
import io
import itertools
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from backprop_grader import load
from backprop_grader.errors import RubricError
from backprop_grader.judge import mistake_kinds, rubric, score
from backprop_grader.judge import engine_mistakes, graphs
from backprop_grader.reference import micrograd
from backprop_grader.report import results

HERE = Path(__file__).parent
CORPUS = HERE / "micrograd"
ASSIGNMENT = HERE.parent / "assignments" / "micrograd"
MANIFEST = yaml.safe_load((CORPUS / "expected.yaml").read_text(encoding="utf-8"))
RUBRIC = rubric.load(ASSIGNMENT / "rubric.yaml")
IDS = [item.id for item in RUBRIC.items]
GROUPS = {"all": IDS, "grads": [i for i in IDS if i != "ops-forward"],
          "shared": [i for i in IDS if i not in ("ops-forward", "numbers")]}
LIMITS = replace(RUBRIC.limits, call_timeout=0.5)


def ids(value):
    return GROUPS[value] if isinstance(value, str) else list(value or [])


def grade(file, seed, rub=RUBRIC, limits=LIMITS):
    return score.grade(load.load(CORPUS / file, class_names=["Value"]), rub, seed=seed, limits=limits)


@pytest.fixture(scope="module")
def graded():
    """{(file, seed): Result} for the whole corpus, each graded once."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {(f, s): pool.submit(grade, f, s) for f in MANIFEST["files"] for s in MANIFEST["seeds"]}
        yield {key: future.result() for key, future in futures.items()}


def problems(file, result):
    """What is wrong with one file's grading, against the manifest (empty: as expected)."""
    entry, found = MANIFEST["files"][file], []
    fail, varies, unnamed = ids(entry.get("fail")), ids(entry.get("varies")), ids(entry.get("unnamed"))
    for r in result.items:
        item, o = r.item.id, r.outcome
        named = o.mistake.id if o.mistake else None
        if item in varies:
            continue
        if item not in fail:
            if not o.passed:
                found.append("%s: a false fail (%s: %s)" % (item, o.kind, o.error or "wrong values"))
            continue
        if o.passed:
            found.append("%s: a false pass" % item)
            continue
        kinds = (entry.get("kinds") or {}).get(item) or [entry.get("kind", "wrong_answer")]
        if o.kind not in kinds:
            found.append("%s: ended as %s (%s), expected %s" % (item, o.kind, o.error, kinds))
        want = entry.get("mistake")
        if named != want and not (item in unnamed and named is None):
            found.append("%s: named %s, expected %s" % (item, named, want))
    return ["%s seed %d: %s" % (file, result.seed, p) for p in found]


def test_manifest_lists_exactly_the_corpus():
    assert sorted(MANIFEST["files"]) == sorted(p.name for p in CORPUS.glob("*.py"))
    kinds = {f.split("_")[0] for f in MANIFEST["files"]}
    assert kinds == {"correct", "mistake", "broken"}
    for file, entry in MANIFEST["files"].items():
        assert set(ids(entry.get("fail"))) | set(ids(entry.get("varies"))) <= set(IDS), file
        assert bool(entry.get("fail")) == (not file.startswith("correct")), file


def test_every_file_gets_what_the_manifest_says_at_every_seed(graded):
    found = [p for (file, _), result in graded.items() for p in problems(file, result)]
    assert not found, "\n".join(found)


def test_each_required_mistake_is_named(graded):
    named = {r.outcome.mistake.id for result in graded.values() for r in result.items if r.outcome.mistake}
    assert {"overwrote_grad", "topo_order", "pow_no_exponent", "tanh_used_input", "relu_passes_negative",
            "forgot_upstream", "reflected_order"} <= named
    assert named <= set(mistake_kinds.ENGINE) <= mistake_kinds.known_ids(RUBRIC.gates, {"engine"})
    assert all(mistake_kinds.MISTAKES[m].sentence and mistake_kinds.label(m) for m in mistake_kinds.ENGINE)
    assert not set(mistake_kinds.ENGINE) - {"forgot_upstream"} & mistake_kinds.known_ids(RUBRIC.gates)


def test_feedback_shows_the_graph_the_values_and_the_mistake(graded):
    text = results.text(graded["mistake_overwrote_grad.py", MANIFEST["seeds"][0]])
    block = text[text.index("Gradients of random graphs"):]
    for line in ("input:    a = ", "expected: ", "received: ", "note:     ", ".backward()", "mistake:  "):
        assert line in block, (line, block[:1500])
    # the mistake is said once, on the first item it costs; later items point to it
    assert text.count("mistake:  It looks like a gradient is assigned (grad = ...)") == 1
    assert text.count("mistake:  the same as in ") == len([r for r in graded[
        "mistake_overwrote_grad.py", MANIFEST["seeds"][0]].items if r.outcome.mistake and not r.item.hidden]) - 1
    assert "Hidden checks: 0 of 1 passed" in text


def test_overwrote_grad_in_some_operations_says_which(graded):
    """= in one operation only is named too, with the operations every explanation has (some of those the
    file assigns in: micrograd's a - b is a + (-b), a / b is a * b ** -1), or none when no operation is sure;
    = everywhere keeps the plain sentence."""
    def said(kinds):
        return mistake_kinds.sentence("overwrote_grad", where=engine_mistakes.assigned_in(kinds))
    for file, assigns in (("mistake_overwrote_grad_add.py", ("add_left", "add_right", "sub_left")),
                          ("mistake_overwrote_grad_mul.py", ("sub_right", "mul_left", "mul_right", "div_left", "neg"))):
        allowed = {said(k) for n in range(len(assigns) + 1) for k in itertools.combinations(assigns, n)}
        for seed in MANIFEST["seeds"]:
            named = [r.outcome.mistake.sentence for r in graded[file, seed].items if r.outcome.mistake]
            assert named and set(named) <= allowed, (file, seed, named)
            assert set(named) != {said(())}, (file, seed)  # some item says where
    plain = {r.outcome.mistake.sentence for seed in MANIFEST["seeds"]
             for r in graded["mistake_overwrote_grad.py", seed].items if r.outcome.mistake}
    assert plain == {said(())}


def test_overwrote_grad_is_not_named_for_answers_consistent_with_add():
    """The reference's own answers, and every grad 0 (backward() never set its output's grad to 1)."""
    rng, tol = np.random.default_rng(3), {"rtol": 1e-6, "atol": 1e-9}
    spec = graphs.settings(type("Item", (), {"engine": {"graphs": "fan_out", "uses": 2}})())
    programs = [graphs.program(rng, spec, [0.5, 4.0], [0.5, 4.0]) for _ in range(5)]
    runs = [micrograd.Engine().forward(*graphs.flat(p)) for p in programs]
    right = [micrograd.run(p) for p in programs]
    zero = [values[:p.size] + [0.0] * p.size for p, values in zip(programs, right)]
    assert engine_mistakes.overwrote(programs, right, runs, tol) is None
    assert engine_mistakes.overwrote(programs, zero, runs, tol) is None


def test_the_search_for_assigning_operations_is_bounded():
    """Two nodes used by many operations of every kind, with grads no hypothesis explains: the
    search gives up within its budget instead of trying every order and subset."""
    ops = [("add", 0, 1), ("sub", 0, 1), ("sub", 1, 0), ("mul", 0, 1), ("div", 0, 1), ("div", 1, 0),
           ("pow", 0, 2.0), ("neg", 0), ("tanh", 1), ("relu", 0), ("exp", 1)] * 3
    p = graphs.Program([0.5, 1.5, 2.0], [graphs.tie_off(ops, 3, 2.5, True)])
    rng = np.random.default_rng(0)
    local = rng.normal(size=(len(p.rounds[0]), 2))
    grad = np.zeros(p.size)
    grad[-1] = 1.0
    for j in range(len(p.rounds[0]) - 1, -1, -1):  # += everywhere...
        for slot, a in enumerate(p.rounds[0][j][1:]):
            if type(a) is int:
                grad[a] += local[j][slot] * grad[3 + j]
    grad[:2] = 7.0, -3.0  # ...but on the two nodes used everywhere
    start = time.perf_counter()
    assert engine_mistakes.some_ops([grad], [engine_mistakes.node_uses(p, local, grad)]) is None
    assert time.perf_counter() - start < 2


def test_numbers_graphs_are_trees_and_fan_out_plants_every_operation_in_every_place():
    """numbers never uses a node twice (its verdict cannot hang on set order); fan_out's
    trials, together, use some node twice in the same place of every operation."""
    rng = np.random.default_rng(11)
    spec = graphs.settings(type("Item", (), {"engine": {"graphs": "numbers"}})())
    for _ in range(20):
        steps = graphs.program(rng, spec, [0.5, 4.0], [0.5, 4.0]).rounds[0]
        nodes = [a for _, *args in steps for a in args if type(a) is int]
        assert len(nodes) == len(set(nodes))
    spec = graphs.settings(type("Item", (), {"engine": {"graphs": "fan_out"}})())
    for trials in (8, 5, 1):
        planted = set()
        for t in range(trials):
            steps = graphs.program(rng, spec, [0.5, 4.0], [0.5, 4.0], t, trials).rounds[0]
            for (op, *one), (op2, *two) in zip(steps, steps[1:]):
                same = [k for k, (a, b) in enumerate(zip(one, two)) if type(a) is int and a == b]
                planted |= {(op, k) for k in same if op == op2}
        assert planted >= {(op, k) for op in graphs.OPS for k in ((0, 1) if op in graphs.BINARY else (0,))}


@pytest.mark.parametrize("code", ["self.grad += out.grad", "other.grad += out.grad",
                                  "other.grad += self.data * out.grad", "self.grad += n * self.data",
                                  "self.grad += (1 - t ** 2)", "self.grad += (1.0 if out.data",
                                  "self.grad += out.data * out.grad"])
def test_assigning_in_any_one_place_fails_accumulate_whatever_the_order(tmp_path, code):
    """`=` for `+=` in one operation's one operand fails the fan-out item at every seed and
    names it, whatever order the student's set of children ran in (each grade is a new child)."""
    source = (CORPUS / "correct_karpathy.py").read_text(encoding="utf-8")
    assert source.count(code) == 1
    file = tmp_path / "assigns.py"
    file.write_text(source.replace(code, code.replace("+=", "=")), encoding="utf-8")
    only = replace(RUBRIC, items=[i for i in RUBRIC.items if i.id == "accumulate"])
    for seed in range(1, 6):
        result = score.grade(load.load(file, class_names=["Value"]), only, seed=seed, limits=LIMITS)
        (item,) = result.items
        assert not item.outcome.passed and item.outcome.kind == "wrong_answer", (seed, item.outcome)
        assert item.outcome.mistake and item.outcome.mistake.id == "overwrote_grad", (seed, item.outcome.mistake)


def test_reference_gradients_match_finite_differences():
    rng = np.random.default_rng(7)
    for kind in ("random", "fan_out", "deep", "numbers"):
        spec = graphs.settings(type("Item", (), {"engine": {"graphs": kind}})())
        for t in range(15):
            p = graphs.program(rng, spec, [0.5, 4.0], [0.5, 4.0], t % 8, 8)
            assert graphs.unflat(graphs.flat(p)) == p
            values = micrograd.run(p)
            n, leaves = p.size, len(p.leaves)
            for k in range(leaves):
                def out(h):
                    moved = replace(p, leaves=[x + (h if j == k else 0.0) for j, x in enumerate(p.leaves)])
                    return micrograd.run(moved)[n - 1]
                h = 1e-6 * max(1.0, abs(p.leaves[k]))
                numeric = (out(h) - out(-h)) / (2 * h)
                assert math.isclose(values[n + k], numeric, rel_tol=1e-4, abs_tol=1e-6), (graphs, p.code(), k)


def test_engine_block_errors_name_the_path(tmp_path):
    text = (ASSIGNMENT / "rubric.yaml").read_text(encoding="utf-8").replace("engine: {graphs: ops}",
                                                                            "engine: {graph: ops}")
    bad = tmp_path / "rubric.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(RubricError, match=r"checks\[0\]\.engine: unknown key 'graph'"):
        rubric.load(bad)
    bad.write_text(text.replace("{graph: ops}", "{graphs: ops}\n    mistakes: {overwrote_grad: use +=}"),
                   encoding="utf-8")
    assert rubric.load(bad).items[0].mistakes == {"overwrote_grad": "use +="}


def test_the_student_kit_grades_and_names_mistakes_offline(tmp_path):
    """A released kit replays the reference's recorded answers, variants included."""
    from backprop_grader.authoring import kit, release
    items = release.build(ASSIGNMENT, RUBRIC)
    out = tmp_path / "kit"
    release.write(items, out)
    kit.build(ASSIGNMENT, out, RUBRIC, items, stream=io.StringIO())
    kit_rubric = rubric.load(out / "rubric.yaml")
    seed = kit.kit_seed(RUBRIC)
    offline, online = grade("mistake_overwrote_grad.py", seed, kit_rubric), grade("mistake_overwrote_grad.py", seed)
    shown = {r.item.id: (r.outcome.passed, r.outcome.mistake and r.outcome.mistake.id) for r in offline.items}
    assert shown == {r.item.id: (r.outcome.passed, r.outcome.mistake and r.outcome.mistake.id)
                     for r in online.items if r.item.id in shown}
    assert shown["grads"] == (False, "overwrote_grad")
