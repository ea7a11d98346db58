from ..probe import run
from .base import check

NOTES = ("forward was called twice; backward must use the second call's inputs",
         "two instances were used in turn; this one's backward must use its own inputs",
         "two instances were used in turn",
         "backward was called a second time with the same upstream gradient")


@check("state")
def state(ctx):
    """Cached inputs: the latest forward wins, instances don't share, backward repeats."""
    spec = ctx.gate
    one, a, b = ctx.student(), ctx.student(), ctx.student()
    cases = ctx.cases(specials=False)
    pairs = list(zip(cases[::2], cases[1::2]))
    calls = []
    for first, second in pairs:
        calls += [(one, "forward", first.inputs), (one, "forward", second.inputs),
                  (one, "backward", [second.upstream]),
                  (a, "forward", first.inputs), (b, "forward", second.inputs),
                  (a, "backward", [first.upstream]), (b, "backward", [second.upstream]),
                  (one, "forward", first.inputs), (one, "backward", [first.upstream]),
                  (one, "backward", [first.upstream])]
    answers = run(calls)
    per_pair = len(calls) // max(len(pairs), 1)
    for p, (first, second) in enumerate(pairs):
        got = answers[p * per_pair:(p + 1) * per_pair]
        want1, want1_32 = ctx.expected(first)
        want2, want2_32 = ctx.expected(second)
        for (case, want, want32, raw), note in zip(
                [(second, want2, want2_32, got[2]), (first, want1, want1_32, got[5]),
                 (second, want2, want2_32, got[6]), (first, want1, want1_32, got[9])], NOTES):
            ctx.compare(case, one.grads(raw, spec.shapes, spec.grads), want[1:], want32[1:],
                        spec.grads, note=note)
