from grader.judge.compare import reference_slack
from grader.judge.probe import run
from grader.judge.checks.base import check

NOTES = ("forward was called twice; backward must use the second call's inputs",
         "two instances were used in turn; each backward must use its own instance's inputs",
         "two instances were used in turn; each backward must use its own instance's inputs",
         "backward was called a second time with the same upstream gradient")
EXPECTED = "expected values are what your own gate gives on a fresh instance; "


@check("state")
def state(ctx):
    """Cached state, judged against the student's own gate on fresh instances (so
    a wrong formula costs the backward check, not this one): the latest forward
    wins, instances don't share inputs, and a second backward gives the same."""
    spec = ctx.gate
    cases = ctx.cases(specials=False)
    pairs = list(zip(cases[::2], cases[1::2]))
    one, a, b = ctx.student(), ctx.student(), ctx.student()
    calls = []
    for first, second in pairs:
        fresh1, fresh2 = ctx.student(), ctx.student()
        calls += [(fresh1, "forward", first.inputs), (fresh1, "backward", first.upstream),
                  (fresh2, "forward", second.inputs), (fresh2, "backward", second.upstream),
                  (one, "forward", first.inputs), (one, "forward", second.inputs),
                  (one, "backward", second.upstream),
                  (a, "forward", first.inputs), (b, "forward", second.inputs),
                  (a, "backward", first.upstream), (b, "backward", second.upstream),
                  (one, "forward", first.inputs), (one, "backward", first.upstream),
                  (one, "backward", first.upstream)]
    answers = run(calls)
    per_pair = len(calls) // len(pairs)
    read = {k: one.grads(raw, spec.shapes, spec.grads)  # every backward answer, in call order
            for k, ((_, method, _), raw) in enumerate(zip(calls, answers)) if method == "backward"}
    ctx.require_varying(list(read.values()))
    n = len(spec.outputs)  # expected(): outputs first, then gradients
    slacks = [reference_slack(want[n:], want32[n:])
              for want, want32 in ctx.expected_all(cases[:2 * len(pairs)], robust=True)]
    grads = [{i: read[p + i] for i in (1, 3, 6, 9, 10, 13)}
             for p in range(0, len(answers), per_pair)]  # per pair: the backward answers
    for i, which, base, note in zip((6, 9, 10, 13), (1, 0, 1, 0), (3, 1, 3, 1), NOTES):
        ctx.compare_all([pair[which] for pair in pairs], [g[i] for g in grads],
                        [g[base] for g in grads], None, spec.grads, note=EXPECTED + note,
                        slack=[slacks[2 * p + which] for p in range(len(pairs))])
