"""Backpropagation: a scalar autograd engine (micrograd's Value).

A Value holds one number, `data`, and after backward() the gradient of the
final output with respect to it, `grad`. Every operation on Values makes a new
Value that remembers the Values it came from (`_prev`) and how to pass the
gradient back to them (`_backward`): its local gradient times the gradient
that reached it (the chain rule), added (+=) to theirs, because a Value used
several times gets a share from every use.

Your task: write each operation, replacing each `raise NotImplementedError()`:

- a + b, a * b, a ** n (n a plain number), -a, a - b, a / b, where either
  side may also be a plain number (2 + a, a * 3, 1 / a: the reflected
  operators __radd__, __rsub__, __rmul__, __rtruediv__);
- a.tanh(), a.relu(), a.exp();
- backward(): sets this Value's grad to 1, then calls every node's _backward
  in reverse topological order (each node after every node that uses it).

Running this file (`python micrograd.py`) checks the lecture's neuron,
o = tanh(x1 w1 + x2 w2 + b). Before you submit, run `bpgrade check
micrograd.py` for feedback from the grader's visible checks.
"""
import math


class Value:
    """A number in a computational graph, and the gradient of the output with respect to it."""

    def __init__(self, data, _children=(), _op=""):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None  # a leaf passes nothing on
        self._prev = set(_children)
        self._op = _op  # the operation that made this Value (for printing graphs)

    def __repr__(self):
        return "Value(data=%r, grad=%r)" % (self.data, self.grad)

    def __add__(self, other):
        ### BEGIN SOLUTION
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad  # the local gradient of a + b is 1 for both
            other.grad += out.grad
        out._backward = _backward
        return out
        ### END SOLUTION

    def __mul__(self, other):
        ### BEGIN SOLUTION
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad  # d(a b)/da = b
            other.grad += self.data * out.grad
        out._backward = _backward
        return out
        ### END SOLUTION

    def __pow__(self, n):
        assert isinstance(n, (int, float)), "only plain number exponents"
        ### BEGIN SOLUTION
        out = Value(self.data ** n, (self,), "**%s" % n)

        def _backward():
            self.grad += n * self.data ** (n - 1) * out.grad  # d(a^n)/da = n a^(n-1)
        out._backward = _backward
        return out
        ### END SOLUTION

    def __neg__(self):
        ### BEGIN SOLUTION
        return self * -1
        ### END SOLUTION

    def __sub__(self, other):
        ### BEGIN SOLUTION
        return self + (-other)
        ### END SOLUTION

    def __truediv__(self, other):
        ### BEGIN SOLUTION
        return self * other ** -1
        ### END SOLUTION

    def __radd__(self, other):  # other + self, other a plain number
        ### BEGIN SOLUTION
        return self + other
        ### END SOLUTION

    def __rsub__(self, other):  # other - self
        ### BEGIN SOLUTION
        return other + (-self)
        ### END SOLUTION

    def __rmul__(self, other):  # other * self
        ### BEGIN SOLUTION
        return self * other
        ### END SOLUTION

    def __rtruediv__(self, other):  # other / self
        ### BEGIN SOLUTION
        return other * self ** -1
        ### END SOLUTION

    def tanh(self):
        ### BEGIN SOLUTION
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t ** 2) * out.grad  # d tanh(a)/da = 1 - tanh(a)^2
        out._backward = _backward
        return out
        ### END SOLUTION

    def relu(self):
        ### BEGIN SOLUTION
        out = Value(self.data if self.data > 0 else 0.0, (self,), "relu")

        def _backward():
            self.grad += (1.0 if out.data > 0 else 0.0) * out.grad  # passes only where a > 0
        out._backward = _backward
        return out
        ### END SOLUTION

    def exp(self):
        ### BEGIN SOLUTION
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad  # d e^a/da = e^a
        out._backward = _backward
        return out
        ### END SOLUTION

    def backward(self):
        ### BEGIN SOLUTION
        topo, visited = [], set()

        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build_topo(child)
                topo.append(v)  # after everything it was computed from
        build_topo(self)
        self.grad = 1.0
        for node in reversed(topo):
            node._backward()
        ### END SOLUTION


if __name__ == "__main__":
    # The lecture's neuron: o = tanh(x1 w1 + x2 w2 + b)
    x1, x2, w1, w2 = Value(2.0), Value(0.0), Value(-3.0), Value(1.0)
    b = Value(6.8813735870195432)
    o = (x1 * w1 + x2 * w2 + b).tanh()
    o.backward()
    print(o)  # data 0.7071..., the gradients below
    for name, v, want in [("x1", x1, -1.5), ("w1", w1, 1.0), ("x2", x2, 0.5), ("w2", w2, 0.0)]:
        print(name, v.grad, "ok" if abs(v.grad - want) < 1e-6 else "expected %g" % want)
