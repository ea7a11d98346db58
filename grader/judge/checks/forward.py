from __future__ import annotations

from typing import TYPE_CHECKING

from backprop_grader.judge.probe import run
from backprop_grader.judge.checks.base import check

if TYPE_CHECKING:
    from backprop_grader.judge.checks.base import Context


@check("forward")
def forward(ctx: Context) -> None:
    """The student's forward outputs match the reference's."""
    gate, spec, shapes = ctx.student(), ctx.gate, ctx.out_shapes()
    n = len(spec.outputs)
    cases = ctx.cases()
    answers = run([(gate, "forward", c.inputs) for c in cases])
    got = [gate.outputs(raw, shapes, spec.outputs) for raw in answers]
    expected = ctx.expected_all(cases)
    ctx.compare_all(cases, got, [w[:n] for w, _ in expected], [w32[:n] for _, w32 in expected],
                    spec.outputs, robust=lambda ks: [w32[:n] for _, w32 in ctx.expected_all(
                        [cases[k] for k in ks], robust=True)])
