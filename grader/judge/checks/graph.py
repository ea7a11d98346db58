from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from backprop_grader.judge import inputs
from backprop_grader.judge.probe import StudentGate, run as run_calls
from backprop_grader.judge.inputs import Case
from backprop_grader.judge.checks.base import check, float32_moved, per_case

if TYPE_CHECKING:
    from backprop_grader.judge.checks.base import Context
    from backprop_grader.judge.rubric import Graph


@check("graph")
def graph(ctx: Context) -> None:
    """The student's gates composed as the rubric's graph give the chain rule's answers."""
    g = ctx.graph
    cases = ctx.examples(g.inputs) + random_cases(ctx)
    names = [g.nodes[-1]["name"]] + ["d%s/d%s" % (g.nodes[-1]["name"], x) for x in g.inputs]
    _, shapes = run(g, cases[:1], lambda gate: [ctx.reference(gate)])
    got, _ = run(g, cases, lambda gate: ctx.many_students(gate, len(cases)), shapes)

    def reference(case):
        def evaluate(dtype, scale=1.0, magnitude=False, nudge=0):
            return run(g, [scaled(case, scale, magnitude)],
                       lambda gate: [ctx.reference(gate, dtype, nudge)])[0][0]
        return evaluate

    key = tuple(ctx.rubric.gates[n["gate"]].reference for n in g.nodes)
    expected = per_case(lambda c: float32_moved(reference(c), robust=False), cases, key)

    def robust(ks):
        return [w32 for _, w32 in per_case(lambda c: float32_moved(reference(c)),
                                           [cases[k] for k in ks], key + ("robust",))]

    ctx.compare_all(cases, got, [w for w, _ in expected], [w32 for _, w32 in expected], names,
                    robust=robust)


def scaled(case: Case, scale: float, magnitude: bool) -> Case:
    if magnitude:
        return Case([np.abs(x) for x in case.inputs], [np.abs(u) for u in case.upstream])
    return Case([x * scale for x in case.inputs], case.upstream)


def run(g: Graph, cases: list[Case], make: Callable[[str], list],
        shapes: dict | None = None) -> tuple[list[list], dict]:
    """Every case through the graph, one stage at a time: forward through the nodes
    in order, then backward in reverse, adding gradients up at fan-outs. Each node
    gets its own gate instance per case (`make(gate name)` -> one per case).

    Returns, per case, [output, gradient per graph input]; and each node's output shape."""
    gates = {n["name"]: make(n["gate"]) for n in g.nodes}
    values = [dict(zip(g.inputs, c.inputs)) for c in cases]
    for node in g.nodes:
        outs = forward(gates[node["name"]], [[v[i] for i in node["inputs"]] for v in values],
                       (shapes or {}).get(node["name"]))
        for v, out in zip(values, outs):
            v[node["name"]] = out
    last = g.nodes[-1]["name"]
    grads = [{last: c.upstream[0]} for c in cases]
    for node in reversed(g.nodes):
        name = node["name"]
        ups = [gr.get(name, np.zeros(np.shape(v[name]))) for gr, v in zip(grads, values)]
        in_shapes = [np.shape(values[0][i]) for i in node["inputs"]]
        answers = backward(gates[name], ups, in_shapes, ["d" + i for i in node["inputs"]])
        for gr, answer in zip(grads, answers):
            for src, grad in zip(node["inputs"], answer):
                gr[src] = gr.get(src, 0.0) + grad
    results = [[v[last]] + [np.asarray(gr.get(x, 0.0)) for x in g.inputs]
               for v, gr in zip(values, grads)]
    return results, {n["name"]: np.shape(values[0][n["name"]]) for n in g.nodes} if cases else {}


def forward(gates: list, args: list[list], shape: tuple | None) -> list:
    if isinstance(gates[0], StudentGate):
        raw = run_calls([(gate, "forward", a) for gate, a in zip(gates, args)])
        return [gate.outputs(r, [shape], ["output"])[0] for gate, r in zip(gates, raw)]
    return [gate.forward(*a)[0] for gate, a in zip(gates, args)]


def backward(gates: list, ups: list, shapes: Sequence[tuple], names: Sequence[str]) -> list:
    if isinstance(gates[0], StudentGate):
        raw = run_calls([(gate, "backward", [u]) for gate, u in zip(gates, ups)])
        return [gate.grads(r, shapes, names) for gate, r in zip(gates, raw)]
    return [gate.backward(u) for gate, u in zip(gates, ups)]


def random_cases(ctx: Context) -> list[Case]:
    shapes = [()] * len(ctx.graph.inputs)
    return inputs.cases(ctx.rng, shapes, [()], ctx.item.inputs, ctx.item.trials,
                        ctx.item.specials)
