"""The scalar autograd engine of the micrograd exercise, in float64: the ground
truth of the `engine` check (grader/judge/checks/engine.py; graphs in grader/judge/graphs.py).

`Value` is micrograd's: `+ - * / **` (a number exponent), the reflected
operators, tanh(), relu(), exp(), backward() in reverse topological order, and
`+=` into `.grad`. `Value32` is the same in float32 (the round-off correct
float32 code may show). The classes below them are the engine with one classic
mistake built in; the check names a mistake only when one of them reproduces
every answer a student gave (`VARIANTS`, by the ids of
`judge.mistake_kinds.ENGINE`).

`Engine` is what a rubric names as the reference (`reference.micrograd:Engine`):
one call per trial graph, taking the graph as plain numbers (the check's
`flat`) and answering every run at once, so a student kit can record and replay
it like a gate's (grader/kit/replay.py).
"""
from __future__ import annotations

import math

import numpy as np

from backprop_grader.judge.graphs import Program, unflat
from backprop_grader.judge.mistake_kinds import ENGINE

MAX_CALLS = 20_000  # _backward calls a variant may make (one without `visited` is exponential)


class Value:
    """micrograd's Value in float64 (Python floats). `-`, `/` and negation have
    their own rules here; `composite` builds them from `+`, `*` and `**` as
    micrograd does (only the mistake variants need both: a node's parts change
    which assignment wins and in which order nodes run)."""

    dtype = float
    tanh_fn, exp_fn = staticmethod(math.tanh), staticmethod(math.exp)
    composite = False

    def __init__(self, data, _children=(), _op=""):
        self.data = self.dtype(data)
        self.grad = self.dtype(0)
        self._backward = lambda: None
        self._prev = _children
        self._op = _op

    # ---- what the mistake variants change
    def _take(self, share):
        """Add one share of the gradient (a variant assigns it)."""
        self.grad = self.grad + share

    def _upstream(self, op):
        """The upstream gradient an op's backward uses (a variant forgets it)."""
        return self.grad

    def _pow_local(self, x, n):
        return n * x ** (n - 1)

    def _tanh_local(self, x, t):
        return 1 - t ** 2

    def _relu_local(self, x):
        return 1.0 if x > 0 else 0.0

    def _order(self):
        """The nodes whose backward runs, in order: reversed topological order."""
        return reversed(topological(self))

    # ---- the engine
    def _wrap(self, other):
        return other if isinstance(other, Value) else type(self)(other)

    def __add__(self, other):
        other = self._wrap(other)
        out = type(self)(self.data + other.data, (self, other), "+")

        def _backward():
            g = out._upstream("+")
            self._take(g)
            other._take(g)
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = self._wrap(other)
        out = type(self)(self.data * other.data, (self, other), "*")

        def _backward():
            g = out._upstream("*")
            self._take(other.data * g)
            other._take(self.data * g)
        out._backward = _backward
        return out

    def __pow__(self, n):
        assert isinstance(n, (int, float)), "a number exponent"
        out = type(self)(self.data ** n, (self,), "**")

        def _backward():
            self._take(self._pow_local(self.data, n) * out._upstream("**"))
        out._backward = _backward
        return out

    def __neg__(self):
        if self.composite:
            return self * -1
        out = type(self)(-self.data, (self,), "neg")

        def _backward():
            self._take(-out._upstream("neg"))
        out._backward = _backward
        return out

    def __sub__(self, other):
        if self.composite:
            return self + (-self._wrap(other))
        other = self._wrap(other)
        out = type(self)(self.data - other.data, (self, other), "-")

        def _backward():
            g = out._upstream("-")
            self._take(g)
            other._take(-g)
        out._backward = _backward
        return out

    def __truediv__(self, other):
        if self.composite:
            return self * self._wrap(other) ** -1
        other = self._wrap(other)
        out = type(self)(self.data / other.data, (self, other), "/")

        def _backward():
            g = out._upstream("/")
            self._take(g / other.data)
            other._take(-self.data / other.data ** 2 * g)
        out._backward = _backward
        return out

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return self._wrap(other) - self

    def __rtruediv__(self, other):
        return self._wrap(other) / self

    def tanh(self):
        t = self.tanh_fn(self.data)
        out = type(self)(t, (self,), "tanh")

        def _backward():
            self._take(self._tanh_local(self.data, out.data) * out._upstream("tanh"))
        out._backward = _backward
        return out

    def relu(self):
        out = type(self)(self.data if self.data > 0 else 0, (self,), "relu")

        def _backward():
            self._take(self._relu_local(self.data) * out._upstream("relu"))
        out._backward = _backward
        return out

    def exp(self):
        out = type(self)(self.exp_fn(self.data), (self,), "exp")

        def _backward():
            self._take(out.data * out._upstream("exp"))
        out._backward = _backward
        return out

    def backward(self):
        order = list(self._order())
        self.grad = self.dtype(1)
        for v in order:
            v._backward()


def topological(root: Value) -> list:
    """Every node below `root`, each after its children (iterative: deep graphs)."""
    topo, seen, stack = [], set(), [(root, False)]
    while stack:
        v, done = stack.pop()
        if done:
            topo.append(v)
        elif id(v) not in seen:
            seen.add(id(v))
            stack.append((v, True))
            stack.extend((c, False) for c in reversed(v._prev))
    return topo


class Magnitude(Value):
    """The reference adding up the size of every share (|local gradient × upstream|):
    how large the terms of each grad are, which bounds its float32 round-off when
    they cancel (a grad of 0 made of shares of 3 and -3)."""
    def _take(self, share):
        self.grad = self.grad + abs(share)


class Value32(Value):
    """The same engine in float32."""
    dtype = np.float32
    tanh_fn, exp_fn = staticmethod(np.tanh), staticmethod(np.exp)


# ---- the mistake variants

class Overwrote(Value):
    def _take(self, share):
        self.grad = share


class NotReversed(Value):
    def _order(self):
        return topological(self)


class Traversal(Value):
    """A walk from the output; `flip`: each node's children the other way round."""
    flip = False

    def _children(self, v):
        return v._prev[::-1] if self.flip else v._prev


class Preorder(Traversal):
    """Recursion from the output, each node once, as soon as it is reached."""
    def _order(self):
        order, seen, stack = [], set(), [self]
        while stack:
            v = stack.pop()
            if id(v) not in seen:
                seen.add(id(v))
                order.append(v)
                stack.extend(reversed(self._children(v)))
        return order


class BreadthFirst(Traversal):
    def _order(self):
        order, seen, queue = [], {id(self)}, [self]
        while queue:
            v = queue.pop(0)
            order.append(v)
            for c in self._children(v):
                if id(c) not in seen:
                    seen.add(id(c))
                    queue.append(c)
        return order


class EveryPath(Traversal):
    """Recursion from the output without a `visited` set: a node runs once per path."""
    def _order(self):
        order, stack = [], [self]
        while stack:
            v = stack.pop()
            order.append(v)
            if len(order) > MAX_CALLS:
                raise OverflowError("too many paths")
            stack.extend(reversed(self._children(v)))
        return order


class TopoNoVisited(Traversal):
    """A topological sort without `visited`: a node appears once per path."""
    def _order(self):
        topo, stack = [], [(self, False)]
        while stack:
            v, done = stack.pop()
            if done:
                topo.append(v)
                continue
            if len(topo) + len(stack) > MAX_CALLS:
                raise OverflowError("too many paths")
            stack.append((v, True))
            stack.extend((c, False) for c in reversed(self._children(v)))
        return reversed(topo)


class PowNoExponent(Value):
    def _pow_local(self, x, n):
        return x ** (n - 1)


class TanhUsedInput(Value):
    def _tanh_local(self, x, t):
        return 1 - x ** 2


class ReluPassesNegative(Value):
    def _relu_local(self, x):
        return 1.0


def forgot_upstream(op: str) -> type:
    """The engine whose `op` backward leaves out the upstream gradient."""
    def _upstream(self, used):
        return 1.0 if used == op else self.grad
    return type("ForgotUpstream", (Value,), {"_upstream": _upstream})


class ReflectedReversed(Value):
    def __rsub__(self, other):
        return self - other

    def __rtruediv__(self, other):
        return self / other


def composite(cls: type) -> type:
    return type(cls.__name__ + "Composite", (cls,), {"composite": True})


def flipped(cls: type) -> type:
    return type(cls.__name__ + "Flipped", (cls,), {"flip": True})


# mistake id (judge.mistake_kinds.ENGINE) -> the engines that make it
VARIANTS = {
    "overwrote_grad": [Overwrote, composite(Overwrote)],
    "topo_order": [NotReversed, composite(NotReversed)]
    + [k for cls in (Preorder, BreadthFirst, EveryPath, TopoNoVisited) for way in (cls, flipped(cls))
       for k in (way, composite(way))],
    "pow_no_exponent": [PowNoExponent, composite(PowNoExponent)],
    "tanh_used_input": [TanhUsedInput],
    "relu_passes_negative": [ReluPassesNegative],
    "forgot_upstream": [forgot_upstream(op) for op in ("+", "*", "**", "-", "/", "neg", "tanh", "relu", "exp")]
    + [composite(forgot_upstream(op)) for op in ("+", "*", "**")],
    "reflected_order": [ReflectedReversed],
}
assert set(VARIANTS) == set(ENGINE)

OPS = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
       "div": lambda a, b: a / b, "pow": lambda a, n: a ** n, "neg": lambda a: -a,
       "tanh": lambda a: a.tanh(), "relu": lambda a: a.relu(), "exp": lambda a: a.exp()}


def recording() -> type:
    """The reference, noting each share `_take` adds in its own `log` (for
    `local_gradients`; a class per call, as gradings run in threads)."""
    def _take(self, share):
        if type(self).log is not None:
            type(self).log.append((self, share))
        Value._take(self, share)
    return type("Recording", (Value,), {"_take": _take, "log": None})


def local_gradients(program: Program) -> np.ndarray:
    """(steps of every round, 2): each step's local gradient with respect to the node
    in each argument slot (NaN for a number or no argument), at the float64 values."""
    cls = recording()
    leaves = [cls(x) for x in program.leaves]
    out = []
    for steps in program.rounds:
        here = list(leaves)
        for op, *args in steps:
            values = [here[a] if type(a) is int else a for a in args]
            if op == "pow":
                values[1] = int(values[1]) if float(values[1]).is_integer() else values[1]
            node = OPS[op](*values)
            here.append(node)
            cls.log, node.grad = [], 1.0
            try:
                node._backward()
                shares = cls.log
            finally:
                cls.log = None
            row = [math.nan, math.nan]
            for j, a in enumerate(args):
                if type(a) is int:
                    k = next(k for k, (v, _) in enumerate(shares) if v is here[a])
                    row[j] = float(shares.pop(k)[1])
            out.append(row)
    return np.array(out, dtype=np.float64).reshape(-1, 2)


def run(program: Program, cls: type = Value, scale: float = 1.0) -> list:
    """[data of every node..., grad of every node...] after building each round's
    graph on the same leaves and calling backward() on its last node (the leaves'
    grads set to 0 between rounds when the program says so)."""
    def number(c):
        return float(cls.dtype(c))  # a float32 engine sees the number rounded, as float32 code would
    leaves = [cls(cls.dtype(x * scale)) for x in program.leaves]
    nodes = list(leaves)
    for r, steps in enumerate(program.rounds):
        if r and program.zero:
            for v in leaves:
                v.grad = cls.dtype(0)
        here = list(leaves)
        for op, *args in steps:
            values = [here[a] if type(a) is int else number(a) for a in args]
            if op == "pow":
                values[1] = int(values[1]) if float(values[1]).is_integer() else values[1]
            here.append(OPS[op](*values))
        if program.backward:
            here[-1].backward()
        nodes += here[len(leaves):]
    return [float(v.data) for v in nodes] + [float(v.grad) for v in nodes]


def attempt(program: Program, cls: type) -> list:
    """`run`, or NaNs where a variant cannot run the graph (it then explains nothing)."""
    try:
        with np.errstate(all="ignore"):
            return run(program, cls)
    except (ArithmeticError, ValueError, TypeError):
        return [math.nan] * (2 * program.size)


class Engine:
    """The reference as the check calls it, one call per trial graph, the graph as
    plain numbers (the check's `flat`):

    forward(*flat) -> (runs, locals): rows of `runs` are the float64 engine, then the
    float32 engine at the inputs and at the inputs scaled by 1 ± 2 float32 epsilons,
    then the size of each value's terms (`Magnitude`);
    `locals` is `local_gradients` (for the order-free test of `=` instead of `+=`).
    backward(*flat) -> (runs, codes): a row per mistake variant, and its mistake as
    an index into judge.mistake_kinds.ENGINE (asked for only to name a mistake)."""

    def forward(self, *flat: float) -> tuple[np.ndarray, np.ndarray]:
        program = unflat(flat)
        eps = float(np.finfo(np.float32).eps)
        with np.errstate(all="ignore"):
            rows = [run(program)] + [run(program, Value32, s) for s in (1.0, 1 + 2 * eps, 1 - 2 * eps)]
            rows.append([abs(v) for v in run(program, Magnitude)])
        return np.array(rows, dtype=np.float64), local_gradients(program)

    def backward(self, *flat: float) -> tuple[np.ndarray, np.ndarray]:
        program = unflat(flat)
        rows, codes = [], []
        for k, mistake in enumerate(ENGINE):
            for cls in VARIANTS[mistake]:
                rows.append(attempt(program, cls))
                codes.append(k)
        return np.array(rows, dtype=np.float64), np.array(codes, dtype=np.int64)
