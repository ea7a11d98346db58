from .base import check


@check("backward")
def backward(ctx):
    """Gradients match the reference; one instance is reused across all trials."""
    gate, spec, shape = ctx.student(), ctx.gate, ctx.out_shape()
    for case in ctx.cases():
        want, want32 = ctx.expected(case)
        gate.forward(*case.inputs, shape=shape)
        got = gate.backward(case.upstream, spec.shapes, spec.grads)
        ctx.compare(case, got, want[1:], want32[1:], spec.grads)
