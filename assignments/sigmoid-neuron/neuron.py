"""Backpropagation: the sigmoid neuron, and how gates treat the gradient.

The lecture's neuron is f(w, x) = 1 / (1 + e^-(w0*x0 + w1*x1 + w2)): a dot
product followed by the sigmoid function σ(t) = 1 / (1 + e^-t). At w = [2, -3, -3]
and x = [-1, -2] the dot product is t = 1, f = σ(1) = 0.73, and the gradients are
df/dw = [-0.20, -0.39, 0.20] and df/dx = [0.39, -0.59].

Each gate has the forward/backward API: forward(...) computes the output and
caches what backward needs; backward(upstream) returns one gradient per input,
each the local gradient times the upstream gradient. Gates have a name for what
they do to the gradient:

- the add gate distributes it: every input gets the upstream gradient;
- the multiply gate switches it: each input gets the other input times it;
- the max gate routes it: all of it to the larger input, 0 to the other. At a
  tie (x == y) max has no derivative; this course's convention sends it all to
  the first input, x;
- the copy gate (one value used twice: a fan-out) adds it: backward(da, db)
  receives one upstream gradient per copy and returns their sum;
- the sigmoid gate multiplies it by σ(t)(1 - σ(t)), computed from its output.

MultiplyGate and AddGate are given, as are the forward methods. Your task:
write SigmoidGate.backward, MaxGate.backward and CopyGate.backward, then finish
neuron_and_gradients and swish_and_gradient, replacing each
`raise NotImplementedError()`. Running this file (`python neuron.py`) checks
the lecture's numbers and each gate against finite differences; before you
submit, run `bpgrade check neuron.py` for the grader's visible checks. Inputs
are Python floats; keep the class and method names and return a list with one
gradient per input ([dx] for a gate with one input).
"""
import math


class MultiplyGate(object):
    def forward(self, x, y):
        self.x = x
        self.y = y
        return x * y

    def backward(self, dz):
        return [self.y * dz, self.x * dz]


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [1.0 * dz, 1.0 * dz]


class SigmoidGate(object):
    def forward(self, x):
        """σ(x) = 1 / (1 + e^-x), written so that e^-x cannot overflow. The output is
        cached: the local gradient can be computed from it."""
        if x >= 0:
            self.s = 1.0 / (1.0 + math.exp(-x))
        else:
            e = math.exp(x)
            self.s = e / (1.0 + e)
        return self.s

    def backward(self, dz):
        """dz is the upstream gradient; returns [dx]."""
        ### BEGIN SOLUTION
        dx = self.s * (1.0 - self.s) * dz  # dσ/dx = σ(x)(1 - σ(x))
        ### END SOLUTION
        return [dx]


class MaxGate(object):
    def forward(self, x, y):
        """z = max(x, y). The inputs are cached: backward needs to know which is larger."""
        self.x = x
        self.y = y
        return max(x, y)

    def backward(self, dz):
        """dz is the upstream gradient; returns [dx, dy]. At a tie, all of dz goes to x."""
        ### BEGIN SOLUTION
        if self.x >= self.y:  # the max routes the gradient to the larger input
            dx, dy = dz, 0.0
        else:
            dx, dy = 0.0, dz
        ### END SOLUTION
        return [dx, dy]


class CopyGate(object):
    def forward(self, x):
        """One input, two outputs: the same value goes down two paths (a fan-out)."""
        return x, x

    def backward(self, da, db):
        """da and db are the upstream gradients of the two copies; returns [dx]."""
        ### BEGIN SOLUTION
        dx = da + db  # at a fan-out the gradients of every path add up
        ### END SOLUTION
        return [dx]


def neuron_and_gradients(w, x):
    """f = σ(w0*x0 + w1*x1 + w2) with two MultiplyGates, two AddGates and a SigmoidGate.

    Forward: a = w0*x0, b = w1*x1, c = a + b, t = c + w2, f = σ(t). Backward, in
    reverse order, from df/df = 1. Returns (f, [df/dw0, df/dw1, df/dw2], [df/dx0, df/dx1]).
    """
    mul0, mul1, add0, add1, sig = MultiplyGate(), MultiplyGate(), AddGate(), AddGate(), SigmoidGate()
    ### BEGIN SOLUTION
    a = mul0.forward(w[0], x[0])
    b = mul1.forward(w[1], x[1])
    c = add0.forward(a, b)
    t = add1.forward(c, w[2])
    f = sig.forward(t)
    [dt] = sig.backward(1.0)  # df/df = 1 at the output
    dc, dw2 = add1.backward(dt)
    da, db = add0.backward(dc)
    dw0, dx0 = mul0.backward(da)
    dw1, dx1 = mul1.backward(db)
    ### END SOLUTION
    return f, [dw0, dw1, dw2], [dx0, dx1]


def swish_and_gradient(x):
    """f = x * σ(x), where x is used twice: a CopyGate gives its two copies, one to
    the SigmoidGate and one to the MultiplyGate. Returns (f, df/dx)."""
    copy, sig, mul = CopyGate(), SigmoidGate(), MultiplyGate()
    ### BEGIN SOLUTION
    x1, x2 = copy.forward(x)
    s = sig.forward(x1)
    f = mul.forward(x2, s)
    dx2, ds = mul.backward(1.0)
    [dx1] = sig.backward(ds)
    [dx] = copy.backward(dx1, dx2)  # the order of CopyGate's outputs: (x1, x2)
    ### END SOLUTION
    return f, dx


def self_check():
    """The lecture's neuron, the max gate at a tie, then each gate against finite differences."""
    f, dw, dx = neuron_and_gradients([2.0, -3.0, -3.0], [-1.0, -2.0])
    s = 1.0 / (1.0 + math.exp(-1.0))
    want_dw, want_dx = [-1.0 * s * (1 - s), -2.0 * s * (1 - s), s * (1 - s)], [2.0 * s * (1 - s), -3.0 * s * (1 - s)]
    assert close(f, s), "f should be σ(1) = %.4f, got %r" % (s, f)
    for name, got, want in [("df/dw", dw, want_dw), ("df/dx", dx, want_dx)]:
        assert len(got) == len(want) and all(close(g, v) for g, v in zip(got, want)), \
            "%s should be %s, got %r" % (name, [round(v, 4) for v in want], got)

    max_gate = MaxGate()
    max_gate.forward(2.0, 2.0)
    assert max_gate.backward(3.0) == [3.0, 0.0], "at a tie MaxGate should route all of dz to x"

    for x in (1.5, -0.5, 3.0):
        f, dfdx = swish_and_gradient(x)
        h = 1e-6
        want = (swish_and_gradient(x + h)[0] - swish_and_gradient(x - h)[0]) / (2 * h)
        assert close(dfdx, want), "swish at x=%r: df/dx should be %r, got %r" % (x, want, dfdx)

    cases = [(SigmoidGate, (1.5,), (2.0,)), (SigmoidGate, (-0.25,), (-1.5,)),
             (MaxGate, (1.5, -0.5), (2.0,)), (MaxGate, (-3.0, 0.25), (-1.5,)),
             (CopyGate, (2.5,), (0.5, -1.25))]
    for gate_class, inputs, upstream in cases:
        want = numerical_gradients(gate_class, inputs, upstream)
        gate = gate_class()
        gate.forward(*inputs)
        got = gate.backward(*upstream)
        assert len(got) == len(inputs), "%s.backward should return %d gradient(s)" % (
            gate_class.__name__, len(inputs))
        for i, (g, v) in enumerate(zip(got, want)):
            assert close(g, v), "%s at inputs %r, upstream %r: gradient %d should be %r, got %r" % (
                gate_class.__name__, inputs, upstream, i, v, g)
    print("Self-check passed: f = 0.7311, df/dw = [-0.20, -0.39, 0.20], df/dx = [0.39, -0.59], "
          "the max gate's tie, and every gate agrees with finite differences.")


def numerical_gradients(gate_class, inputs, upstream, h=1e-6):
    """For each input: the central difference of sum(upstream * outputs)."""
    def total(values):
        out = gate_class().forward(*values)
        out = out if isinstance(out, tuple) else (out,)
        return sum(u * o for u, o in zip(upstream, out))
    grads = []
    for i in range(len(inputs)):
        plus, minus = list(inputs), list(inputs)
        plus[i] += h
        minus[i] -= h
        grads.append((total(plus) - total(minus)) / (2 * h))
    return grads


def close(a, b):
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


if __name__ == "__main__":
    self_check()
