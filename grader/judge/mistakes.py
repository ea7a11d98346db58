"""Named mistakes: which known wrong gate reproduces a student's answers.

Each suspect is a reference gate with one classic mistake built in. To
diagnose a failed check, the parent replays the check's exact calls (same
inputs, same order, same instances) on the suspect, and names the mistake
only when the suspect reproduces *every* backward answer the student gave.
A suspect never sees the student's code; it runs in the trusted parent.
"""
import itertools
from dataclasses import dataclass

import numpy as np

from grader.judge.compare import close
from grader.judge.probe import Wrong, numbers

DIAGNOSED = ("backward", "numerical", "state", "graph")
TOLERANCE = {"rtol": 1e-5, "atol": 1e-9}  # a little looser than grading: float32 students
EVIDENCE = 3  # backward answers a suspect must reproduce before it is named

SENTENCES = {
    "forgot_upstream": "It looks like the upstream gradient was not multiplied in.",
    "swapped_inputs": "It looks like the gradients are swapped: each input got the other "
                      "input's gradient.",
    "sign_error": "It looks like a sign is wrong: {detail} the opposite sign.",
    "rule_of_other_gate": "It looks like {gate} uses {other}'s rule for its gradients.",
    "used_output": "It looks like the gate's output was used where an input belongs.",
    "stale_cache": "It looks like backward uses the inputs of an earlier forward call, "
                   "not the latest one.",
    "shared_cache": "It looks like instances share their cached inputs (kept on the class or "
                    "in a global), so one gate's backward used another gate's inputs.",
    "accumulated": "It looks like backward adds to gradients kept from earlier calls "
                   "(like self.dx += ...) instead of computing them afresh each time.",
    "rounded": "It looks like values are cut or rounded (int() or round()); inputs and "
               "gradients are real numbers, not whole numbers.",
    "dropped_signs": "It looks like abs() dropped a sign; it is only right for positive values.",
    "ignores_inputs": "backward gives the same local gradients whatever the inputs: it looks "
                      "like it uses fixed values (notebook globals, or the slide's numbers) "
                      "instead of the inputs cached by forward.",
    "hard_coded": "backward returns the same values whatever the inputs: they look hard-coded "
                  "(for example, the slide's worked example).",
}


@dataclass
class Diagnosis:
    id: str  # e.g. "forgot_upstream" or "add_rule_in_multiply"
    sentence: str


def scalar(v):
    v = np.asarray(v, dtype=np.float64)
    return v[()] if v.ndim == 0 else v


class Suspect:
    """A reference gate, correct unless a subclass says otherwise."""

    def __init__(self, ref, shared=None):
        self.ref, self.shared = ref(), shared

    def forward(self, *xs):
        return self.ref.forward(*xs)

    def backward(self, *up):
        return list(self.ref.backward(*up))


class ForgotUpstream(Suspect):
    def backward(self, *up):
        return list(self.ref.backward(*[scalar(np.ones_like(u)) for u in up]))


class Swapped(Suspect):
    def backward(self, *up):
        return list(self.ref.backward(*up))[::-1]


class SignFlipped(Suspect):
    flipped = ()

    def backward(self, *up):
        return [-g if i in self.flipped else g for i, g in enumerate(self.ref.backward(*up))]


class OtherRule(Suspect):
    other = None

    def __init__(self, ref, shared=None):
        super().__init__(ref, shared)
        self.twin = self.other()

    def forward(self, *xs):
        self.twin.forward(*xs)
        return self.ref.forward(*xs)

    def backward(self, *up):
        return list(self.twin.backward(*up))


class UsedOutput(Suspect):
    replaced = ()

    def forward(self, *xs):
        out = self.ref.forward(*xs)
        self.ref.forward(*[out if i in self.replaced else x for i, x in enumerate(xs)])
        return out


class StaleCache(Suspect):
    first = None

    def forward(self, *xs):
        if self.first is None:
            self.first = xs
        out = self.ref.forward(*xs)
        self.ref.forward(*self.first)
        return out


class SharedCache(Suspect):
    def forward(self, *xs):
        self.shared["inputs"] = xs
        return self.ref.forward(*xs)

    def backward(self, *up):
        self.ref.forward(*self.shared["inputs"])
        return list(self.ref.backward(*up))


class Accumulated(Suspect):
    total = None

    def backward(self, *up):
        grads = [np.asarray(g, dtype=np.float64) for g in self.ref.backward(*up)]
        self.total = grads if self.total is None else [t + g for t, g in zip(self.total, grads)]
        return list(self.total)


class AccumulatedSinceForward(Accumulated):
    def forward(self, *xs):
        self.total = None
        return self.ref.forward(*xs)


class Transformed(Suspect):
    """backward sees transformed inputs (forward's output is still right)."""
    fn = staticmethod(np.trunc)

    def forward(self, *xs):
        out = self.ref.forward(*xs)
        self.ref.forward(*[scalar(self.fn(x)) for x in xs])
        return out


class TransformedOutput(Suspect):
    """backward's answers are transformed (rounded, abs)."""
    fn = staticmethod(np.trunc)

    def backward(self, *up):
        return [self.fn(np.asarray(g, dtype=np.float64)) for g in self.ref.backward(*up)]


def rounding(decimals):
    return staticmethod(lambda v: np.round(v, decimals))


class Declared(Suspect):
    """A mistake the reference gate declares: a whole gate class with it built in."""
    wrong = None

    def __init__(self, ref, shared=None):
        self.ref = self.wrong()

    def backward(self, *up):
        return list(self.ref.backward(*up))


def suspects(rubric, name):
    """(id, sentence, suspect class) for a gate: its reference's own mistakes
    first, then the general ones, most specific first (made once per rubric)."""
    if name not in rubric.suspects:
        rubric.suspects[name] = make_suspects(rubric, name)
    return rubric.suspects[name]


def make_suspects(rubric, name):
    gate = rubric.gates[name]
    n = len(gate.inputs)
    found = [(mistake_id, sentence, type("Declared", (Declared,), {"wrong": wrong}))
             for mistake_id, (sentence, wrongs) in declared(gate.reference).items()
             for wrong in wrongs]
    found.append(("forgot_upstream", SENTENCES["forgot_upstream"], ForgotUpstream))
    if n > 1:
        found.append(("swapped_inputs", SENTENCES["swapped_inputs"], Swapped))
    for k in range(1, n + 1):
        for flipped in itertools.combinations(range(n), k):
            detail = ("all gradients have" if k == n else
                      " and ".join(gate.grads[i] for i in flipped) + (" has" if k == 1 else " have"))
            found.append(("sign_error", SENTENCES["sign_error"].format(detail=detail),
                          type("SignFlipped", (SignFlipped,), {"flipped": flipped})))
    for other in rubric.gates.values():
        if other.name != name and other.shapes == gate.shapes and other.outputs == gate.outputs:
            found.append(("%s_rule_in_%s" % (short(other.name), short(name)),
                          SENTENCES["rule_of_other_gate"].format(gate=name, other=other.name),
                          type("OtherRule", (OtherRule,), {"other": other.reference})))
    for k in range(1, n + 1):
        for replaced in itertools.combinations(range(n), k):
            found.append(("used_output", SENTENCES["used_output"],
                          type("UsedOutput", (UsedOutput,), {"replaced": replaced})))
    found += [("stale_cache", SENTENCES["stale_cache"], StaleCache),
              ("shared_cache", SENTENCES["shared_cache"], SharedCache),
              ("accumulated", SENTENCES["accumulated"], Accumulated),
              ("accumulated", SENTENCES["accumulated"], AccumulatedSinceForward)]
    for base in (Transformed, TransformedOutput):
        for fn in [staticmethod(np.trunc)] + [rounding(d) for d in range(5)]:
            found.append(("rounded", SENTENCES["rounded"], type("Rounded", (base,), {"fn": fn})))
        found.append(("dropped_signs", SENTENCES["dropped_signs"],
                      type("Abs", (base,), {"fn": staticmethod(np.abs)})))
    return found


def declared(reference):
    """{id: (sentence, [gate classes])} from the reference class's `mistakes`: each
    value is (sentence, a gate class with the mistake, or a list of such classes)."""
    found = getattr(reference, "mistakes", None)
    if not isinstance(found, dict):
        return {}
    return {str(k): (str(v[0]), list(v[1]) if isinstance(v[1], (list, tuple)) else [v[1]])
            for k, v in found.items()}


def short(name):
    return (name[:-4] if name.endswith("Gate") else name).lower()


def known_ids(rubric):
    """Every mistake id a rubric's items can name (for hints per mistake)."""
    ids = {"hard_coded", "ignores_inputs"}
    for name in rubric.gates:
        ids.update(i for i, _, _ in suspects(rubric, name))
    return ids


def diagnose(rubric, item, log):
    """The mistake that explains every backward answer of one gate, or None.

    Each gate is judged on its own calls (their inputs come from the log), and
    only a gate whose answers the reference does not reproduce is a suspect."""
    if item.check not in DIAGNOSED or not log:
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


def named(rubric, log, target, read=None):
    for mistake_id, sentence, suspect in suspects(rubric, target):
        if replays(rubric, log, target, suspect, read):
            return Diagnosis(mistake_id, sentence)
    answers = backward_answers(rubric, log, target)
    if len(answers) >= EVIDENCE and all(np.array_equal(g, answers[0][1]) for _, g in answers):
        return Diagnosis("hard_coded", SENTENCES["hard_coded"])
    if ignores_inputs(answers):
        return Diagnosis("ignores_inputs", SENTENCES["ignores_inputs"])
    return None


def replays(rubric, log, target, suspect, read=None):
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


def backward_answers(rubric, log, target):
    """[(upstream, flat gradients)] for the target gate's valid backward answers."""
    spec, found = rubric.gates[target], []
    for gate, method, args, raw in log:
        if gate.cls == target and method == "backward":
            try:
                grads = numbers(raw, spec.shapes, spec.grads)
            except Wrong:
                return []
            found.append((np.asarray(args[0] if len(args) == 1 else np.nan, dtype=np.float64),
                          np.concatenate([np.ravel(g) for g in grads])))
    return found


def ignores_inputs(answers):
    """Local gradients (answer / upstream) the same for every scalar upstream."""
    ratios = [g / float(up) for up, g in answers
              if up.ndim == 0 and np.isfinite(up) and float(up) != 0]
    return len(ratios) >= EVIDENCE and all(np.allclose(r, ratios[0], rtol=1e-6, atol=0)
                                           for r in ratios)
