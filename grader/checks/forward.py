from ..probe import run
from .base import check


@check("forward")
def forward(ctx):
    """The student's forward output matches the reference's."""
    gate, shape = ctx.student(), ctx.out_shape()
    cases = ctx.cases()
    answers = run([(gate, "forward", c.inputs) for c in cases])
    for case, raw in zip(cases, answers):
        want, want32 = ctx.expected(case)
        ctx.compare(case, [gate.output(raw, shape)], want[:1], want32[:1], ["out"])
