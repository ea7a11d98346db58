from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from backprop_grader.judge.compare import reference_slack
from backprop_grader.judge.probe import run
from backprop_grader.judge.checks.base import check

if TYPE_CHECKING:
    from backprop_grader.judge.checks.base import Context

EXPECTED = "expected values are what your own gate gives on a fresh instance; "
TWO_INSTANCES = "two instances were used in turn; each backward must use its own instance's inputs"


class PairAnswers(NamedTuple):
    """The backward answers of one pair of cases (first, second) that are judged
    or give the expected values, named by the calls that gave them."""
    fresh_first: list  # a fresh instance: forward(first), backward(first)
    fresh_second: list  # a fresh instance: forward(second), backward(second)
    latest: list  # forward(first), forward(second), backward(second): the latest forward wins
    own_first: list  # instances a and b in turn: a.forward(first), b.forward(second), a.backward(first)
    own_second: list  # ... then b.backward(second)
    again: list  # forward(first), backward(first), backward(first) again: the second backward


# (answer judged, the case of the pair it is for (0: first, 1: second), the answer
# it must equal, what the trial did)
JUDGED = (("latest", 1, "fresh_second", "forward was called twice; backward must use the second call's inputs"),
          ("own_first", 0, "fresh_first", TWO_INSTANCES),
          ("own_second", 1, "fresh_second", TWO_INSTANCES),
          ("again", 0, "fresh_first", "backward was called a second time with the same upstream gradient"))


@check("state")
def state(ctx: Context) -> None:
    """Cached state, judged against the student's own gate on fresh instances (so
    a wrong formula costs the backward check, not this one): the latest forward
    wins, instances don't share inputs, and a second backward gives the same."""
    spec = ctx.gate
    cases = ctx.cases(specials=False)
    pairs = list(zip(cases[::2], cases[1::2]))
    one, a, b = ctx.student(), ctx.student(), ctx.student()
    calls, names = [], []  # names: per backward call, the PairAnswers field its answer fills (or None)
    for first, second in pairs:
        fresh1, fresh2 = ctx.student(), ctx.student()
        for call, name in [((fresh1, "forward", first.inputs), None),
                           ((fresh1, "backward", first.upstream), "fresh_first"),
                           ((fresh2, "forward", second.inputs), None),
                           ((fresh2, "backward", second.upstream), "fresh_second"),
                           ((one, "forward", first.inputs), None), ((one, "forward", second.inputs), None),
                           ((one, "backward", second.upstream), "latest"),
                           ((a, "forward", first.inputs), None), ((b, "forward", second.inputs), None),
                           ((a, "backward", first.upstream), "own_first"),
                           ((b, "backward", second.upstream), "own_second"),
                           ((one, "forward", first.inputs), None), ((one, "backward", first.upstream), None),
                           ((one, "backward", first.upstream), "again")]:
            calls.append(call)
            names.append(name)
    answers = run(calls)
    read = [(name, one.grads(raw, spec.grad_shapes, spec.grads))  # every backward answer, in call order
            for (_, method, _), name, raw in zip(calls, names, answers) if method == "backward"]
    ctx.require_varying([grads for _, grads in read])
    per_pair = len(read) // len(pairs)
    grads = [PairAnswers(**{name: g for name, g in read[p:p + per_pair] if name})
             for p in range(0, len(read), per_pair)]
    n = len(spec.outputs)  # expected(): outputs first, then gradients
    slacks = [reference_slack(want[n:], want32[n:])
              for want, want32 in ctx.expected_all(cases[:2 * len(pairs)], robust=True)]
    for judged, which, base, note in JUDGED:
        ctx.compare_all([pair[which] for pair in pairs], [getattr(g, judged) for g in grads],
                        [getattr(g, base) for g in grads], None, spec.grads, note=EXPECTED + note,
                        slack=[slacks[2 * p + which] for p in range(len(pairs))])
