from .base import check, forward_backward


@check("backward")
def backward(ctx):
    """Gradients match the reference; one instance is reused across all trials."""
    gate, spec = ctx.student(), ctx.gate
    n = len(spec.outputs)
    cases = ctx.cases()
    for case, (_, grads) in zip(cases, forward_backward(gate, cases)):  # forward: its own check
        want, want32 = ctx.expected(case)
        ctx.compare(case, gate.grads(grads, spec.shapes, spec.grads), want[n:], want32[n:],
                    spec.grads, robust=lambda: ctx.expected(case, robust=True)[1][n:])
