from ..probe import run
from .base import check


@check("backward")
def backward(ctx):
    """Gradients match the reference; one instance is reused across all trials."""
    gate, spec, shape = ctx.student(), ctx.gate, ctx.out_shape()
    cases = ctx.cases()
    answers = run([call for c in cases for call in
                   ((gate, "forward", c.inputs), (gate, "backward", [c.upstream]))])
    for case, out, grads in zip(cases, answers[::2], answers[1::2]):
        want, want32 = ctx.expected(case)
        gate.output(out, shape)
        ctx.compare(case, gate.grads(grads, spec.shapes, spec.grads), want[1:], want32[1:],
                    spec.grads)
