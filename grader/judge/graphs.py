"""Expression graphs for the `engine` check, as plain data: a `Program` is leaves
(random numbers) then steps `(op, arg, ...)` whose arguments are node indices
(ints) or plain numbers (floats), on either side of an operator; how each kind
of graph an item asks for is drawn (random, fan_out, deep, numbers, ops); and
the flat list of numbers a reference (and a kit's recording) takes.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from backprop_grader.judge.inputs import signed

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


def step_value(op: str, args: list, values: list[float]) -> float | None:
    """`forward` of a step whose node arguments are indices into `values`."""
    return forward(op, [values[a] if type(a) is int else a for a in args])


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
        value = step_value(op, args, values)
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
    if kind == "numbers":
        # a tree (no node used twice): the item judges the numbers, not +=, so the
        # order a set of children runs in never shows
        free = [k for k, u in enumerate(used) if not u]
        return last if rng.random() < 0.5 else free[rng.integers(len(free))]
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
            if step_value(op, args, values) is not None:
                steps.append(tuple([op] + args))
                break
    return steps


# ---- fan_out's planted pairs: `=` for `+=` anywhere fails, in any order

def pairs(ops: list[str], trial: int, trials: int) -> list[tuple[str, int]]:
    """The (operation, operand place) pairs a fan_out trial plants: over an item's
    trials, every operation in every place."""
    every = [(op, place) for op in ops for place in ((0, 1) if op in BINARY else (0,))]
    k = -(-len(every) // max(trials, 1))
    return [every[(trial * k + j) % len(every)] for j in range(min(k, len(every)))]


def plant(rng: np.random.Generator, op: str, place: int, values: list[float], among: int) -> list[tuple]:
    """Two steps that use one node (of the first `among`) in the same place of the same
    operation, their outputs used nowhere else: whichever _backward runs last, an `=`
    there drops the other's share, so the mistake shows whatever order a set gave."""
    for _ in range(TRIES):
        v, x, y = (int(k) for k in rng.choice(among, 3, replace=False))
        if op in BINARY:
            args = [[v, o] if place == 0 else [o, v] for o in (x, y)]
        else:
            args = [[v] + ([EXPONENTS[rng.integers(len(EXPONENTS))]] if op == "pow" else [])] * 2
        outs = [step_value(op, a, values) for a in args]
        if None not in outs and not (op == "relu" and outs[0] == 0):  # (a share of 0 hides the mistake)
            values.extend(outs)
            return [tuple([op] + a) for a in args]
    return []


def program(rng: np.random.Generator, spec: dict, magnitude: list, upstream: list,
            trial: int = 0, trials: int = 1) -> Program:
    """One trial (of `trials`): leaves, then one graph per use, each tied off into
    one output and multiplied by a random number (so backward's start is not the
    whole story)."""
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
        if kind == "fan_out":
            among = len(values)
            for op, place in pairs(spec["ops"], trial, trials):
                steps += plant(rng, op, place, values, among)
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


