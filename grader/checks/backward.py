from ..probe import run
from .base import check


@check("backward")
def backward(ctx):
    """Gradients match the reference; one instance is reused across all trials."""
    gate, spec = ctx.student(), ctx.gate
    n = len(spec.outputs)
    cases = ctx.cases()
    answers = run([call for c in cases for call in
                   ((gate, "forward", c.inputs), (gate, "backward", c.upstream))])
    for case, grads in zip(cases, answers[1::2]):  # forward's answers: the forward check's
        want, want32 = ctx.expected(case)
        ctx.compare(case, gate.grads(grads, spec.shapes, spec.grads), want[n:], want32[n:],
                    spec.grads, robust=lambda: ctx.expected(case, robust=True)[1][n:])
