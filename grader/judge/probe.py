"""Talk to student gates through the sandbox, and read their answers strictly.

A `StudentGate` looks like a gate to a check, but every call crosses the
process boundary as plain numbers. Replies reach here as plain bounded JSON
(`sandbox.wire.plain`); each field is then read by its type, and each answer
must have one of the forms the child encodes (`readable`) before anything
looks inside it. Answers are validated here: the right count and shape of
finite numbers, or a `Wrong` explaining what came back.
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from backprop_grader.errors import Wrong
from backprop_grader.judge import facts
from backprop_grader.judge.rubric import Api
from backprop_grader.sandbox import MAX_REPLY, SandboxError, text

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from backprop_grader.sandbox import Session

DEFAULT_API = Api()


def encode(x: ArrayLike) -> float | dict:
    """An argument on the wire: a bare number, or an array's shape and values
    (integer labels as integers; a rubric's plain value, such as a dict, as it is)."""
    if isinstance(x, float):  # float and np.float64
        return float(x)
    if isinstance(x, dict):
        return {"t": "obj", "v": x}
    if isinstance(x, np.ndarray) and x.dtype.kind in "iu":
        return {"t": "int", "shape": list(x.shape), "v": x.ravel().tolist()}
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0:
        return float(x)
    return {"t": "arr", "shape": list(x.shape), "v": x.ravel().tolist()}


class StudentGate:
    """A student's gate instance living in the sandbox. It is made there just
    before the first batch of calls that follows (in the same message)."""

    def __init__(self, session: Session, cls_name: str, api: Api | None = None) -> None:
        self.session = session
        self.cls = cls_name
        self.api = api or DEFAULT_API
        self.inputs = []  # the latest forward's arguments (for a stateless backward)
        session.gates += 1
        self.id = session.gates
        session.to_make.append(self)
        self.float32 = False  # set when an answer came back in float32
        # made in the child behind forward/backward: a function pair, or a class made with inputs
        self.adapted = self.api.function or bool(self.api.init)

    @classmethod
    def many(cls, session: Session, cls_name: str, count: int, api: Api | None = None) -> list[StudentGate]:
        return [cls(session, cls_name, api) for _ in range(count)]

    def method(self, method: str) -> str:
        """The student's name for `method` (forward or backward)."""
        return self.api.forward if method == "forward" else self.api.backward if method == "backward" else method

    def made(self) -> list:
        """How the child makes this gate: [id, class], or with how to adapt it."""
        if self.api.function:
            return [self.id, self.cls, {"backward": self.api.backward}]
        if self.api.init:
            return [self.id, self.cls, {"init": len(self.api.init), "forward": self.api.forward,
                                        "backward": self.api.backward}]
        return [self.id, self.cls]

    def who(self, method: str) -> str:
        """The student's code a call runs, as messages name it (affine_forward, Affine.forward)."""
        if self.api.function:
            return self.method(method) or self.cls
        return "%s.%s" % (self.cls, self.method(method))

    def wire(self, method: str, args: list) -> list:
        """A call as the child runs it: the gate's `api` turns forward(inputs) and
        backward(upstream) into the student's methods, arguments and attributes."""
        if method == "forward":
            self.inputs = list(args)
            if self.api.init:  # the constructor's inputs first
                rest = [a for i, a in enumerate(args) if i not in self.api.init]
                args = [args[i] for i in self.api.init] + rest
        elif self.api.no_upstream:
            args = []
        elif self.api.inputs_again:
            args = self.inputs + list(args)
        call = [self.id, method if self.adapted else self.method(method), [encode(a) for a in args]]
        if method == "backward" and self.api.upstream_in_place:  # not watched for changes in the child
            call[2] = [dict(a, free=True) if isinstance(a, dict) else a for a in call[2]]
        return call + [list(self.api.grads_on)] if method == "backward" and self.api.grads_on else call

    def outputs(self, raw: Any, shapes: Sequence[tuple], names: Sequence[str]) -> list:
        """Validate a raw forward answer: one value, or one per output."""
        if len(shapes) == 1:
            return [number(raw, shapes[0], "%s's output" % self.who("forward"), self)]
        return numbers(raw, shapes, names, self, "forward")

    def grads(self, raw: Any, shapes: Sequence[tuple], names: Sequence[str]) -> list:
        """Validate a raw backward answer (the attributes' values, for `grads_on`)."""
        if self.api.grads_on:
            names = [n if a is None else "self." + a for n, a in zip(names, self.api.grads_on)]
        return numbers(raw, shapes, names, self, "backward")


def run(calls: list[tuple[StudentGate, str, list]]) -> list:
    """Make several calls in one message: [(gate, method, args)] -> raw answers.

    The child first makes the gates not made yet, then runs the calls in order
    and stops at the first exception, which becomes `Wrong`; each call still
    has the per-call time limit."""
    if not calls:
        return []
    session = calls[0][0].session
    make, session.to_make = session.to_make, []
    steps = ["creating %s()" % g.cls for g in make] + [g.who(m) for g, m, _ in calls]
    msg = {"op": "calls", "new": [g.made() for g in make],
           "calls": [g.wire(m, args) for g, m, args in calls]}
    if getattr(session, "strict", False):  # numpy's overflow, divide and invalid warnings raise
        msg["strict"] = True
    try:
        reply = session.request(msg, steps[0], steps)
    except SandboxError as exc:
        raise Wrong(exc.message, kind=sandbox_kind(exc)) from None
    values = read_reply(session, reply, make, steps)
    for value, step in zip(values, steps[len(make):]):
        if isinstance(value, dict) and value.get("t") == "mutated":
            raise Wrong("%s changed its input arrays in place" % step)
    calls[0][0].session.log.extend((g, m, args, v) for (g, m, args), v in zip(calls, values))
    return values


def sandbox_kind(exc: SandboxError) -> str:
    """The outcome kind (judge.facts) of a SandboxError: the sandbox says which
    (a timeout, a crash, the time up, a load that failed, another refusal)."""
    return exc.kind or facts.SANDBOX


def read_reply(session: Session, reply: dict, make: list[StudentGate], steps: list[str]) -> list:
    """The answers in a reply to `steps` (creating the gates in `make`, then the
    calls), or `Wrong`: what the student's code raised, or a reply that does not
    have the protocol's fields and types (which also ends the child)."""
    calls = steps[len(make):]
    try:
        return answers(reply, make, steps, calls)
    except Unreadable:
        raise Wrong(session.unreadable(calls[0] if calls else steps[0]).message, kind=facts.SANDBOX) from None


def answers(reply: dict, make: list[StudentGate], steps: list[str], calls: list[str]) -> list:
    """`read_reply`'s work; Unreadable for a reply out of protocol."""
    unreadable = Unreadable()
    if reply.get("missing") is not None:
        missing = index(reply["missing"], make, unreadable)
        raise Wrong("%s is not defined in the submission" % make[missing].cls, kind=facts.MISSING_CLASS,
                    missing=make[missing].cls)
    error = text(reply.get("error", ""), 300)
    if error is None or type(reply.get("ok")) is not bool:
        raise unreadable
    where, exception = place(reply.get("place")), exception_type(reply.get("exception"))
    if where is None or exception is None:
        raise unreadable
    if reply.get("failed_new") is not None:
        step = steps[index(reply["failed_new"], make, unreadable)]
        raise Wrong("%s raised %s" % (step, error), where, facts.EXCEPTION, exception)
    if not reply["ok"]:
        failed = reply.get("failed", 0)  # none: the request failed before any call
        step = calls[index(failed, calls, unreadable)] if calls else steps[0]
        if reply.get("too_large") is True:
            raise Wrong("%s produced an answer larger than %d MB" % (step, MAX_REPLY >> 20))
        error = error or "an error"
        raise Wrong("%s %s" % (step, error if exception == "SystemExit" else "raised " + error), where,
                    facts.EXCEPTION, exception)
    values = reply.get("values")
    if type(values) is not list or len(values) != len(calls) or not readable(values):
        raise unreadable
    return values


class Unreadable(Exception):
    """A reply out of protocol (see read_reply)."""


IDENTIFIER = re.compile(r"[A-Za-z_]\w{0,79}")


def exception_type(raw: Any) -> str | None:
    """The type name of what the student's code raised: "" when absent or not a
    plain name (a class may be given any name), None when not a string at all."""
    if raw is None or type(raw) is str and not IDENTIFIER.fullmatch(raw):
        return ""
    return raw if type(raw) is str else None


def place(raw: Any) -> facts.Where | None:
    """Where in the student's code, from the child's [cell, file, line] (each may
    be null): nowhere when absent, None when any field has the wrong type."""
    def count(v):
        return v is None or type(v) is int and 0 <= v < 1 << 31
    if raw is None:
        return facts.NOWHERE
    if type(raw) is not list or len(raw) != 3 or not count(raw[0]) or not count(raw[2]):
        return None
    file = None if raw[1] is None else text(raw[1], 80)
    return None if file is None and raw[1] is not None else facts.Where(raw[0], file, raw[2])


def index(value: Any, items: Sequence, unreadable: Unreadable) -> int:
    """An index into `items` the child sent back, or `unreadable`."""
    if type(value) is not int or not 0 <= value < len(items):
        raise unreadable
    return value


def _number(v):
    return type(v) is float or type(v) is int


def _shape(v):
    return type(v) is list and all(type(d) is int and d >= 0 for d in v)


def _numbers(v):
    return type(v) is list and all(map(_number, v))


def _answers(v):
    return type(v) is list and all(map(readable, v))


def _str(v):
    return type(v) is str


# What the child's encode() sends, by "t": each field and its test. Every field
# but "dtype" must be there, and no other.
ANSWERS = {"num": {"v": _number, "dtype": _str},
           "arr": {"shape": _shape, "v": _numbers, "dtype": _str},
           "seq": {"type": _str, "items": _answers},
           "too_many": {"n": lambda v: type(v) is int and v >= 0},
           "other": {"type": _str, "repr": _str},
           "none": {}, "mutated": {}}


def readable(raw: Any) -> bool:
    """True when an answer has one of the forms the child encodes: a number, a
    list of answers, or an object of ANSWERS."""
    kind = type(raw)
    if kind is float or kind is int:
        return True
    if kind is list:
        for v in raw:  # a loop, not a generator: most items are floats
            if type(v) is not float and not readable(v):
                return False
        return True
    fields = ANSWERS.get(raw.get("t")) if kind is dict else None
    if fields is None or not fields.keys() - {"dtype"} <= raw.keys() <= fields.keys() | {"t"}:
        return False
    return all(test(raw[key]) for key, test in fields.items() if key in raw)


def sequence(raw: Any) -> Any:
    """A bare list on the wire stands for a list of float64 numbers (the common
    answer); anything else in it is still read, and judged, item by item."""
    return {"t": "seq", "type": "list", "items": raw} if type(raw) is list else raw


def describe(raw: Any) -> str:
    """A short human description of an answer that is not what we wanted."""
    raw = sequence(raw)
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return repr(float(raw))
    if not isinstance(raw, dict):
        return "something unreadable"
    t = raw.get("t")
    if t == "none":
        return "None"
    if t == "num":
        return repr(raw.get("v"))
    if t == "arr":
        return "an array of shape %s" % (tuple(raw.get("shape", ())),)
    if t == "seq":
        return "a %s of %d values" % (raw.get("type"), len(raw.get("items", [])))
    if t == "too_many":
        return "%s values" % format(int(raw.get("n", 0)), ",")
    return "a %s %s" % (str(raw.get("type"))[:40], str(raw.get("repr", ""))[:40])


def numbers(raw: Any, shapes: Sequence[tuple], names: Sequence[str], gate: StudentGate | None = None,
            method: str = "backward") -> list:
    """Validate an answer of several values: one finite number (or array) per
    input (backward) or per output (forward). A single value may come bare."""
    n = len(shapes)
    items = raw if type(raw) is list else \
        raw.get("items") if isinstance(raw, dict) and raw.get("t") == "seq" else None
    if isinstance(items, list) and not any(shapes) and len(items) == n and \
            all(type(v) is float and math.isfinite(v) for v in items):  # the common case
        return [np.float64(v) for v in items]
    raw = sequence(raw)
    want = "[%s]" % ", ".join(names)
    who = gate.who(method) if isinstance(gate, StudentGate) else "%s.%s" % (gate.cls, method) if gate else method
    if n == 1 and (bare(raw) or isinstance(raw, dict) and raw.get("t") in ("num", "arr") and
                   list(raw.get("shape") or []) != [1] + list(shapes[0])):
        return [number(raw, shapes[0], names[0], gate)]  # `return dx` for one input
    if isinstance(raw, dict) and raw.get("t") == "seq":
        items = raw.get("items", [])
    elif isinstance(raw, dict) and raw.get("t") == "arr" and list(raw.get("shape") or [None])[:1] == [n]:
        try:
            flat = np.asarray(raw.get("v"), dtype=np.float64).reshape(raw["shape"])
        except (TypeError, ValueError):
            raise Wrong("%s's answer could not be read as numbers" % who) from None
        items = [{"t": "arr", "shape": list(row.shape), "v": row.ravel().tolist(),
                  "dtype": raw.get("dtype")} for row in flat]
    else:
        raise Wrong("%s returned %s; it should return a list %s" % (who, describe(raw), want))
    if len(items) != n:
        raise Wrong("%s returned %d values; it should return %d: %s" % (who, len(items), n, want))
    got = [shape_of(item) for item in items]
    if any(shapes) and None not in got and got != [tuple(s) for s in shapes] and \
            sorted(got) == sorted(map(tuple, shapes)):
        raise Wrong("%s returned its values in the wrong order: shapes %s, where %s have shapes %s"
                    % (who, ", ".join(map(str, got)), want, ", ".join(str(tuple(s)) for s in shapes)))
    return [number(item, shape, name, gate) for item, shape, name in zip(items, shapes, names)]


def shape_of(raw: Any) -> tuple | None:
    """The shape an answer says it has (None: not a number or an array)."""
    raw = sequence(raw)
    if bare(raw) or isinstance(raw, dict) and raw.get("t") == "num":
        return ()
    if isinstance(raw, dict) and raw.get("t") == "arr" and _shape(raw.get("shape")):
        return tuple(raw["shape"])
    return None


def bare(raw: Any) -> bool:
    return isinstance(raw, (int, float)) and not isinstance(raw, bool)


def number(raw: Any, shape: Sequence[int], name: str, gate: StudentGate | None = None) -> np.ndarray | np.float64:
    """Validate one value: a finite float or an array of exactly `shape`."""
    shape = tuple(shape)
    if type(raw) is float and shape == () and math.isfinite(raw):  # the common case
        return np.float64(raw)
    raw = sequence(raw)
    if bare(raw):  # a float64 (or int) number
        raw = {"t": "num", "v": float(raw)}
    if not isinstance(raw, dict) or raw.get("t") not in ("num", "arr"):
        raise Wrong("%s is %s, not a number" % (name, describe(raw)))
    try:
        value = np.asarray(raw.get("v"), dtype=np.float64)
        got = tuple(int(d) for d in raw.get("shape", ()))
        value = value.reshape(got)
    except (TypeError, ValueError):
        raise Wrong("%s could not be read as numbers" % name) from None
    if got != shape:
        if shape == () and value.size == 1:
            value = value.reshape(())
        else:
            raise Wrong("%s has shape %s, expected %s" % (name, got, shape))
    if not np.all(np.isfinite(value)):
        raise Wrong("%s is %s; it must be a finite number" % (
            name, "NaN" if np.any(np.isnan(value)) else "infinite"))
    if gate is not None and str(raw.get("dtype")) == "float32":
        gate.float32 = True
    return value
