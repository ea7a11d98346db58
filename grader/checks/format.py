from ..probe import run
from .base import check


@check("format")
def format_(ctx):
    """forward returns one finite number per output and backward one per input,
    each of the right shape."""
    gate, spec, shapes = ctx.student(), ctx.gate, ctx.out_shapes()
    cases = ctx.cases(specials=False)[:3]
    answers = run([call for c in cases for call in
                   ((gate, "forward", c.inputs), (gate, "backward", c.upstream))])
    for out, grads in zip(answers[::2], answers[1::2]):
        gate.outputs(out, shapes, spec.outputs)
        gate.grads(grads, spec.shapes, spec.grads)
        ctx.outcome.trials += 1
