from .base import check, forward_backward


@check("backward")
def backward(ctx):
    """Gradients match the reference; one instance is reused across all trials."""
    gate, spec = ctx.student(), ctx.gate
    n = len(spec.outputs)
    cases = ctx.cases()
    answers = forward_backward(gate, cases)  # forward: its own check
    for case, (_, grads), (want, want32) in zip(cases, answers, ctx.expected_all(cases)):
        ctx.compare(case, gate.grads(grads, spec.shapes, spec.grads), want[n:], want32[n:],
                    spec.grads, robust=lambda: ctx.expected(case, robust=True)[1][n:])
