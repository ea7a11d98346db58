from __future__ import annotations

from typing import TYPE_CHECKING

from backprop_grader.judge.checks.base import check, forward_backward

if TYPE_CHECKING:
    from backprop_grader.judge.checks.base import Context


@check("backward")
def backward(ctx: Context) -> None:
    """Gradients match the reference; one instance is reused across all trials."""
    gate, spec = ctx.student(), ctx.gate
    n = len(spec.outputs)
    cases = ctx.cases()
    answers = forward_backward(gate, cases)  # forward: its own check
    got = [gate.grads(grads, spec.grad_shapes, spec.grads) for _, grads in answers]
    expected = ctx.expected_all(cases)
    ctx.compare_all(cases, got, [w[n:] for w, _ in expected], [w32[n:] for _, w32 in expected],
                    spec.grads, robust=lambda ks: [w32[n:] for _, w32 in ctx.expected_all(
                        [cases[k] for k in ks], robust=True)])
