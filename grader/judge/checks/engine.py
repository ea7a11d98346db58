"""The `engine` check: a scalar autograd engine (micrograd's `Value`) on random
expression graphs.

Each trial is a graph described as plain data (`Program`): leaves (random
numbers), then steps `(op, arg, ...)` whose arguments are node indices (ints:
the leaves, then this round's earlier steps) or plain numbers (floats), on
either side of an operator. The child builds it with the student's class,
calls backward() on the last node and answers every node's data and grad
(child.py `engine`); the parent computes the same with the rubric's reference
(reference/micrograd.py `Engine`, in float64 and float32 for the round-off
allowance) and replays it on the reference's mistake variants to name one.

A rubric item says which graphs (its `engine:` block): `random` (depth and
fan-out), `fan_out` (nodes used several times: `+=`; graphs.plant makes `=`
show whatever order a set of children runs in), `deep` (chains with skip
connections: topological order), `numbers` (plain numbers on either side, on
trees),
`ops` (each operation's forward value); `uses: 2` builds a second graph on the
same leaves, with `between: zero` (their grads set to 0 first) or `keep` (they
add up). Backward twice on the same graph is not asked for: which grads a second
call starts from depends on nodes the grader cannot see (micrograd makes `a - b`
from a hidden `-b`). Every graph ends by multiplying with a random number (never
near 0 or ±1), so the upstream gradient is never 1.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from backprop_grader.errors import GraderFault
from backprop_grader.judge import facts
from backprop_grader.judge.checks.base import Failure, check
from backprop_grader.judge.engine_mistakes import close_each, overwrote, read, wrong_order
from backprop_grader.judge.graphs import Program, flat, program, settings
from backprop_grader.judge.mistake_kinds import ENGINE, EVIDENCE, sentence
from backprop_grader.judge.mistakes import TOLERANCE, Diagnosis
from backprop_grader.judge.probe import Wrong, read_reply, readable
from backprop_grader.sandbox import SandboxError

if TYPE_CHECKING:
    from backprop_grader.judge.checks.base import Context

class _Class:
    """What read_reply needs of the class a request makes (its name)."""

    def __init__(self, cls: str) -> None:
        self.cls = cls


def ask(ctx: Context, programs: list[Program]) -> list:
    """The child's raw answers, one list of data then grads per program."""
    cls = ctx.item.gate
    steps = ["%s (the class)" % cls] + [
        "%s graph %d of %d (%s)" % (cls, k + 1, len(programs), "built, then backward()" if p.backward else "built")
        for k, p in enumerate(programs)]
    msg = {"op": "engine", "cls": cls, "trials": [p.wire() for p in programs]}
    try:
        reply = ctx.session.request(msg, steps[0], steps)
    except SandboxError as exc:
        raise Wrong(exc.message, kind=exc.kind or facts.SANDBOX) from None
    values = read_reply(ctx.session, reply, [_Class(cls)], steps)
    for raw, p, step in zip(values, programs, steps[1:]):
        if type(raw) is not list or len(raw) != 2 * p.size or not readable(raw):
            raise Wrong(ctx.session.unreadable(step).message, kind=facts.SANDBOX)
    return values


def compared(p: Program, what: str) -> list[int]:
    """Which of an answer's values an item compares: data, grad or both."""
    n = p.size
    return list(range(n)) if what == "data" else list(range(n, 2 * n)) if what == "grad" else list(range(2 * n))


@check("engine")
def engine(ctx: Context) -> None:
    """Every node's data and grad against the float64 reference engine."""
    spec = settings(ctx.item)
    programs = [program(ctx.rng, spec, ctx.item.inputs["magnitude"], ctx.item.inputs["upstream"], t, ctx.item.trials)
                for t in range(ctx.item.trials)]
    runs = [reference(ctx, "forward", p) for p in programs]  # every expected value, before any answer
    answers = ask(ctx, programs)
    tol = ctx.tolerance()
    trials = []  # (parts, got, slack) per program
    for p, raw, (rows, _) in zip(programs, answers, runs):
        parts = compared(p, spec["compare"])
        got, want = read(raw, p, parts), rows[0][parts]
        wobble = np.max(np.abs(rows[1:4][:, parts] - want), axis=0)
        size = np.maximum(np.abs(want), rows[4][parts])  # the terms' size, when they cancel
        slack = 4 * np.maximum(wobble, 4 * np.finfo(np.float32).eps * size)
        trials.append((parts, got, slack))
        ctx.outcome.trials += 1
        bad = np.flatnonzero(~close_each(got, want, slack, tol))
        if len(bad):
            names = [n + ".data" for n in p.names()] + [n + ".grad" for n in p.names()]
            ctx.outcome.failures.append(Failure(
                "random", dict(zip(p.names(), p.leaves)), {names[parts[k]]: want[k] for k in bad[:4]},
                {names[parts[k]]: got[k] for k in bad[:4]}, p.code()[:400]))
    if ctx.outcome.failures or getattr(ctx, "diagnose_all", False):  # a kit records every variant
        variants = [reference(ctx, "backward", p) for p in programs]
        if ctx.outcome.failures:
            ctx.outcome.mistake = diagnose(variants, trials) or spec["compare"] != "data" and (
                overwrote(programs, answers, runs, tol) or wrong_order(programs, answers, runs, tol)) or None


def reference(ctx: Context, method: str, p: Program) -> tuple:
    """The reference engine's answer for one graph (see reference/micrograd.py `Engine`)."""
    ref = ctx.rubric.gates[ctx.item.gate].reference
    try:
        return getattr(ref(), method)(*flat(p))
    except Exception as exc:  # a reference that raises (in a kit: a graph nobody recorded) grades nothing
        raise GraderFault("the reference %s.%s raised %s: %s" % (ref.__name__, method, type(exc).__name__, exc)) \
            from exc


def diagnose(variants: list, trials: list) -> Diagnosis | None:
    """The mistake of the first variant that reproduces every trial's answers
    (at least EVIDENCE trials), within the diagnosis' tolerance and the round-off allowance."""
    if len(trials) < EVIDENCE:
        return None
    codes = variants[0][1]
    for r in range(len(codes)):
        if all(close_each(got, rows[r][parts], slack, TOLERANCE).all()
               for (rows, _), (parts, got, slack) in zip(variants, trials)):
            return Diagnosis(ENGINE[int(codes[r])], sentence(ENGINE[int(codes[r])], where=""))
    return None


