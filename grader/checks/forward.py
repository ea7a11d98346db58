from ..probe import run
from .base import check


@check("forward")
def forward(ctx):
    """The student's forward outputs match the reference's."""
    gate, spec, shapes = ctx.student(), ctx.gate, ctx.out_shapes()
    n = len(spec.outputs)
    cases = ctx.cases()
    answers = run([(gate, "forward", c.inputs) for c in cases])
    for case, raw, (want, want32) in zip(cases, answers, ctx.expected_all(cases)):
        ctx.compare(case, gate.outputs(raw, shapes, spec.outputs), want[:n], want32[:n],
                    spec.outputs, robust=lambda: ctx.expected(case, robust=True)[1][:n])
