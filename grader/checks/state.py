from .base import check


@check("state")
def state(ctx):
    """Cached inputs: the latest forward wins, instances don't share, backward repeats."""
    spec, shape = ctx.gate, ctx.out_shape()
    one, a, b = ctx.student(), ctx.student(), ctx.student()
    cases = ctx.cases(specials=False)
    for first, second in zip(cases[::2], cases[1::2]):
        want1, want1_32 = ctx.expected(first)
        want2, want2_32 = ctx.expected(second)
        grads = spec.grads

        one.forward(*first.inputs, shape=shape)
        one.forward(*second.inputs, shape=shape)
        ctx.compare(second, one.backward(second.upstream, spec.shapes, grads), want2[1:],
                    want2_32[1:], grads, note="forward was called twice; backward must use "
                                              "the second call's inputs")

        a.forward(*first.inputs, shape=shape)
        b.forward(*second.inputs, shape=shape)
        ctx.compare(first, a.backward(first.upstream, spec.shapes, grads), want1[1:],
                    want1_32[1:], grads, note="two instances were used in turn; this one's "
                                              "backward must use its own inputs")
        ctx.compare(second, b.backward(second.upstream, spec.shapes, grads), want2[1:],
                    want2_32[1:], grads, note="two instances were used in turn")

        one.forward(*first.inputs, shape=shape)
        one.backward(first.upstream, spec.shapes, grads)
        ctx.compare(first, one.backward(first.upstream, spec.shapes, grads), want1[1:],
                    want1_32[1:], grads, note="backward was called a second time with the "
                                              "same upstream gradient")
