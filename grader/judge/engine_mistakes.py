"""The `engine` check's order-free diagnoses: `=` instead of `+=` (in every
operation, or in some) and a wrong topological order, named without knowing the
order the student's nodes ran in (a `set` of children makes it depend on memory
addresses). Each search is bounded, so no answer can make the parent slow.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from backprop_grader.judge.graphs import Program
from backprop_grader.judge.mistake_kinds import EVIDENCE, sentence
from backprop_grader.judge.mistakes import Diagnosis
from backprop_grader.judge.probe import Wrong, number

if TYPE_CHECKING:
    pass

def read(raw: list, p: Program, parts: list[int]) -> np.ndarray:
    """The compared values of one answer as float64, validated one by one."""
    names = [n + ".data" for n in p.names()] + [n + ".grad" for n in p.names()]
    try:
        return np.array([number(raw[k], (), names[k]) for k in parts], dtype=np.float64)
    except Wrong as exc:  # say in which graph
        leaves = "; ".join("%s = Value(%.6g)" % (n, x) for n, x in zip(p.names(), p.leaves))
        raise Wrong("%s, in the graph %s" % (exc.message, (leaves + "; " + p.code())[:400]), kind=exc.kind) from None



def close_each(got: np.ndarray, want: np.ndarray, slack: np.ndarray, tol: dict) -> np.ndarray:
    """compare.close's rule, value by value."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.abs(got - want) <= tol["atol"] * np.maximum(1.0, np.abs(want)) + tol["rtol"] * np.abs(want) + slack



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
# Each side of a binary operation is its own kind (`=` may be in `self.grad` only).
BOTH = {"add": "a + b", "sub": "a - b", "mul": "a * b", "div": "a / b"}
USE_KIND = {(op, slot): op + side for op in BOTH for slot, side in enumerate(("_left", "_right"))}
USE_KIND.update({("pow", 0): "pow", ("neg", 0): "neg", ("tanh", 0): "tanh", ("relu", 0): "relu", ("exp", 0): "exp"})
KINDS = tuple(USE_KIND.values())
SHOWN = {op + side: "%s (for %s)" % (BOTH[op], x) for op in BOTH for side, x in (("_left", "a"), ("_right", "b"))}
SHOWN.update({"pow": "a ** n", "neg": "-a", "tanh": "a.tanh()", "relu": "a.relu()", "exp": "a.exp()"})
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
    for op, both in BOTH.items():
        left, right = op + "_left", op + "_right"
        if left in kinds and right in kinds:
            shown = [both if x == SHOWN[left] else x for x in shown if x != SHOWN[right]]
    return " in the backward of " + (shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1])
