"""What a check gets (`Context`) and gives back (`Outcome`).

A check is a small function `check(ctx)` registered under the name a rubric
uses. It draws cases from `ctx`, runs the student's gates and the reference
the same way, and records each trial with `ctx.compare`.
"""
from dataclasses import dataclass, field

import numpy as np

from .. import inputs
from ..compare import close, reference_slack
from ..probe import StudentGate, Wrong

CHECKS = {}


def check(name):
    """Register a check function under the name rubrics use."""
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
    trials: int = 0
    failures: list = field(default_factory=list)
    error: str = ""  # why the check stopped early (bad answer, exception, crash...)
    where: str = ""  # where in the student's code, when known
    mistake: object = None  # a mistakes.Diagnosis when a known mistake explains the failures

    @property
    def passed(self):
        return self.trials > 0 and not self.failures and not self.error

    def example(self):
        """The most readable failure: a random case with the smallest inputs."""
        def size(f):
            return (f.label != "random",
                    max((float(np.max(np.abs(v))) for v in f.inputs.values()), default=0.0))
        return min(self.failures, key=size) if self.failures else None


class ReferenceGate:
    """A reference gate used exactly like a `StudentGate`, in float64 or float32:
    forward gives the list of outputs, backward the list of gradients."""

    def __init__(self, cls, dtype=np.float64, outputs=1):
        self.gate, self.dtype, self.outputs = cls(), dtype, outputs

    def _cast(self, v):
        v = np.asarray(v, dtype=self.dtype)
        return v[()] if v.ndim == 0 else v

    def forward(self, *values):
        out = self.gate.forward(*map(self._cast, values))
        return [np.asarray(o, dtype=np.float64) for o in (out if self.outputs > 1 else [out])]

    def backward(self, *upstream):
        return [np.asarray(g, dtype=np.float64)
                for g in self.gate.backward(*map(self._cast, upstream))]


class Context:
    def __init__(self, rubric, item, rng, session, outcome):
        self.rubric, self.item, self.rng = rubric, item, rng
        self.session, self.outcome = session, outcome

    @property
    def gate(self):
        return self.rubric.gates[self.item.gate]

    @property
    def graph(self):
        return self.rubric.graphs[self.item.graph]

    def student(self, name=None):
        return StudentGate(self.session, name or self.item.gate)

    def reference(self, name=None, dtype=np.float64):
        gate = self.rubric.gates[name or self.item.gate]
        return ReferenceGate(gate.reference, dtype, len(gate.outputs))

    def out_shapes(self, name=None):
        gate = self.rubric.gates[name or self.item.gate]
        return [o.shape for o in self.reference(gate.name).forward(*[np.ones(s) for s in gate.shapes])]

    def cases(self, specials=True):
        """The rubric's fixed examples, random cases, then special cases."""
        return self.examples(self.input_names(), self.out_shapes()) + inputs.cases(
            self.rng, self.gate.shapes, self.out_shapes(), self.item.inputs, self.item.trials,
            self.item.specials if specials else ())

    def examples(self, names, out_shapes=((),)):
        """Fixed points from the rubric; `upstream` (default 1) goes to every output."""
        return [inputs.Case([np.float64(e[n]) for n in names],
                            [np.full(s, e.get("upstream", 1.0)) for s in out_shapes], "example")
                for e in self.item.examples]

    def expected(self, case, name=None):
        """Reference outputs then gradients at a case, in float64 and in float32."""
        found = []
        for dtype in (np.float64, np.float32):
            ref = self.reference(name, dtype)
            found.append(ref.forward(*case.inputs) + ref.backward(*case.upstream))
        return found

    def compare(self, case, got, want, want32, names, note="", tolerance=None, slack=None):
        """Record one trial; returns True when it passed. `want32`: the reference
        in float32, whose round-off sets the slack unless `slack` is given."""
        self.outcome.trials += 1
        if slack is None:
            slack = reference_slack(want, want32)
        if close(got, want, slack, tolerance or self.item.tolerance):
            return True
        labels = list(self.input_names()) + self.upstream_names()
        values = list(case.inputs) + list(case.upstream)
        self.outcome.failures.append(Failure(
            case.label, dict(zip(labels, values)), dict(zip(names, want)),
            dict(zip(names, got)), note))
        return False

    def require_varying(self, answers):
        """Consistency checks judge a gate against itself; a backward that gives
        the same answer whatever it is asked (a stub returning zeros) earns nothing."""
        flat = [np.concatenate([np.ravel(g) for g in a]) for a in answers]
        if len(flat) > 1 and all(np.array_equal(f, flat[0]) for f in flat):
            raise Wrong("backward gives the same answer whatever the inputs and upstream "
                        "gradient, so there is nothing for this check to judge")

    def input_names(self):
        return self.graph.inputs if self.item.graph else self.gate.inputs

    def upstream_names(self):
        return ["d" + self.graph.nodes[-1]["name"]] if self.item.graph else self.gate.upstreams
