"""The gate library (reference/gates.py, rubrics/gate-library.yaml) and gates the
grader does not ship (an instructor's reference file next to a rubric).

- every reference gate against float64 central differences (vector-Jacobian
  products for the array gates and the copy gate's two outputs), and the max
  gate's tie conventions;
- the packaged gate-library rubric: every reference gate, non-square MatMul,
  broadcast bias add, graphs with fan-out, a tie item, random inputs clear of ties;
- student variants (tests/gates/): each is tests/gates/library.py (correct)
  followed by one redefined gate; the right ones get full marks, the wrong ones
  lose exactly the affected items, with the named mistake where a model exists;
- graphs with fan-out: the expected gradients add up over every use;
- an instructor-defined TanhGate (tests/gates/instructor/): graded and
  validated with no change to grader/, and out of reach of the student's code.
"""
import itertools
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

import backprop_grader.reference.gates as ref
from backprop_grader.judge import inputs, mistakes, rubric, score
from backprop_grader import load
from backprop_grader.authoring import release, validate
from backprop_grader.report import results as report
from backprop_grader.judge.checks import graph as graph_check
from backprop_grader.judge.checks.base import ReferenceGate
from backprop_grader.sandbox import isolation

TESTS = Path(__file__).resolve().parent
GATES = TESTS / "gates"
INSTRUCTOR = GATES / "instructor"
LIBRARY_PATH = rubric.find("gate-library")
LIBRARY = rubric.load(LIBRARY_PATH)
SEED = 2024


# ---------------------------------------------------------------- reference gates vs finite differences

# (reference class, input shapes); the forward of each is differentiated numerically
GATE_SHAPES = [
    (ref.MultiplyGate, [(), ()]),
    (ref.AddGate, [(), ()]),
    (ref.MaxGate, [(), ()]),
    (ref.MaxGate, [(3, 4), (3, 4)]),
    (ref.MaxGateSplitTies, [(), ()]),
    (ref.MaxGateSplitTies, [(6,), (6,)]),
    (ref.SigmoidGate, [()]),
    (ref.SigmoidGate, [(2, 5)]),
    (ref.ExpGate, [()]),
    (ref.ExpGate, [(4,)]),
    (ref.CopyGate, [()]),
    (ref.CopyGate, [(3,)]),
    (ref.MatMulGate, [(5, 3), (3,)]),
    (ref.MatMulGate, [(2, 7), (7,)]),
    (ref.BiasAddGate, [(4, 3), (3,)]),
    (ref.BiasAddGate, [(1, 6), (6,)]),
]


def as_list(out):
    return list(out) if isinstance(out, tuple) else [out]


def vjp_numeric(cls, xs, ups, h=1e-6):
    """d/d(each input element) of sum over outputs of <upstream, output>, by central differences."""
    def total(values):
        return sum(float(np.sum(u * np.asarray(o))) for u, o in zip(ups, as_list(cls().forward(*values))))
    grads = []
    for i, x in enumerate(xs):
        g = np.zeros(np.shape(x))
        for index in np.ndindex(np.shape(x)):
            moved = []
            for sign in (1, -1):
                values = [np.array(v, dtype=np.float64) for v in xs]
                values[i][index] += sign * h
                moved.append(total([v[()] if v.ndim == 0 else v for v in values]))
            g[index] = (moved[0] - moved[1]) / (2 * h)
        grads.append(g)
    return grads


def draw_apart(rng, shapes):
    """Inputs in ±[0.5, 3], every pair of same-shaped inputs at least 0.2 apart (no max ties)."""
    while True:
        xs = [rng.uniform(0.5, 3.0, s) * rng.choice([-1.0, 1.0], s) for s in shapes]
        if all(np.all(np.abs(a - b) > 0.2) for a, b in itertools.combinations(xs, 2)
               if np.shape(a) == np.shape(b)):
            return [x[()] if np.ndim(x) == 0 else x for x in xs]


@pytest.mark.parametrize("cls,shapes", GATE_SHAPES,
                         ids=["%s-%s" % (c.__name__, "x".join(map(str, s[0])) or "scalar")
                              for c, s in GATE_SHAPES])
def test_reference_gate_matches_central_differences(cls, shapes):
    rng = np.random.default_rng([SEED, len(shapes), sum(map(len, shapes))])
    for _ in range(5):
        xs = draw_apart(rng, shapes)
        gate = cls()
        outs = as_list(gate.forward(*xs))
        ups = [rng.uniform(0.5, 2.0, np.shape(o)) * rng.choice([-1.0, 1.0], np.shape(o)) for o in outs]
        got = list(gate.backward(*ups))
        want = vjp_numeric(cls, xs, ups)
        assert len(got) == len(xs)
        for g, w, x in zip(got, want, xs):
            assert np.shape(g) == np.shape(x)  # e.g. db has b's shape, dW has W's
            np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-8)


def test_reference_array_gate_shapes_are_the_ones_a_transpose_or_broadcast_gets_wrong():
    W, x = np.arange(15.0).reshape(5, 3), np.array([1.0, -2.0, 0.5])
    gate = ref.MatMulGate()
    assert gate.forward(W, x).shape == (5,)
    dW, dx = gate.backward(np.ones(5))
    assert dW.shape == (5, 3) and dx.shape == (3,)
    wrong = ref.MatMulTransposeMissing()
    wrong.forward(W, x)
    assert wrong.backward(np.ones(5))[0].shape == (3, 5)

    bias = ref.BiasAddGate()
    assert bias.forward(np.zeros((4, 3)), np.array([1.0, 2.0, 3.0])).shape == (4, 3)
    dz = np.arange(12.0).reshape(4, 3)
    dx, db = bias.backward(dz)
    np.testing.assert_array_equal(db, [18.0, 22.0, 26.0])  # summed over the 4 rows
    assert ref.BiasAddNotSummed().backward(dz)[1].shape == (4, 3)


@pytest.mark.parametrize("dz", [3.0, -0.5, 0.0])
def test_max_tie_conventions(dz):
    first, split = ref.MaxGate(), ref.MaxGateSplitTies()
    for gate in (first, split):
        assert gate.forward(2.0, 2.0) == 2.0
    dx, dy = first.backward(dz)
    assert (float(dx), float(dy)) == (dz, 0.0)  # the tie goes to the first input
    dx, dy = split.backward(dz)
    assert (float(dx), float(dy)) == (dz / 2, dz / 2)
    # both are subgradients: one-sided derivatives of max(x, y) at x == y are 0 and 1 for
    # each input, and the two shares add up to the derivative along x = y (1)
    h = 2.0 ** -20  # exact in binary
    for share in (first.backward(1.0), split.backward(1.0)):
        right = (max(2.0 + h, 2.0) - 2.0) / h
        left = (2.0 - max(2.0 - h, 2.0)) / h
        assert left <= float(share[0]) <= right and left <= float(share[1]) <= right
        assert float(share[0]) + float(share[1]) == pytest.approx(1.0)


def test_max_tie_conventions_elementwise_on_arrays():
    x, y = np.array([1.0, 2.0, -3.0, 0.0]), np.array([2.0, 2.0, -4.0, 0.0])
    dz = np.array([1.0, 4.0, 2.0, -6.0])
    first, split = ref.MaxGate(), ref.MaxGateSplitTies()
    first.forward(x, y)
    split.forward(x, y)
    dx, dy = first.backward(dz)
    np.testing.assert_array_equal(dx, [0.0, 4.0, 2.0, -6.0])
    np.testing.assert_array_equal(dy, [1.0, 0.0, 0.0, 0.0])
    dx, dy = split.backward(dz)
    np.testing.assert_array_equal(dx, [0.0, 2.0, 2.0, -3.0])
    np.testing.assert_array_equal(dy, [1.0, 2.0, 0.0, -3.0])


def test_declared_mistake_models_share_forward_and_differ_in_backward():
    """Each declared mistake is a real, different backward with the same forward."""
    rng = np.random.default_rng(SEED)
    shapes = {spec.reference: spec.shapes for spec in LIBRARY.gates.values()}
    declared = 0
    for cls, spec_shapes in shapes.items():
        for mistake_id, (sentence, wrongs) in mistakes.declared(cls).items():
            declared += 1
            assert sentence.startswith("It looks like") and mistake_id.isidentifier()
            for wrong in wrongs:  # a mistake may come in several forms (copy: either path)
                xs = draw_apart(rng, spec_shapes)
                right, bad = cls(), wrong()
                for a, b in zip(as_list(right.forward(*xs)), as_list(bad.forward(*xs))):
                    np.testing.assert_array_equal(a, b)
                ups = [rng.uniform(0.5, 2.0, np.shape(o)) for o in as_list(right.forward(*xs))]
                got, want = bad.backward(*ups), right.backward(*ups)
                assert any(np.shape(g) != np.shape(w) or not np.allclose(g, w)
                           for g, w in zip(got, want)) or len(got) != len(want), mistake_id
    assert declared == 5  # max, sigmoid, copy (two forms), matmul, bias add


# ---------------------------------------------------------------- the packaged rubric

def test_gate_library_rubric_covers_every_reference_gate():
    gates = {n: g.reference for n, g in LIBRARY.gates.items()}
    assert gates == {"MultiplyGate": ref.MultiplyGate, "AddGate": ref.AddGate, "MaxGate": ref.MaxGate,
                     "SigmoidGate": ref.SigmoidGate, "ExpGate": ref.ExpGate, "CopyGate": ref.CopyGate,
                     "MatMulGate": ref.MatMulGate, "BiasAddGate": ref.BiasAddGate}
    classes = {name: value for name, value in vars(ref).items() if isinstance(value, type)
               and value.__module__ == ref.__name__}
    wrong = {w for c in classes.values() for _, ws in mistakes.declared(c).values() for w in ws}
    right = {name for name, c in classes.items() if c not in wrong}
    assert right - set(gates) == {"MaxGateSplitTies"}  # the other tie convention, by choice
    assert len(wrong) == 6  # copy's mistake comes in two forms (either path kept)
    tested = {i.gate for i in LIBRARY.items if i.gate}
    assert tested == set(gates)
    assert LIBRARY.gates["CopyGate"].outputs == ["a", "b"]
    assert LIBRARY.gates["CopyGate"].upstreams == ["da", "db"]
    W, x = LIBRARY.gates["MatMulGate"].shapes
    assert W[0] != W[1] and W[1] == x[0]  # non-square: a transpose changes the shape
    xb, b = LIBRARY.gates["BiasAddGate"].shapes
    assert len(xb) == 2 and b == xb[1:]  # b broadcast over the rows


def test_gate_library_graphs_use_a_variable_twice():
    def fanned_out(g):
        uses = [src for node in g.nodes for src in node["inputs"]]
        return {v for v in uses if uses.count(v) > 1}
    assert fanned_out(LIBRARY.graphs["square"]) == {"x"}
    assert fanned_out(LIBRARY.graphs["swish"]) == {"x"}
    neuron = LIBRARY.graphs["neuron"]
    assert [n["gate"] for n in neuron.nodes] == ["MultiplyGate", "MultiplyGate", "AddGate", "AddGate",
                                                 "SigmoidGate"]
    assert "MaxGate" in LIBRARY.graphs["patterns"].gates


def max_items():
    return [i for i in LIBRARY.items if i.gate == "MaxGate" or
            (i.graph and "MaxGate" in LIBRARY.graphs[i.graph].gates)]


def test_max_tie_item_checks_ties_only_and_other_max_items_never_draw_a_tie():
    tie = next(i for i in LIBRARY.items if i.id == "max-tie")
    assert tie.trials == 0 and tie.specials == [] and len(tie.examples) >= 2
    assert all(e["x"] == e["y"] for e in tie.examples)
    for item in max_items():
        if item is tie:
            continue
        names = LIBRARY.graphs[item.graph].inputs if item.graph else ["x", "y"]
        pairs = [("z", "w")] if item.graph else [("x", "y")]
        shapes = [()] * len(names)
        for e in item.examples:
            assert all(e[a] != e[b] for a, b in pairs), item.id
        specials = () if item.check in ("format", "state") else item.specials  # as the checks do
        for seed in range(25):  # the cases the check draws: random trials and specials
            rng = score.item_rng(seed, item.id)
            for case in inputs.cases(rng, shapes, [()], item.inputs, item.trials, specials):
                values = dict(zip(names, case.inputs))
                for a, b in pairs:
                    gap = abs(values[a] - values[b])
                    assert gap > 0.05 * max(abs(values[a]), abs(values[b])), (item.id, case.label)


# ---------------------------------------------------------------- student variants

def max_wrong(m):
    return {"max-backward": m, "max-numerical": m, "max-tie": None, "graph-patterns": m}


def sig_wrong(m, slide=True):
    found = {"sig-backward": m, "sig-numerical": m, "graph-neuron": m, "graph-swish": m}
    if slide:  # one example: too little evidence to name a mistake there
        found["graph-neuron-slide"] = None
    return found


def shape_error(prefix, m):
    return {prefix + "-format": None, prefix + "-backward": m, prefix + "-numerical": m, prefix + "-state": m}


# variant -> {failing item: named mistake (None: fails, nothing named)}
EXPECTED = {
    "library": {},
    "max_numpy": {}, "max_float32": {},
    "sigmoid_math": {}, "sigmoid_tanh": {},
    "exp_math": {}, "exp_float32": {},
    "copy_list": {}, "copy_numpy": {},
    "matmul_dot": {}, "matmul_float32": {}, "matmul_loops": {},
    "bias_loop": {}, "bias_float32": {},
    # right away from ties, another convention at a tie: only the tie item is lost
    "max_split_ties": {"max-tie": None},
    "max_strict": {"max-tie": None},
    "max_routes_to_both": max_wrong("max_routes_to_both"),
    "max_forgot_upstream": max_wrong("forgot_upstream"),
    "max_sign": max_wrong("sign_error"),
    "max_to_smaller": max_wrong("swapped_inputs"),
    "sigmoid_uses_sigma": sig_wrong("sigmoid_not_derivative"),
    # the slide's example has upstream 1, where a forgotten upstream gradient is invisible
    "sigmoid_forgot_upstream": sig_wrong("forgot_upstream", slide=False),
    "sigmoid_sign": sig_wrong("sign_error"),
    "sigmoid_exp_rule": sig_wrong("exp_rule_in_sigmoid"),
    "sigmoid_one_plus": sig_wrong(None),
    "exp_forgot_upstream": {"exp-backward": "forgot_upstream", "exp-numerical": "forgot_upstream"},
    "exp_sign": {"exp-backward": "sign_error", "exp-numerical": "sign_error"},
    "exp_times_input": {"exp-backward": None, "exp-numerical": None},
    "copy_keeps_first": {"copy-backward": "fan_out_overwritten", "copy-numerical": "fan_out_overwritten"},
    "copy_keeps_last": {"copy-backward": "fan_out_overwritten", "copy-numerical": "fan_out_overwritten"},
    # a constant answer: the consistency checks have nothing to judge
    "copy_forgot_upstream": {"copy-backward": "forgot_upstream", "copy-numerical": "forgot_upstream",
                             "copy-state": "forgot_upstream"},
    "copy_average": {"copy-backward": None, "copy-numerical": None},
    "matmul_transpose_missing": shape_error("mm", "transpose_missing"),
    "matmul_forgot_upstream": {"mm-backward": "forgot_upstream", "mm-numerical": "forgot_upstream"},
    "matmul_sign": {"mm-backward": "sign_error", "mm-numerical": "sign_error"},
    "bias_not_summed": shape_error("bias", "broadcast_not_summed"),
    "bias_keepdims": shape_error("bias", None),
    "bias_wrong_axis": shape_error("bias", None),
    "bias_mean": {"bias-backward": None, "bias-numerical": None},
    "bias_sign": {"bias-backward": "sign_error", "bias-numerical": "sign_error"},
}

# the problem a wrong shape is reported as, on every item it fails
SHAPE_MESSAGES = {
    "matmul_transpose_missing": "dW has shape (3, 5), expected (5, 3)",
    "bias_not_summed": "db has shape (4, 3), expected (3,)",
    "bias_keepdims": "db has shape (1, 3), expected (3,)",
    "bias_wrong_axis": "db has shape (4,), expected (3,)",
}

# graded on their own rubrics below
ELSEWHERE = {"sigmoid_float32", "tanh_good", "tanh_uses_tanh", "tanh_thief"}


def compose(variant, folder):
    """tests/gates/library.py followed by the variant's module: its class replaces the library's."""
    path = Path(folder) / ("%s.py" % variant)
    text = (GATES / "library.py").read_text()
    if variant != "library":
        text += "\n\n# ---- %s.py\n" % variant + (GATES / ("%s.py" % variant)).read_text()
    path.write_text(text)
    return path


def grade(path, rub, seed=SEED, **kw):
    return score.grade(load.load(path, class_names=list(rub.gates)), rub, seed=seed, **kw)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One grading per variant on the packaged rubric, shared by every assertion."""
    folder, cache = tmp_path_factory.mktemp("variants"), {}

    def get(variant):
        if variant not in cache:
            result = grade(compose(variant, folder), LIBRARY)
            cache[variant] = (result, report.gradescope(result))
        return cache[variant]
    return get


def test_every_variant_module_is_in_the_table():
    modules = {p.stem for p in GATES.glob("*.py")}
    assert modules == set(EXPECTED) | ELSEWHERE


def failing(data):
    return {t["extra_data"]["id"]: t["extra_data"]["mistake"] for t in data["tests"]
            if t["score"] < t["max_score"]}


@pytest.mark.parametrize("variant", sorted(EXPECTED))
def test_variant_loses_exactly_the_affected_items(graded, variant):
    result, data = graded(variant)
    assert result.warnings == [] and result.loaded.problem == ""
    assert failing(data) == EXPECTED[variant]
    lost = sum(r.item.points for r in result.items if r.item.id in EXPECTED[variant])
    assert result.score == pytest.approx(LIBRARY.max_score - lost)
    by_id = {t["extra_data"]["id"]: t for t in data["tests"]}
    for item_id, mistake in EXPECTED[variant].items():
        output = by_id[item_id]["output"]
        if variant in SHAPE_MESSAGES:
            assert SHAPE_MESSAGES[variant] in output, item_id
        for spec in LIBRARY.gates.values():  # a declared mistake is explained in its own words
            if mistake in getattr(spec.reference, "mistakes", {}):
                sentence = spec.reference.mistakes[mistake][0]
                assert sentence[1:] in output, item_id  # graphs: "In MaxGate: it looks like..."
                if item_id.startswith("graph"):
                    assert "In %s: i" % spec.name in output


def test_float32_students_get_full_marks_at_any_seed(tmp_path):
    """float32 is a sensible way to compute these gates; its round-off must not cost marks.
    (float32 answers are compared with rtol 1e-3 and atol 1e-5: float32 cancels in σ(1 - σ)
    near σ ≈ 1 and in W.T @ dz.)"""
    data = yaml.safe_load(LIBRARY_PATH.read_text())
    data["checks"] = [c for c in data["checks"] if c["id"] in ("sig-backward", "mm-backward", "graph-neuron")]
    path = tmp_path / "float32.yaml"
    path.write_text(yaml.safe_dump(data))
    rub = rubric.load(path)
    sub = tmp_path / "f32.py"
    sub.write_text("\n\n".join((GATES / n).read_text() for n in
                               ("library.py", "sigmoid_float32.py", "matmul_float32.py")))
    lost = {}
    for seed in range(5):
        result = grade(sub, rub, seed=seed)
        bad = [r.item.id for r in result.items if not r.outcome.passed]
        if bad:
            lost[seed] = bad
    assert lost == {}


def test_numerical_check_does_not_cross_the_max_kink_at_small_inputs(tmp_path):
    """At the `small` special (inputs ~1e-7) the numerical check's step is 1e-5, which
    crosses x == y: the finite difference of max is then not the gradient on either side.
    (Fixed: the step shrinks with tiny inputs.)"""
    data = yaml.safe_load(LIBRARY_PATH.read_text())
    data["checks"] = [dict(c, specials=["small"], trials=1) for c in data["checks"] if c["id"] == "max-numerical"]
    path = tmp_path / "kink.yaml"
    path.write_text(yaml.safe_dump(data))
    rub = rubric.load(path)
    result = grade(compose("library", tmp_path), rub, seed=SEED)
    failures = result.items[0].outcome.failures
    assert result.items[0].outcome.passed, failures[0] if failures else result.items[0].outcome.error


def test_default_specials_do_not_check_the_max_tie_inside_the_backward_item(tmp_path):
    """A MaxGate item left with the default specials draws `zeros`, whose "all inputs
    zero" case is x == y: the tie, which the issue wants checked only as its own,
    documented case. A student with the split convention then loses the whole
    backward item. (Fixed: the reference declares its kink.)"""
    path = tmp_path / "defaults.yaml"
    path.write_text(yaml.safe_dump({
        "assignment": "max-defaults",
        "gates": {"MaxGate": {"reference": "reference.gates:MaxGate", "inputs": ["x", "y"]}},
        "checks": [{"id": "max-backward", "gate": "MaxGate", "check": "backward", "points": 1}]}))
    rub = rubric.load(path)
    assert "zeros" in rub.items[0].specials
    outcome = grade(compose("max_split_ties", tmp_path), rub).items[0].outcome
    assert outcome.passed, [f.label for f in outcome.failures]


def test_a_graph_of_array_gates_is_refused_or_graded(tmp_path):
    """Graph inputs are drawn as scalars. A graph node whose gate takes arrays (MatMulGate)
    must either be refused when the rubric loads, naming the gate, or be graded with
    inputs of the gate's shapes; today rubric.load accepts it and grading raises a
    TypeError in the trusted parent (W @ x on two floats)."""
    data = yaml.safe_load(LIBRARY_PATH.read_text())
    data["graphs"] = {"layer": {"inputs": ["W", "x"],
                                "nodes": [{"name": "z", "gate": "MatMulGate", "inputs": ["W", "x"]}]}}
    data["checks"] = [{"id": "graph-layer", "graph": "layer", "check": "graph", "points": 1}]
    path = tmp_path / "layer.yaml"
    path.write_text(yaml.safe_dump(data))
    try:
        rub = rubric.load(path)
    except rubric.RubricError as exc:
        assert "MatMulGate" in str(exc) and "shape" in str(exc)
        return
    result = grade(compose("library", tmp_path), rub)
    assert result.items[0].outcome.passed, result.items[0].outcome.error


# ---------------------------------------------------------------- the tie convention is the reference's

@pytest.fixture(scope="module")
def split_ties_rubric(tmp_path_factory):
    """The packaged rubric's max items, with MaxGate's reference set to the split convention."""
    data = yaml.safe_load(LIBRARY_PATH.read_text())
    data["gates"]["MaxGate"]["reference"] = "reference.gates:MaxGateSplitTies"
    data["checks"] = [c for c in data["checks"] if c.get("gate") == "MaxGate"]
    data.pop("graphs")
    path = tmp_path_factory.mktemp("split") / "split.yaml"
    path.write_text(yaml.safe_dump(data))
    return rubric.load(path)


@pytest.mark.parametrize("variant,lost", [("max_split_ties", []), ("library", ["max-tie"]),
                                          ("max_strict", ["max-tie"]),
                                          ("max_routes_to_both", ["max-backward", "max-numerical", "max-tie"])])
def test_choosing_the_reference_class_sets_the_tie_convention(split_ties_rubric, tmp_path, variant, lost):
    result = grade(compose(variant, tmp_path), split_ties_rubric)
    assert [r.item.id for r in result.items if not r.outcome.passed] == lost
    assert result.rubric.gates["MaxGate"].reference is ref.MaxGateSplitTies


def test_tie_item_failure_shows_the_tie_and_the_convention(graded):
    result, data = graded("max_strict")
    tie = next(r for r in result.items if r.item.id == "max-tie")
    assert tie.outcome.trials == 2 and len(tie.outcome.failures) == 2
    example = tie.outcome.failures[0]
    assert example.label == "example" and float(example.inputs["x"]) == float(example.inputs["y"])
    assert [float(example.expected[k]) for k in ("dx", "dy")] == [float(example.inputs["dz"]), 0.0]
    output = next(t["output"] for t in data["tests"] if t["extra_data"]["id"] == "max-tie")
    assert "first input" in output


# ---------------------------------------------------------------- graphs with fan-out

def composed_forward(g, values):
    env = dict(zip(g.inputs, values))
    for node in g.nodes:
        env[node["name"]] = float(as_list(LIBRARY.gates[node["gate"]].reference().forward(
            *[env[s] for s in node["inputs"]]))[0])
    return env[g.nodes[-1]["name"]]


@pytest.mark.parametrize("name", ["square", "swish", "neuron", "patterns"])
def test_graph_expected_gradients_add_up_over_every_use(name):
    """The grader's own wiring of the reference gates (which gives every graph check its
    expected values) matches central differences of the composed function: at a
    variable used twice the gradients of both uses are added, not overwritten."""
    g = LIBRARY.graphs[name]
    rng = np.random.default_rng([SEED, len(name)])
    cases = inputs.cases(rng, [()] * len(g.inputs), [()], LIBRARY.items[0].inputs, 6, ())
    results, _ = graph_check.run(g, cases, lambda gate: [ReferenceGate(LIBRARY.gates[gate].reference)
                                                        for _ in cases])
    for case, (out, *grads) in zip(cases, results):
        values = [float(v) for v in case.inputs]
        up = float(case.upstream[0])
        assert float(out) == pytest.approx(composed_forward(g, values), rel=1e-12)
        for i, grad in enumerate(grads):
            h = 1e-6 * max(1.0, abs(values[i]))
            plus, minus = list(values), list(values)
            plus[i] += h
            minus[i] -= h
            numeric = up * (composed_forward(g, plus) - composed_forward(g, minus)) / (2 * h)
            assert float(grad) == pytest.approx(numeric, rel=1e-5, abs=1e-7), (name, g.inputs[i])
    if name == "square":  # f = x * x: 2 x dz, where an overwrite would give x dz
        for case, (_, dx) in zip(cases, results):
            x, up = float(case.inputs[0]), float(case.upstream[0])
            assert float(dx) == pytest.approx(2 * x * up) and abs(float(dx) - x * up) > 0.1


def test_student_side_fan_out_mistake_is_the_copy_gate(graded):
    """The grader wires graphs and adds gradients itself, so a student overwrites a
    fan-out's gradient in CopyGate.backward: named there, and the graphs still pass."""
    result, data = graded("copy_keeps_first")
    copy_items = {t["extra_data"]["id"]: t for t in data["tests"] if t["tags"] == ["CopyGate"]}
    assert copy_items["copy-backward"]["extra_data"]["mistake"] == "fan_out_overwritten"
    assert "every path add up" in copy_items["copy-backward"]["output"]
    assert copy_items["copy-forward"]["score"] == copy_items["copy-forward"]["max_score"]
    graphs = [t for t in data["tests"] if t["tags"] == ["graph"]]
    assert graphs and all(t["score"] == t["max_score"] for t in graphs)


# ---------------------------------------------------------------- an instructor's own gate

INSTRUCTOR_RUBRIC = INSTRUCTOR / "rubric.yaml"
REF_FILE = INSTRUCTOR / "course" / "ref.py"


@pytest.fixture(scope="module")
def tanh_rubric():
    return rubric.load(INSTRUCTOR_RUBRIC)


def test_instructor_reference_is_loaded_from_the_file_beside_the_rubric(tanh_rubric):
    assert yaml.safe_load(INSTRUCTOR_RUBRIC.read_text())["gates"]["TanhGate"]["reference"] == \
        "course/ref.py:TanhGate"
    cls = tanh_rubric.gates["TanhGate"].reference
    assert cls.__name__ == "TanhGate"
    assert Path(cls.forward.__code__.co_filename).resolve() == REF_FILE.resolve()
    assert cls.__module__ not in sys.modules  # loaded by path, never registered for import
    assert tanh_rubric.gates["MultiplyGate"].reference is ref.MultiplyGate
    gate = cls()
    gate.forward(0.5)
    assert float(gate.backward(2.0)[0]) == pytest.approx(2.0 * (1 - np.tanh(0.5) ** 2))


@pytest.mark.parametrize("student,lost", [
    ("tanh_good", {}),
    ("tanh_uses_tanh", {"tanh-backward": "tanh_not_derivative", "tanh-numerical": "tanh_not_derivative",
                        "graph-neuron": "tanh_not_derivative"}),
])
def test_instructor_gate_is_graded_with_its_own_named_mistake(tanh_rubric, student, lost):
    result = grade(GATES / ("%s.py" % student), tanh_rubric)
    data = report.gradescope(result)
    assert failing(data) == lost
    if lost:
        sentence = tanh_rubric.gates["TanhGate"].reference.mistakes["tanh_not_derivative"][0]
        assert sentence in "\n".join(t["output"] for t in data["tests"])


def test_instructor_assignment_validates_and_never_releases_the_reference(tanh_rubric, tmp_path):
    items = release.build(INSTRUCTOR, tanh_rubric)
    assert [i.source.name for i in items] == ["tanh.py"]
    assert REF_FILE.resolve() in release.reference_files(tanh_rubric)
    rows, _ = validate.validate(INSTRUCTOR, seed=SEED)
    assert [r.name for r in rows if not r.ok] == [], validate.table(rows)


CAPS = isolation.capabilities()
TIERS = {3: (None, "" if CAPS["bwrap"] else "bubblewrap is not usable here"),
         2: ({"landlock", "seccomp"},
             "" if CAPS["landlock"] and CAPS["seccomp"] else "Landlock or seccomp is not available here"),
         1: (set(), "")}


@pytest.mark.parametrize("tier", [pytest.param(t, id="tier%d" % t, marks=pytest.mark.skipif(
    bool(TIERS[t][1]), reason=TIERS[t][1])) for t in (3, 2, 1)])
def test_student_code_cannot_reach_the_instructor_reference(tanh_rubric, tmp_path, tier):
    """An attack that imports the reference, reads it at its absolute path, searches
    the disk and the live objects for it. At tiers 3 and 2 it finds nothing and gets
    no mark for tanh's gradient. Tier 1 (no file-system confinement, by design) is
    the baseline: only the file read works there, never an import or a live object,
    since the reference exists in the trusted parent only."""
    source = (GATES / "tanh_thief.py").read_text()
    assert 'REF_PATH = "/nonexistent/course/ref.py"' in source
    sub = tmp_path / "tanh_thief.py"
    sub.write_text(source.replace('REF_PATH = "/nonexistent/course/ref.py"',
                                  "REF_PATH = %r" % str(REF_FILE.resolve())))
    result = grade(sub, tanh_rubric, allow=TIERS[tier][0])
    assert result.isolation.get("tier") == tier
    found = re.search(r"^found=(.*)$", result.output, re.M)
    assert found, result.output
    passed = {r.item.id for r in result.items if r.outcome.passed}
    if tier == 1:
        assert found.group(1) == "['file']"
        assert {"tanh-backward", "graph-neuron"} <= passed
        return
    assert found.group(1) == "[]" and "reference not found" in result.output
    assert "LEAK" not in result.output
    assert passed == {"tanh-format", "tanh-state"}  # consistent, but the wrong formula
    mistakes = {r.item.id: r.outcome.mistake.id for r in result.items if r.outcome.mistake}
    assert mistakes["tanh-backward"] == "tanh_not_derivative"
