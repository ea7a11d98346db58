import numpy as np

from .. import inputs
from .base import check


@check("graph")
def graph(ctx):
    """The student's gates composed as the rubric's graph give the chain rule's answers."""
    g = ctx.graph
    student = {n["name"]: ctx.student(n["gate"]) for n in g.nodes}
    names = [g.nodes[-1]["name"]] + ["d%s/d%s" % (g.nodes[-1]["name"], x) for x in g.inputs]
    for case in ctx.examples(g.inputs) + random_cases(ctx):
        want, shapes = run(g, case,
                           {n["name"]: ctx.reference(n["gate"]) for n in g.nodes})
        want32, _ = run(g, case,
                        {n["name"]: ctx.reference(n["gate"], np.float32) for n in g.nodes})
        got, _ = run(g, case, student, shapes)
        ctx.compare(case, got, want, want32, names)


def run(g, case, gates, shapes=None):
    """Forward through the nodes in order, then backward, adding up at fan-outs.

    Returns [output, gradient per graph input] and each node's output shape."""
    values = dict(zip(g.inputs, case.inputs))
    for node in g.nodes:
        values[node["name"]] = gates[node["name"]].forward(
            *[values[i] for i in node["inputs"]], shape=(shapes or {}).get(node["name"]))
    grads = {g.nodes[-1]["name"]: case.upstream}
    for node in reversed(g.nodes):
        upstream = grads.get(node["name"], np.zeros(np.shape(values[node["name"]])))
        for src, grad in zip(node["inputs"], gates[node["name"]].backward(
                upstream, [np.shape(values[i]) for i in node["inputs"]],
                ["d" + i for i in node["inputs"]])):
            grads[src] = grads.get(src, 0.0) + grad
    result = [values[g.nodes[-1]["name"]]] + [np.asarray(grads.get(x, 0.0)) for x in g.inputs]
    return result, {n["name"]: np.shape(values[n["name"]]) for n in g.nodes}


def random_cases(ctx):
    shapes = [()] * len(ctx.graph.inputs)
    return inputs.cases(ctx.rng, shapes, (), ctx.item.inputs, ctx.item.trials, ctx.item.specials)
