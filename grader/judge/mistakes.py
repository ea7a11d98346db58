"""Named mistakes: which known wrong gate reproduces a student's answers.

Each suspect is a reference gate with one classic mistake built in. To
diagnose a failed check, the parent replays the check's exact calls (same
inputs, same order, same instances) on the suspect, and names the mistake
only when the suspect reproduces *every* backward answer the student gave.
A suspect never sees the student's code; it runs in the trusted parent.
"""
from __future__ import annotations

import itertools
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from backprop_grader.judge.check_kinds import diagnosed
from backprop_grader.judge.compare import close
from backprop_grader.judge.mistake_kinds import EVIDENCE, declared, rule_id, rule_pairs, sentence
from backprop_grader.judge.probe import Wrong, numbers

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from backprop_grader.judge.probe import StudentGate
    from backprop_grader.judge.rubric import Item, Rubric

    Call = tuple[StudentGate, str, list, Any]  # a session's log: gate, method, arguments, raw answer

TOLERANCE = {"rtol": 1e-5, "atol": 1e-9}  # a little looser than grading: float32 students
_suspects = {}  # id(rubric) -> (weak reference to it, {gate name: suspects})


@dataclass
class Diagnosis:
    id: str  # e.g. "forgot_upstream" or "add_rule_in_multiply"
    sentence: str


def scalar(v: ArrayLike) -> np.ndarray | np.float64:
    if isinstance(v, dict) or isinstance(v, np.ndarray) and v.dtype.kind in "iu":
        return v  # labels and a rubric's values (bn_param) stay as they are
    v = np.asarray(v, dtype=np.float64)
    return v[()] if v.ndim == 0 else v


class Suspect:
    """A reference gate, correct unless a subclass says otherwise."""

    def __init__(self, ref: type, shared: dict | None = None) -> None:
        self.ref, self.shared = ref(), shared

    def forward(self, *xs: ArrayLike) -> Any:
        return self.ref.forward(*xs)

    def backward(self, *up: ArrayLike) -> list:
        return list(self.ref.backward(*up))


class ForgotUpstream(Suspect):
    def backward(self, *up: ArrayLike) -> list:
        return list(self.ref.backward(*[scalar(np.ones_like(u)) for u in up]))


class Swapped(Suspect):
    def backward(self, *up: ArrayLike) -> list:
        return list(self.ref.backward(*up))[::-1]


class Reordered(Suspect):
    order = ()

    def backward(self, *up: ArrayLike) -> list:
        grads = list(self.ref.backward(*up))
        return [grads[i] for i in self.order]


class SignFlipped(Suspect):
    flipped = ()

    def backward(self, *up: ArrayLike) -> list:
        return [-g if i in self.flipped else g for i, g in enumerate(self.ref.backward(*up))]


class OtherRule(Suspect):
    other = None

    def __init__(self, ref: type, shared: dict | None = None) -> None:
        super().__init__(ref, shared)
        self.twin = self.other()

    def forward(self, *xs: ArrayLike) -> Any:
        self.twin.forward(*xs)
        return self.ref.forward(*xs)

    def backward(self, *up: ArrayLike) -> list:
        return list(self.twin.backward(*up))


class UsedOutput(Suspect):
    replaced = ()

    def forward(self, *xs: ArrayLike) -> Any:
        out = self.ref.forward(*xs)
        self.ref.forward(*[out if i in self.replaced else x for i, x in enumerate(xs)])
        return out


class StaleCache(Suspect):
    first = None

    def forward(self, *xs: ArrayLike) -> Any:
        if self.first is None:
            self.first = xs
        out = self.ref.forward(*xs)
        self.ref.forward(*self.first)
        return out


class SharedCache(Suspect):
    def forward(self, *xs: ArrayLike) -> Any:
        self.shared["inputs"] = xs
        return self.ref.forward(*xs)

    def backward(self, *up: ArrayLike) -> list:
        self.ref.forward(*self.shared["inputs"])
        return list(self.ref.backward(*up))


class Accumulated(Suspect):
    total = None

    def backward(self, *up: ArrayLike) -> list:
        grads = [np.asarray(g, dtype=np.float64) for g in self.ref.backward(*up)]
        self.total = grads if self.total is None else [t + g for t, g in zip(self.total, grads)]
        return list(self.total)


class AccumulatedSinceForward(Accumulated):
    def forward(self, *xs: ArrayLike) -> Any:
        self.total = None
        return self.ref.forward(*xs)


class Transformed(Suspect):
    """backward sees transformed inputs (forward's output is still right)."""
    fn = staticmethod(np.trunc)

    def forward(self, *xs: ArrayLike) -> Any:
        out = self.ref.forward(*xs)
        self.ref.forward(*[scalar(self.fn(x)) for x in xs])
        return out


class TransformedOutput(Suspect):
    """backward's answers are transformed (rounded, abs)."""
    fn = staticmethod(np.trunc)

    def backward(self, *up: ArrayLike) -> list:
        return [self.fn(np.asarray(g, dtype=np.float64)) for g in self.ref.backward(*up)]


def rounding(decimals: int) -> staticmethod:
    return staticmethod(lambda v: np.round(v, decimals))


class Declared(Suspect):
    """A mistake the reference gate declares: a whole gate class with it built in."""
    wrong = None

    def __init__(self, ref: type, shared: dict | None = None) -> None:
        self.ref = self.wrong()

    def backward(self, *up: ArrayLike) -> list:
        return list(self.ref.backward(*up))


def suspects(rubric: Rubric, name: str) -> list[tuple[str, str, type[Suspect]]]:
    """(id, sentence, suspect class) for a gate: its reference's own mistakes
    first, then the general ones, most specific first (made once per rubric)."""
    entry = _suspects.get(id(rubric))
    if entry is None or entry[0]() is not rubric:
        key = id(rubric)
        entry = _suspects[key] = (weakref.ref(rubric, lambda _, key=key: _suspects.pop(key, None)), {})
    made = entry[1]
    if name not in made:
        made[name] = make_suspects(rubric, name)
    return made[name]


def make_suspects(rubric: Rubric, name: str) -> list[tuple[str, str, type[Suspect]]]:
    gate = rubric.gates[name]
    n = len(gate.grads)
    found = [(mistake_id, said, type("Declared", (Declared,), {"wrong": wrong}))
             for mistake_id, (said, wrongs) in declared(gate.reference).items()
             for wrong in wrongs]
    found.append(("forgot_upstream", sentence("forgot_upstream"), ForgotUpstream))
    if n > 2:  # [db, dw, dx]: the order of several gradients
        for order in list(itertools.permutations(range(n)))[1:]:
            found.append(("gradients_out_of_order", sentence("gradients_out_of_order", want=", ".join(gate.grads)),
                          type("Reordered", (Reordered,), {"order": order})))
    if n > 1:
        found.append(("swapped_inputs", sentence("swapped_inputs"), Swapped))
    for k in range(1, n + 1):
        for flipped in itertools.combinations(range(n), k):
            detail = ("all gradients have" if k == n else
                      " and ".join(gate.grads[i] for i in flipped) + (" has" if k == 1 else " have"))
            found.append(("sign_error", sentence("sign_error", detail=detail),
                          type("SignFlipped", (SignFlipped,), {"flipped": flipped})))
    for other in rule_pairs(rubric.gates, name):
        found.append((rule_id(other.name, name), sentence("rule_of_other_gate", gate=name, other=other.name),
                      type("OtherRule", (OtherRule,), {"other": other.reference})))
    for k in range(1, n + 1):
        for replaced in itertools.combinations(range(n), k):
            found.append(("used_output", sentence("used_output"),
                          type("UsedOutput", (UsedOutput,), {"replaced": replaced})))
    found += [("stale_cache", sentence("stale_cache"), StaleCache),
              ("shared_cache", sentence("shared_cache"), SharedCache),
              ("accumulated", sentence("accumulated"), Accumulated),
              ("accumulated", sentence("accumulated"), AccumulatedSinceForward)]
    for base in (Transformed, TransformedOutput):
        for fn in [staticmethod(np.trunc)] + [rounding(d) for d in range(5)]:
            found.append(("rounded", sentence("rounded"), type("Rounded", (base,), {"fn": fn})))
        found.append(("dropped_signs", sentence("dropped_signs"),
                      type("Abs", (base,), {"fn": staticmethod(np.abs)})))
    return found


def diagnose(rubric: Rubric, item: Item, log: list[Call]) -> Diagnosis | None:
    """The mistake that explains every backward answer of one gate, or None.

    Each gate is judged on its own calls (their inputs come from the log), and
    only a gate whose answers the reference does not reproduce is a suspect."""
    if not diagnosed(item.check) or not log:
        return None
    targets = [item.gate] if item.gate else sorted({g.cls for g, *_ in log})
    read = {}  # the student's answers as read for each suspect: the same every time
    for target in targets:
        if replays(rubric, log, target, Suspect, read):
            continue  # this gate's backward answers are right
        found = named(rubric, log, target, read)
        if found is not None:
            if item.graph:
                found.sentence = "In %s: %s" % (target, found.sentence[0].lower() + found.sentence[1:])
            return found
    return None


def named(rubric: Rubric, log: list[Call], target: str, read: dict | None = None) -> Diagnosis | None:
    for mistake_id, said, suspect in suspects(rubric, target):
        if replays(rubric, log, target, suspect, read):
            return Diagnosis(mistake_id, said)
    answers = backward_answers(rubric, log, target)
    if len(answers) >= EVIDENCE and all(np.array_equal(g, answers[0][1]) for _, g in answers):
        return Diagnosis("hard_coded", sentence("hard_coded"))
    if ignores_inputs(answers):
        return Diagnosis("ignores_inputs", sentence("ignores_inputs"))
    return None


def replays(rubric: Rubric, log: list[Call], target: str, suspect: type[Suspect], read: dict | None = None) -> bool:
    """True when `suspect`, given the target gate's logged calls, gives every
    backward answer the student gave (at least EVIDENCE of them). `read` keeps
    the answers read so far, by log position and shapes, for the next suspect."""
    instances, shared, compared = {}, {}, 0
    read = {} if read is None else read
    for k, (gate, method, args, raw) in enumerate(log):
        if gate.cls != target:
            continue
        if id(gate) not in instances:
            instances[id(gate)] = suspect(rubric.gates[target].reference, shared)
        try:
            result = getattr(instances[id(gate)], method)(*[scalar(a) for a in args])
        except Exception:  # noqa: BLE001  (a suspect that cannot run explains nothing)
            return False
        if method != "backward":
            continue
        want = [np.asarray(r, dtype=np.float64) for r in result]
        shapes = tuple(w.shape for w in want)
        if (k, shapes) not in read:
            try:
                read[k, shapes] = numbers(raw, list(shapes), rubric.gates[target].grads)
            except Wrong:
                read[k, shapes] = None
        got = read[k, shapes]
        if got is None or not close(got, want, [0.0] * len(want), TOLERANCE):
            return False
        compared += 1
    return compared >= EVIDENCE


def backward_answers(rubric: Rubric, log: list[Call], target: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(upstream, flat gradients)] for the target gate's valid backward answers."""
    spec, found = rubric.gates[target], []
    for gate, method, args, raw in log:
        if gate.cls == target and method == "backward":
            try:
                grads = numbers(raw, spec.grad_shapes, spec.grads)
            except Wrong:
                return []
            found.append((np.asarray(args[0] if len(args) == 1 else np.nan, dtype=np.float64),
                          np.concatenate([np.ravel(g) for g in grads])))
    return found


def ignores_inputs(answers: list[tuple[np.ndarray, np.ndarray]]) -> bool:
    """Local gradients (answer / upstream) the same for every scalar upstream."""
    ratios = [g / float(up) for up, g in answers
              if up.ndim == 0 and np.isfinite(up) and float(up) != 0]
    return len(ratios) >= EVIDENCE and all(np.allclose(r, ratios[0], rtol=1e-6, atol=0)
                                           for r in ratios)
