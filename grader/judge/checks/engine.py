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
fan-out), `fan_out` (nodes used several times: `+=`), `deep` (chains with skip
connections: topological order), `numbers` (plain numbers on either side),
`ops` (each operation's forward value); `uses: 2` builds a second graph on the
same leaves, with `between: zero` (their grads set to 0 first) or `keep` (they
add up). Backward twice on the same graph is not asked for: which grads a second
call starts from depends on nodes the grader cannot see (micrograd makes `a - b`
from a hidden `-b`). Every graph ends by multiplying with a random number (never
near 0 or ±1), so the upstream gradient is never 1.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from backprop_grader.errors import GraderFault
from backprop_grader.judge import facts
from backprop_grader.judge.checks.base import Failure, check
from backprop_grader.judge.inputs import signed
from backprop_grader.judge.mistake_kinds import ENGINE, EVIDENCE, sentence
from backprop_grader.judge.mistakes import TOLERANCE, Diagnosis
from backprop_grader.judge.probe import Wrong, number, read_reply, readable
from backprop_grader.sandbox import SandboxError

if TYPE_CHECKING:
    from backprop_grader.judge.checks.base import Context

OPS = ("add", "sub", "mul", "div", "pow", "neg", "tanh", "relu", "exp")
BINARY = ("add", "sub", "mul", "div")
SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}
EXPONENTS = (2.0, 3.0, -1.0, 0.5)
GRAPHS = {"random": 12, "fan_out": 10, "deep": 16, "numbers": 10, "ops": 0}  # kind -> steps per graph
DEFAULTS = {"graphs": "random", "ops": list(OPS), "uses": 1, "between": "keep"}
FORWARD = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
           "div": lambda a, b: a / b, "pow": lambda a, n: a ** n, "neg": lambda a: -a,
           "tanh": math.tanh, "relu": lambda a: max(a, 0.0), "exp": math.exp}
LEAVES = 3
TRIES = 60  # draws per step before a graph settles for fewer steps


@dataclass
class Program:
    """One trial's graph(s) as plain data (see the module docstring)."""
    leaves: list
    rounds: list = field(default_factory=list)  # lists of steps
    zero: bool = False  # leaves' grads set to 0 between rounds
    backward: bool = True  # backward() is called (a forward-only item does not need it)

    @property
    def size(self) -> int:
        return len(self.leaves) + sum(len(r) for r in self.rounds)

    def wire(self) -> dict:
        return {"leaves": list(self.leaves), "rounds": [[list(s) for s in r] for r in self.rounds],
                "zero": self.zero, "backward": self.backward}

    def names(self) -> list[str]:
        """A name per node: a, b, c for the leaves, then the steps' in order."""
        return [name(k) for k in range(self.size)]

    def code(self) -> str:
        """The graph as the Python a student would write, for feedback."""
        names, parts, k = self.names(), [], len(self.leaves)
        for r, steps in enumerate(self.rounds):
            local = names[:len(self.leaves)] + names[k:k + len(steps)]
            if r and self.zero:
                parts.append(" = ".join("%s.grad" % n for n in names[:len(self.leaves)]) + " = 0")
            for j, (op, *args) in enumerate(steps):
                parts.append("%s = %s" % (local[len(self.leaves) + j], expression(op, args, local)))
            if self.backward:
                parts.append("%s.backward()" % local[-1])
            k += len(steps)
        return "; ".join(parts)


def name(k: int) -> str:
    return "abcdefghijklmnopqrstuvwxyz"[k] if k < 26 else "v%d" % k


def expression(op: str, args: list, names: list[str]) -> str:
    shown = [names[a] if type(a) is int else "%.6g" % a for a in args]
    if op in SYMBOL:
        return "%s %s %s" % (shown[0], SYMBOL[op], shown[1])
    return "-" + shown[0] if op == "neg" else "%s.%s()" % (shown[0], op)


# ---- plain numbers for the reference (a kit records and replays them)

def flat(p: Program) -> list[float]:
    """A program as plain numbers: leaves, flags, then each step as an op code
    and two (kind, value) pairs (kind 0: a node, 1: a number, 2: none)."""
    out = [float(len(p.leaves))] + [float(x) for x in p.leaves] + [float(p.zero), float(p.backward),
                                                                   float(len(p.rounds))]
    for steps in p.rounds:
        out.append(float(len(steps)))
        for op, *args in steps:
            out.append(float(OPS.index(op)))
            for a in list(args) + [None] * (2 - len(args)):
                out += [2.0, 0.0] if a is None else [0.0 if type(a) is int else 1.0, float(a)]
    return out


def unflat(numbers: tuple | list) -> Program:
    """`flat`'s inverse."""
    values = [float(v) for v in numbers]
    n = int(values[0])
    p = Program(values[1:1 + n], zero=bool(values[1 + n]), backward=bool(values[2 + n]))
    k = 4 + n
    for _ in range(int(values[3 + n])):
        steps, count, k = [], int(values[k]), k + 1
        for _ in range(count):
            op, pairs, k = OPS[int(values[k])], values[k + 1:k + 5], k + 5
            args = [int(v) if kind == 0 else v for kind, v in zip(pairs[::2], pairs[1::2]) if kind != 2]
            steps.append(tuple([op] + args))
        p.rounds.append(steps)
    return p


# ---- drawing graphs

def forward(op: str, args: list) -> float | None:
    """The step's value, or None when it would leave the range trials keep to
    (no division by near zero, no relu near its kink, no overflow, no tiny values)."""
    a = args[0]
    b = args[1] if len(args) > 1 else None
    if op == "div" and abs(b) < 0.3 or op == "relu" and abs(a) < 0.05 or op == "tanh" and abs(a) > 3:
        return None
    if op == "exp" and not -5 < a < 2.5:
        return None
    if op == "pow" and (b == -1 and abs(a) < 0.3 or b == 0.5 and a < 0.3 or b == 3 and abs(a) > 3
                        or b == 2 and abs(a) > 5):
        return None
    value = FORWARD[op](*args)
    if op == "relu" and value == 0:
        return value
    return value if 0.02 <= abs(value) <= 40 else None


def draw(rng: np.random.Generator, kind: str, ops: list[str], values: list[float], n: int,
         number: Callable[[], float]) -> tuple[list, list[float]]:
    """`n` steps (or fewer, if the draws keep leaving the range) on nodes with
    `values` (the leaves'); returns (steps, every node's value)."""
    leaves, values, used, steps = len(values), list(values), [0] * len(values), []
    tries = 0
    while len(steps) < n and tries < TRIES * n:
        tries += 1
        op = ops[rng.integers(len(ops))]
        a = operand(rng, kind, values, used, leaves)
        if op in BINARY:
            if kind == "numbers" or kind == "random" and rng.random() < 0.25:
                c = number()
                args = [c, a] if rng.random() < 0.5 else [a, c]
            else:
                b = a if kind == "fan_out" and rng.random() < 0.3 else operand(rng, kind, values, used, leaves, a)
                args = [a, b]
        elif op == "pow":
            args = [a, EXPONENTS[rng.integers(len(EXPONENTS))]]
        else:
            args = [a]
        value = forward(op, [values[x] if type(x) is int else x for x in args])
        if value is None:
            continue
        steps.append(tuple([op] + args))
        for x in args:
            if type(x) is int:
                used[x] += 1
        values.append(value)
        used.append(0)
    return steps, values


def operand(rng: np.random.Generator, kind: str, values: list, used: list, leaves: int,
            other: int | None = None) -> int:
    """A node for a step: the latest (depth), a reused one (fan-out) or any."""
    last = len(values) - 1
    if kind == "deep":  # a chain, the second operand a skip connection
        return last if other is None else max(0, last - int(rng.integers(2, 5)))
    if kind == "fan_out":
        reused = [k for k, u in enumerate(used) if u]
        if reused and rng.random() < 0.6:
            return reused[rng.integers(len(reused))]
    if kind == "ops":  # each operation on the leaves, so one wrong one does not spread
        return int(rng.integers(leaves))
    if other is None and last >= leaves and rng.random() < 0.5:
        return last
    pick = int(rng.integers(len(values)))
    return pick if pick != other or len(values) == 1 else (pick + 1) % len(values)


def ops_steps(ops: list[str]) -> list[tuple]:
    """The `ops` graph: every operation in every form, on the leaves."""
    steps = []
    for op in ops:
        if op in BINARY:
            steps += [(op, None, None), (op, None, "c"), (op, "c", None)]
        elif op == "pow":
            steps += [(op, None, e) for e in EXPONENTS]
        else:
            steps.append((op, None))
    return steps


def draw_ops(rng: np.random.Generator, ops: list[str], values: list[float], number: Callable[[], float]) -> list:
    steps = []
    for op, *forms in ops_steps(ops):
        for _ in range(TRIES):
            args = [number() if f == "c" else f if f is not None else int(rng.integers(len(values)))
                    for f in forms]
            if forward(op, [values[x] if type(x) is int else x for x in args]) is not None:
                steps.append(tuple([op] + args))
                break
    return steps


def program(rng: np.random.Generator, spec: dict, magnitude: list, upstream: list) -> Program:
    """One trial: leaves, then one graph per use, each tied off into one output
    and multiplied by a random number (so backward's start is not the whole story)."""
    kind = spec["graphs"]

    def number(bounds=magnitude):
        return float(signed(rng, (), *bounds))

    def multiplier():
        while True:
            c = number(upstream)
            if abs(abs(c) - 1) >= 0.1:
                return c
    leaves = [number() for _ in range(LEAVES)]
    p = Program(leaves, zero=spec["between"] == "zero", backward=kind != "ops")
    for _ in range(spec["uses"]):
        if kind == "ops":
            p.rounds.append(draw_ops(rng, spec["ops"], leaves, number))
            continue
        steps, values = draw(rng, kind, spec["ops"], leaves, spec.get("nodes") or GRAPHS[kind], number)
        p.rounds.append(tie_off(steps, len(leaves), multiplier(), rng.random() < 0.5))
    return p


def tie_off(steps: list, leaves: int, c: float, left: bool) -> list:
    """Add up the nodes nothing uses (so every node reaches the output), then
    multiply by `c`, on the left or the right."""
    used = {a for _, *args in steps for a in args if type(a) is int}
    loose = [k for k in range(leaves, leaves + len(steps)) if k not in used]
    out = list(steps)
    total = loose[0] if loose else 0
    for k in loose[1:]:
        out.append(("add", total, k))
        total = leaves + len(out) - 1
    out.append(("mul", c, total) if left else ("mul", total, c))
    return out


# ---- the check

def settings(item: object) -> dict:
    spec = dict(DEFAULTS, **(getattr(item, "engine", None) or {}))
    spec.setdefault("compare", "data" if spec["graphs"] == "ops" else "both")
    return spec


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


def read(raw: list, p: Program, parts: list[int]) -> np.ndarray:
    """The compared values of one answer as float64, validated one by one."""
    names = [n + ".data" for n in p.names()] + [n + ".grad" for n in p.names()]
    try:
        return np.array([number(raw[k], (), names[k]) for k in parts], dtype=np.float64)
    except Wrong as exc:  # say in which graph
        leaves = "; ".join("%s = Value(%.6g)" % (n, x) for n, x in zip(p.names(), p.leaves))
        raise Wrong("%s, in the graph %s" % (exc.message, (leaves + "; " + p.code())[:400]), kind=exc.kind) from None


def compared(p: Program, what: str) -> list[int]:
    """Which of an answer's values an item compares: data, grad or both."""
    n = p.size
    return list(range(n)) if what == "data" else list(range(n, 2 * n)) if what == "grad" else list(range(2 * n))


@check("engine")
def engine(ctx: Context) -> None:
    """Every node's data and grad against the float64 reference engine."""
    spec = settings(ctx.item)
    programs = [program(ctx.rng, spec, ctx.item.inputs["magnitude"], ctx.item.inputs["upstream"])
                for _ in range(ctx.item.trials)]
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


def close_each(got: np.ndarray, want: np.ndarray, slack: np.ndarray, tol: dict) -> np.ndarray:
    """compare.close's rule, value by value."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.abs(got - want) <= tol["atol"] * np.maximum(1.0, np.abs(want)) + tol["rtol"] * np.abs(want) + slack


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


def overwrote(programs: list[Program], answers: list, runs: list, tol: dict) -> Diagnosis | None:
    """`=` instead of `+=`, whatever order the student's nodes ran in (see `some_ops`
    for `=` in some operations only): in every trial the data are right, the grads
    are not what `+=` gives everywhere, and each node's grad is one of its shares
    (its local gradient in one use times the student's own grad of that use), where
    the sum of them was expected at least once."""
    trials = checked(programs, answers, runs, tol)
    if len(programs) < EVIDENCE or any(values is None for values in trials):
        return None
    uses = [node_uses(p, local, grad) for p, (grad, local) in zip(programs, trials)]
    if all(near(float(grad[k]), sum(u.share for u in node), spread(node))
           for (grad, _), (found, _) in zip(trials, uses) for k, node in found.items()):
        return None  # consistent with += (e.g. every grad 0: backward() never set its output's grad to 1)
    fanned = 0
    for p, (grad, local) in zip(programs, trials):
        shares = candidates(p, local, grad)
        if not all(any(near(float(grad[k]), s) for s in options) for k, options in shares.items()):
            break
        fanned += any(len(options) > 1 for options in shares.values())
    else:
        if fanned:
            return Diagnosis("overwrote_grad", sentence("overwrote_grad", where=""))
    kinds = some_ops([grad for grad, _ in trials], uses)
    if kinds is None:
        return None
    return Diagnosis("overwrote_grad", sentence("overwrote_grad", where=assigned_in(kinds)))


def checked(programs: list[Program], answers: list, runs: list, tol: dict) -> list:
    """Per trial (the student's grads, the local gradients) when every answer is a
    number and every node's data is right, else None."""
    out = []
    for p, raw, (rows, local) in zip(programs, answers, runs):
        n = p.size
        try:
            data, grad = read(raw, p, list(range(n))), read(raw, p, list(range(n, 2 * n)))
        except Wrong:
            return [None]
        ok = close_each(data, rows[0][:n], 1e-5 * np.abs(rows[0][:n]), tol).all()
        out.append((grad, local) if ok else None)
    return out


def near(got: float, want: float, size: float = 0.0) -> bool:
    """got == want, give or take round-off (`size`: the sum of the terms' sizes, when they cancel)."""
    return abs(got - want) <= 1e-4 * abs(want) + 1e-5 * size + 1e-9


def wrong_order(programs: list[Program], answers: list, runs: list, tol: dict) -> Diagnosis | None:
    """A wrong order whatever it was (the order of a node's children in a set depends
    on memory addresses): in every trial the grads are what `+=` gives when each
    node's backward runs once, at a time when only some of the nodes that use it
    (at least the one that reached it) have added their shares; and not all of them,
    somewhere."""
    early = 0
    for p, values in zip(programs, checked(programs, answers, runs, tol)):
        if values is None:
            return None
        found = ran_early(p, *values)
        if found is None:
            return None
        early += found
    if len(programs) < EVIDENCE or not early:
        return None
    return Diagnosis("topo_order", sentence("topo_order"))


def ran_early(p: Program, grad: np.ndarray, local: np.ndarray, budget: int = 20_000) -> bool | None:
    """True when `grad` is explained with some node passing on part of its gradient,
    False when only by every node passing all of it, None when not at all. Nodes
    are tried from the last one down; each passes a sum of a non-empty subset of its
    shares (the whole sum first); a round's output passes its own grad. A leaf adds
    up its shares of every round (of the last, when the leaves are zeroed in between)."""
    leaves, users, outputs, row, base = len(p.leaves), {k: [] for k in range(p.size)}, set(), 0, len(p.leaves)
    for r, steps in enumerate(p.rounds):
        here = list(range(leaves)) + list(range(base, base + len(steps)))
        for j, (_, *args) in enumerate(steps):
            for slot, a in enumerate(args):
                if type(a) is int and (a >= leaves or not p.zero or r == len(p.rounds) - 1):
                    users[here[a]].append((base + j, local[row + j][slot]))
        outputs.add(base + len(steps) - 1)
        row, base = row + len(steps), base + len(steps)
    passed, tries = {}, [budget]

    def solve(k: int, early: bool) -> bool | None:
        tries[0] -= 1
        if tries[0] < 0:
            return None
        shares = [passed[c] * g for c, g in users[k]]
        if k not in outputs and not near(grad[k], sum(shares)):
            return None
        if k < leaves:
            return solve(k - 1, early) if k else early
        options = [(grad[k], False)] if k in outputs else [
            (sum(sub), len(sub) < len(shares))
            for size in range(len(shares), 0, -1) for sub in itertools.combinations(shares, size)]
        for value, part in options:
            passed[k] = value
            found = solve(k - 1, early or part)
            if found is not None:
                return found
        return None
    return solve(p.size - 1, False)


def candidates(p: Program, local: np.ndarray, grad: np.ndarray) -> dict[int, list[float]]:
    """{node: the grads `=` could have left on it}: the shares of its uses in the
    last round that used it (0 for a leaf zeroed after its last use)."""
    leaves, found, row, base = len(p.leaves), {}, 0, len(p.leaves)
    for r, steps in enumerate(p.rounds):
        if r and p.zero:
            found.update({k: [0.0] for k in range(leaves)})
        here = list(range(leaves)) + list(range(base, base + len(steps)))  # local index -> node
        uses = {}
        for j, (_, *args) in enumerate(steps):
            for slot, a in enumerate(args):
                if type(a) is int:
                    uses.setdefault(here[a], []).append(float(local[row + j][slot]) * float(grad[here[leaves + j]]))
        found.update(uses)
        row, base = row + len(steps), base + len(steps)
    return found


# ---- `=` in some operations only: which of them assign, whatever order the nodes ran in

# Where a node is used: (op, argument slot) -> the kind of backward that hands it its share.
# micrograd builds a - b as a + (-b) and a / b as a * b ** -1, so a's share comes from one
# operation and b's from another; the kinds keep the two sides apart.
USE_KIND = {("add", 0): "add", ("add", 1): "add", ("sub", 0): "sub_left", ("sub", 1): "sub_right",
            ("mul", 0): "mul", ("mul", 1): "mul", ("div", 0): "div_left", ("div", 1): "div_right",
            ("pow", 0): "pow", ("neg", 0): "neg", ("tanh", 0): "tanh", ("relu", 0): "relu", ("exp", 0): "exp"}
KINDS = ("add", "sub_left", "sub_right", "mul", "div_left", "div_right", "pow", "neg", "tanh", "relu", "exp")
SHOWN = {"add": "a + b", "sub_left": "a - b (for a)", "sub_right": "a - b (for b)", "mul": "a * b",
         "div_left": "a / b (for a)", "div_right": "a / b (for b)", "pow": "a ** n", "neg": "-a",
         "tanh": "a.tanh()", "relu": "a.relu()", "exp": "a.exp()"}
# b's share of a - b and a / b may come from a node micrograd hides (-b, b ** -1), whose
# backward runs some time after the step's own: it is not ordered by the step's place.
HIDDEN = {"sub_right", "div_right"}
BUDGET = 50_000  # grads tried and hypotheses checked per item (an answer cannot make the parent slow)


@dataclass(frozen=True)
class Use:
    round: int
    user: int  # the node whose backward hands over the share
    kind: str  # USE_KIND
    share: float  # local gradient x the student's grad of `user`


def node_uses(p: Program, local: np.ndarray, grad: np.ndarray) -> tuple[dict[int, list[Use]], dict[int, set]]:
    """({node: its uses whose shares its grad is made of}, {node: the nodes it is computed from}).
    A round's output has no entry (its grad is the 1 backward() starts from); a leaf
    zeroed between rounds keeps only the last round's uses."""
    leaves, uses, below, row, base = len(p.leaves), {}, {k: set() for k in range(len(p.leaves))}, 0, len(p.leaves)
    for r, steps in enumerate(p.rounds):
        here = list(range(leaves)) + list(range(base, base + len(steps)))  # local index -> node
        if p.zero and r:
            uses.update({k: [] for k in range(leaves)})
        for j, (op, *args) in enumerate(steps):
            user = base + j
            below[user] = set()
            uses.setdefault(user, [])
            for slot, a in enumerate(args):
                if type(a) is int:
                    node = here[a]
                    below[user] |= below[node] | {node}
                    uses.setdefault(node, []).append(
                        Use(r, user, USE_KIND[op, slot], float(local[row + j][slot]) * float(grad[user])))
        uses.pop(base + len(steps) - 1, None)
        row, base = row + len(steps), base + len(steps)
    for k in range(leaves):
        uses.setdefault(k, [])
    return uses, below


def spread(uses: list[Use]) -> float:
    return sum(abs(u.share) for u in uses)


def after(d: Use, a: Use, below: dict[int, set]) -> bool:
    """Whether share `d` is surely handed over after share `a`: a later round, or
    `a`'s node is computed from `d`'s, so its backward ran first (and `a` is not
    handed over by a hidden node, which may run later)."""
    return d.round > a.round or d.round == a.round and d.user in below[a.user] and a.kind not in HIDDEN


def explains(got: float, uses: list[Use], kinds: set, below: dict[int, set], budget: list) -> bool | None:
    """Whether a node's grad is what it ends with when the uses of `kinds` assign and
    the others add, in some order backward() may have taken: the share of the last
    assigning use plus the adding shares that surely came after it and any of those
    that may have; the plain sum when no use assigns. None: out of budget."""
    assign = [u for u in uses if u.kind in kinds]
    add = [u for u in uses if u.kind not in kinds]
    size = spread(uses)
    if not assign:
        budget[0] -= 1
        return near(got, sum(u.share for u in add), size) if budget[0] >= 0 else None
    for a in assign:
        if any(after(b, a, below) for b in assign if b is not a):
            continue  # another assignment surely came later
        must = [d for d in add if after(d, a, below)]
        maybe = [d for d in add if not after(d, a, below) and not after(a, d, below)]
        base = a.share + sum(d.share for d in must)
        for n in range(len(maybe) + 1):
            for some in itertools.combinations(maybe, n):
                budget[0] -= 1
                if budget[0] < 0:
                    return None
                if near(got, base + sum(d.share for d in some), size):
                    return True
    return False


def some_ops(grads: list[np.ndarray], uses: list[tuple[dict, dict]], budget: int = BUDGET) -> tuple | None:
    """Whether some kinds of use (KINDS) that assign, the same in every trial, explain
    every node's grad (`explains`) where `+=` everywhere does not: None when no set
    does (or none is found within `budget`), else the kinds every set that does has
    (only those are sure; empty when none is, or the budget ran out after one was
    found). Sets are tried smallest first; a node is tried with the part of one that
    concerns it (its own kinds) once, the nodes `+=` does not explain first, then the
    others by their number of uses, so most sets fail on their first node."""
    left, nodes = [budget], []  # (grad, uses, ancestry, its kinds as a bit mask) of each node used twice or more
    bit = {kind: 1 << j for j, kind in enumerate(KINDS)}
    for grad, (found, below) in zip(grads, uses):
        for k, node in found.items():
            if len(node) > 1:
                nodes.append((float(grad[k]), node, below, sum({bit[u.kind] for u in node})))
            elif not near(float(grad[k]), sum(u.share for u in node), spread(node)):
                return None  # one share (or none): = and += leave the same
    tried = {}

    def fits(j: int, h: int) -> bool | None:
        key = j, h & nodes[j][3]
        if key not in tried:
            got, node, below, _ = nodes[j]
            tried[key] = explains(got, node, {x for x in KINDS if key[1] & bit[x]}, below, left)
        return tried[key]
    summed = [fits(j, 0) for j in range(len(nodes))]
    if None in summed or all(summed):
        return None  # out of budget, or += everywhere explains it
    order = sorted(range(len(nodes)), key=lambda j: (summed[j], len(nodes[j][1])))
    universe = [x for x in KINDS if any(mask & bit[x] for *_, mask in nodes)]
    common = None  # the kinds every hypothesis that explains it has
    for n in range(1, len(universe) + 1):
        for kinds in itertools.combinations(universe, n):
            h = sum(bit[x] for x in kinds)
            for j in order:
                left[0] -= 1
                ok = fits(j, h) if left[0] >= 0 else None
                if not ok:
                    break
            else:
                common = h if common is None else common & h
            if ok is None:
                return None if common is None else ()
    return None if common is None else tuple(x for x in KINDS if common & bit[x])


def assigned_in(kinds: tuple) -> str:
    """overwrote_grad's `where`: " in the backward of a + b, a - b (for a) and a * b" (the
    operations as the student wrote them), or nothing when no kind is sure."""
    if not kinds:
        return ""
    shown = [SHOWN[x] for x in KINDS if x in kinds]
    for both, left, right in (("a - b", "sub_left", "sub_right"), ("a / b", "div_left", "div_right")):
        if left in kinds and right in kinds:
            shown = [both if x == SHOWN[left] else x for x in shown if x != SHOWN[right]]
    return " in the backward of " + (shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1])
