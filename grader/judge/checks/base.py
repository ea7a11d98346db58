"""What a check gets (`Context`) and gives back (`Outcome`).

A check is a small function `check(ctx)` registered under the name a rubric
uses. It draws cases from `ctx`, runs the student's gates and the reference
the same way, and records each trial with `ctx.compare`.
"""
from __future__ import annotations

import collections
import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from backprop_grader.errors import StudentFault
from backprop_grader.judge import facts, inputs
from backprop_grader.judge.facts import NOWHERE, Where
from backprop_grader.judge.inputs import Case
from backprop_grader.judge.check_kinds import KINDS
from backprop_grader.judge.compare import close, close_rows, reference_slack, round_off_slack
from backprop_grader.judge.probe import StudentGate, Wrong, run
from backprop_grader.errors import GraderFault

if TYPE_CHECKING:
    from collections.abc import Hashable

    from numpy.typing import ArrayLike

    from backprop_grader.judge.rubric import Gate, Graph, Item, Rubric
    from backprop_grader.sandbox import Session

CHECKS = {}


def check(name: str) -> Callable[[Callable[[Context], None]], Callable[[Context], None]]:
    """Register a check function under the name rubrics use (a kind of `check_kinds.KINDS`)."""
    if name not in KINDS:
        raise ValueError("%r is not a check kind of judge.check_kinds" % name)

    def register(fn):
        CHECKS[name] = fn
        return fn
    return register


@dataclass
class Failure:
    label: str  # which kind of case: "random", "large magnitudes", ...
    inputs: dict  # name -> value
    expected: dict  # name -> value
    received: dict  # name -> value
    note: str = ""  # what the trial did, when it is not just forward + backward


@dataclass
class Outcome:
    """How one item's check ended. `error` is the sentence a student reads; the
    facts behind it are fields: `kind` (judge.facts), `exception`, `where` (with
    its cell, file and line) and `mistake`."""
    trials: int = 0
    failures: list = field(default_factory=list)
    error: str = ""  # why the check stopped early (bad answer, exception, crash...)
    where: Where = field(default_factory=Where)  # where in the student's code, when known
    mistake: object = None  # a mistakes.Diagnosis when a known mistake explains the failures
    fault: str = ""  # the kind of `error` (judge.facts: bad_answer, exception, timeout...)
    exception: str = ""  # the exception type the student's code raised, when it did
    missing: str = ""  # the class that is not defined, for a missing class

    @property
    def passed(self) -> bool:
        return self.trials > 0 and not self.failures and not self.error

    @property
    def kind(self) -> str:
        """What happened (judge.facts): passed, a wrong answer, no trials, or the fault."""
        if self.error:
            return self.fault or facts.SANDBOX
        if self.failures:
            return facts.WRONG_ANSWER
        return facts.PASSED if self.trials else facts.NO_TRIALS

    def fail(self, fault: StudentFault) -> None:
        """Stop on `fault`: its sentence, and its facts as fields."""
        self.error, self.fault = fault.message, fault.kind
        self.where = fault.where if isinstance(fault.where, Where) else NOWHERE
        self.exception, self.missing = fault.exception, fault.missing

    @classmethod
    def stopped(cls, message: str, kind: str) -> "Outcome":
        """An outcome that never ran its check (the submission did not load...)."""
        return cls(error=message, fault=kind)

    def example(self) -> Failure | None:
        """The most readable failure: a random case with the smallest inputs."""
        def size(f):
            return (f.label != "random", max((abs(float(v)) if np.ndim(v) == 0 else
                                              float(np.max(np.abs(v))) for v in f.inputs.values()),
                                             default=0.0))
        return min(self.failures, key=size) if self.failures else None


def float32_moved(run: Callable[..., list], robust: bool = True) -> tuple[list, list]:
    """The float64 reference values, and the same moved by the round-off correct
    float32 code may show: the largest float64-float32 difference at the inputs, at
    the inputs nudged by 2 ulp, and with what forward keeps for backward one ulp off
    either way (correct float32 code may round σ(x) the other way, and 1 - σ then
    cancels), and at least 4 float32 epsilons of the size of the terms (the
    reference at |inputs|, for cancellations like W.T @ dz).
    `run(dtype, scale=1.0, magnitude=False, nudge=0)` evaluates the reference. Not
    `robust`: the float32 reference at the inputs only (the cheap first try of
    `compare`)."""
    want = run(np.float64)
    if not robust:
        return want, run(np.float32)
    eps = np.finfo(np.float32).eps
    runs32 = [run(np.float32, s) for s in (1.0, 1 + 2 * eps, 1 - 2 * eps)]
    runs32 += [run(np.float32, nudge=n) for n in (1, -1)]
    wobble = [np.maximum.reduce([np.abs(w - r[k]) for r in runs32]) for k, w in enumerate(want)]
    try:
        size = [np.abs(m) for m in run(np.float64, magnitude=True)]
    except GraderFault:  # not defined at |inputs| (a log, say)
        size = [np.abs(w) for w in want]
    return want, [w + np.maximum(wob, 4 * eps * m) for w, wob, m in zip(want, wobble, size)]


@functools.lru_cache(maxsize=256)
def _out_shapes(reference, shapes, outputs, rules="{}"):
    """The shapes of a reference's outputs (found by running it on ones; inputs
    without a gradient get a stand-in by their rule, `rules` as JSON)."""
    rules = {int(k): v for k, v in json.loads(rules).items()}
    return [o.shape for o in ReferenceGate(reference, outputs=outputs).forward(
        *[inputs.placeholder(rules[i][0], s) if i in rules else np.ones(s) for i, s in enumerate(shapes)])]


def floating(x: object) -> bool:
    """A float number or array (not integer labels, not a rubric's dict)."""
    return isinstance(x, (float, np.floating)) or isinstance(x, np.ndarray) and x.dtype.kind == "f"


_not_elementwise = set()  # references found not to compute trial by trial
_checked = collections.Counter()  # stacked runs compared with runs alone, per reference
CHECKED_ENOUGH = 5


def per_case(evaluate: Callable[[Case], tuple], cases: list[Case], key: Hashable) -> list[tuple]:
    """`[evaluate(case) for case in cases]` for scalar gates, computed once on all
    the cases stacked along a new axis when the reference computes elementwise.
    `evaluate(case)` gives a tuple of lists of values; `key` names the reference
    (gates a rubric names are trusted, but one written with `if` or `max()` is
    not elementwise: it fails on arrays or disagrees with the first or last case
    evaluated alone, and is then evaluated case by case from then on; after
    CHECKED_ENOUGH agreeing runs, a reference is no longer compared)."""
    n = len(cases)
    if n > 2 and key not in _not_elementwise:
        stacked = Case([np.array(xs, dtype=np.float64) for xs in zip(*(c.inputs for c in cases))],
                       [np.array(us, dtype=np.float64) for us in zip(*(c.upstream for c in cases))])
        try:
            with np.errstate(all="ignore"):
                whole = [[np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)) for v in part]
                         for part in evaluate(stacked)]
            columns = [zip(*[v.tolist() for v in part]) for part in whole]  # case by case
            split = [tuple(map(list, values)) for values in zip(*columns, strict=True)]
            if _checked[key] < CHECKED_ENOUGH:
                for k in (0, n - 1):
                    if not _same(split[k], evaluate(cases[k])):
                        raise ValueError("not elementwise")
                _checked[key] += 1
            return split
        except (GraderFault, ArithmeticError, ValueError, TypeError, IndexError):
            _not_elementwise.add(key)
    return [evaluate(c) for c in cases]


def _table(rows):
    """Per-case lists of numbers as one (cases, values) array; ValueError if
    they are arrays or differ in length."""
    table = np.array(rows, dtype=np.float64)
    if table.ndim != 2:
        raise ValueError("not a table of numbers")
    return table


def _same(got, alone):
    """Values from the stacked run agree with the case run alone (NaN with NaN)."""
    for part, other in zip(got, alone):
        if len(part) != len(other):
            return False
        for x, y in zip(part, other):
            if np.shape(y) != ():
                return False
            x, y = float(x), float(y)
            if not (x == y or abs(x - y) <= 1e-9 * abs(y) or x != x and y != y):
                return False
    return True


class ReferenceGate:
    """A reference gate used exactly like a `StudentGate`, in float64 or float32:
    forward gives the list of outputs, backward the list of gradients."""

    def __init__(self, cls: type, dtype: type = np.float64, outputs: int = 1, nudge: int = 0) -> None:
        """`nudge` (+1 or -1): after forward, every float array or number the gate
        keeps is moved one ulp that way (what correct code may round differently)."""
        self.gate, self.dtype, self.outputs, self.nudge = cls(), dtype, outputs, nudge

    def _nudge(self):
        kept = getattr(self.gate, "__dict__", {})
        for name, value in list(kept.items()):
            if isinstance(value, (np.ndarray, np.floating)) and value.dtype.kind == "f":
                kept[name] = np.nextafter(value, value.dtype.type(np.inf * self.nudge))

    def _cast(self, v):
        if isinstance(v, dict) or isinstance(v, np.ndarray) and v.dtype.kind in "iub":
            return v  # labels and a rubric's values stay as they are
        v = np.asarray(v, dtype=self.dtype)
        return v[()] if v.ndim == 0 else v

    def forward(self, *values: ArrayLike) -> list[np.ndarray]:
        try:
            out = self.gate.forward(*map(self._cast, values))
            if self.nudge:
                self._nudge()
            return [np.asarray(o, dtype=np.float64) for o in (out if self.outputs > 1 else [out])]
        except Exception as exc:
            raise GraderFault("the reference %s.forward raised %s: %s"
                              % (type(self.gate).__name__, type(exc).__name__, exc)) from exc

    def backward(self, *upstream: ArrayLike) -> list[np.ndarray]:
        try:
            return [np.asarray(g, dtype=np.float64)
                    for g in self.gate.backward(*map(self._cast, upstream))]
        except Exception as exc:
            raise GraderFault("the reference %s.backward raised %s: %s"
                              % (type(self.gate).__name__, type(exc).__name__, exc)) from exc


def forward_backward_calls(gate: StudentGate, cases: list[Case]) -> list[tuple[StudentGate, str, list]]:
    """Each case's forward then backward on one instance: the calls, in order."""
    return [call for c in cases for call in
            ((gate, "forward", c.inputs), (gate, "backward", c.upstream))]


def forward_backward(gate: StudentGate, cases: list[Case]) -> list[tuple[Any, Any]]:
    """`forward_backward_calls` in one message: [(raw forward answer, raw
    backward answer)] per case."""
    answers = run(forward_backward_calls(gate, cases))
    return list(zip(answers[::2], answers[1::2]))


class Context:
    def __init__(self, rubric: Rubric, item: Item, rng: np.random.Generator, session: Session,
                 outcome: Outcome) -> None:
        self.rubric, self.item, self.rng = rubric, item, rng
        self.session, self.outcome = session, outcome
        self.students = []  # the student gates this check made

    @property
    def gate(self) -> Gate:
        return self.rubric.gates[self.item.gate]

    @property
    def graph(self) -> Graph:
        return self.rubric.graphs[self.item.graph]

    def student(self, name: str | None = None) -> StudentGate:
        name = name or self.item.gate
        gate = StudentGate(self.session, name, self.rubric.gates[name].api)
        self.students.append(gate)
        return gate

    def many_students(self, name: str, count: int) -> list[StudentGate]:
        gates = StudentGate.many(self.session, name, count, self.rubric.gates[name].api)
        self.students.extend(gates)
        return gates

    def reference(self, name: str | None = None, dtype: type = np.float64, nudge: int = 0) -> ReferenceGate:
        gate = self.rubric.gates[name or self.item.gate]
        return ReferenceGate(gate.reference, dtype, len(gate.outputs), nudge)

    def out_shapes(self, name: str | None = None) -> list[tuple]:
        gate = self.rubric.gates[name or self.item.gate]
        if gate.constant:
            return _out_shapes(gate.reference, tuple(map(tuple, gate.shapes)), len(gate.outputs),
                               inputs.rules_key(self.constants(gate.name)))
        return _out_shapes(gate.reference, tuple(map(tuple, gate.shapes)), len(gate.outputs))

    def constants(self, name: str | None = None) -> dict:
        """{position: (rule, shape)} of the gate's inputs that get no gradient."""
        gate = self.rubric.gates[name or self.item.gate]
        return {i: (gate.constant[n], gate.shapes[i]) for i, n in enumerate(gate.inputs) if n in gate.constant}

    def cases(self, specials: bool = True, trials: int | None = None) -> list[Case]:
        """The rubric's fixed examples, random cases, then special cases; cases on a
        kink the reference declares (a max gate's tie) only as examples. `trials`:
        only that many random cases (drawn again), no examples or specials."""
        drawn = inputs.cases(self.rng, self.gate.shapes, self.out_shapes(), self.item.inputs,
                             self.item.trials if trials is None else trials,
                             self.item.specials if specials and trials is None else ())
        found = (self.examples(self.input_names(), self.out_shapes()) if trials is None else []) + drawn
        found = inputs.settled(self.rng, found, self.constants(), self.gate.loss)
        kink = getattr(self.gate.reference, "kink", None)
        if callable(kink):
            fixed = len(self.item.examples) if trials is None else 0
            found = found[:fixed] + [c for c in found[fixed:] if not kink(*c.inputs)]
        return found

    def examples(self, names: Sequence[str], out_shapes: Sequence[tuple] = ((),)) -> list[Case]:
        """Fixed points from the rubric; `upstream` (default 1) goes to every output. A
        number given for an array input fills it; inputs without a gradient are drawn."""
        shapes = self.gate.shapes if self.item.gate else [()] * len(names)
        return [inputs.Case([np.full(s, float(e.get(n, 0.0))) if s else np.float64(e.get(n, 0.0))
                             for n, s in zip(names, shapes)],
                            [np.full(s, e.get("upstream", 1.0)) for s in out_shapes], "example")
                for e in self.item.examples]

    def expected(self, case: Case, name: str | None = None, robust: bool = False) -> tuple[list, list]:
        """Reference outputs then gradients at a case (float64), and the same moved
        by the round-off that correct float32 code may show there (see compare.py)."""
        def run(dtype, scale=1.0, magnitude=False, nudge=0):
            ref = self.reference(name, dtype, nudge)
            xs = [x if not floating(x) else np.abs(x) if magnitude else x * scale for x in case.inputs]
            ups = [np.abs(u) if magnitude else u for u in case.upstream]
            return ref.forward(*xs) + ref.backward(*ups)
        return float32_moved(run, robust)

    def expected_all(self, cases: list[Case], name: str | None = None,
                     robust: bool = False) -> list[tuple[list, list]]:
        """`expected(case)` for each case; for scalar gates, in one go."""
        gate = self.rubric.gates[name or self.item.gate]
        if any(gate.shapes) or any(self.out_shapes(gate.name)):
            return [self.expected(c, name, robust) for c in cases]
        return per_case(lambda c: self.expected(c, name, robust), cases,
                        (gate.reference, robust))

    def compare(self, case: Case, got: list, want: list, want32: list | None, names: Sequence[str], note: str = "",
                tolerance: dict | None = None, slack: list | None = None,
                robust: Callable[[], list] | None = None, failed_once: bool = False) -> bool:
        """Record one trial; returns True when it passed. `want32`: the reference
        in float32, whose round-off sets the slack unless `slack` is given.
        `robust()`: a wider float32 estimate, tried only when the first one fails
        (`failed_once`: compare_all has already seen the first one fail)."""
        self.outcome.trials += 1
        tolerance = self.tolerance(tolerance)
        if not failed_once and close(
                got, want, slack if slack is not None else reference_slack(want, want32), tolerance):
            return True
        if robust is not None and close(got, want, reference_slack(want, robust()), tolerance):
            return True
        labels = list(self.input_names()) + self.upstream_names()
        values = list(case.inputs) + list(case.upstream)
        shown = {k: v for k, v in zip(labels, values) if not isinstance(v, dict)}  # not a rubric's bn_param
        self.outcome.failures.append(Failure(
            case.label, shown, dict(zip(names, want)),
            dict(zip(names, got)), note))
        return False

    def compare_all(self, cases: list[Case], got: list, want: list, want32: list | None = None,
                    names: Sequence[str] = (), note: str = "", tolerance: dict | None = None,
                    slack: list | None = None, robust: Callable[[list[int]], list] | None = None) -> None:
        """`compare` for every case: got[k], want[k], want32[k] or slack[k] per case;
        `robust(ks)` gives the robust want32 of the cases ks. Numbers are judged
        all at once; only the trials that fail that are looked at again one by
        one (and recorded as failures)."""
        if not cases:
            return
        tol = self.tolerance(tolerance)
        try:
            w = _table(want)
            s = _table(slack) if slack is not None else round_off_slack(w, _table(want32))
            ok, judged = close_rows(_table(got), w, s, tol), True
        except ValueError:  # arrays: trial by trial
            ok, judged = np.zeros(len(cases), dtype=bool), False
        self.outcome.trials += int(ok.sum())
        failed = [int(k) for k in np.flatnonzero(~ok)]
        wider = dict(zip(failed, robust(failed))) if robust is not None and failed else {}
        for k in failed:
            self.compare(cases[k], got[k], want[k], None if want32 is None else want32[k], names,
                         note, tolerance, None if slack is None else slack[k],
                         None if robust is None else lambda k=k: wider[k], judged)

    def tolerance(self, tolerance: dict | None = None) -> dict[str, float]:
        """The item's tolerance (or `tolerance`). The dtype an answer declares
        never widens it: float32 round-off is allowed for by the slack, from
        the reference's own float32 round-off at the inputs."""
        return dict(tolerance or self.item.tolerance)

    def require_varying(self, answers: list[list]) -> None:
        """Consistency checks judge a gate against itself; a backward that gives
        the same answer whatever it is asked (a stub returning zeros) earns nothing."""
        if all(type(g) is np.float64 for a in answers for g in a):  # plain numbers
            flat = [tuple(a) for a in answers]
            same = all(f == flat[0] for f in flat)
        else:
            flat = [np.concatenate([np.ravel(g) for g in a]) for a in answers]
            same = all(np.array_equal(f, flat[0]) for f in flat)
        if len(flat) > 1 and same:
            raise Wrong("backward gives the same answer whatever the inputs and upstream "
                        "gradient, so there is nothing for this check to judge")

    def input_names(self) -> list[str]:
        return self.graph.inputs if self.item.graph else self.gate.inputs

    def upstream_names(self) -> list[str]:
        return ["d" + self.graph.nodes[-1]["name"]] if self.item.graph else self.gate.upstreams
