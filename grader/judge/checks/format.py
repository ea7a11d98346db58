from __future__ import annotations

from typing import TYPE_CHECKING

from backprop_grader.judge.checks.base import check, forward_backward

if TYPE_CHECKING:
    from backprop_grader.judge.checks.base import Context


@check("format")
def format_(ctx: Context) -> None:
    """forward returns one finite number per output and backward one per input,
    each of the right shape."""
    gate, spec, shapes = ctx.student(), ctx.gate, ctx.out_shapes()
    cases = ctx.cases(specials=False)[:3]
    for out, grads in forward_backward(gate, cases):
        gate.outputs(out, shapes, spec.outputs)
        gate.grads(grads, spec.grad_shapes, spec.grads)
        ctx.outcome.trials += 1
