"""Correct: every operation with its own rule (no composites), _prev a tuple,
labels and extra methods, a helper to wrap numbers, an iterative topological sort."""
import math


def as_value(x):
    return x if isinstance(x, Value) else Value(x, label="const")


class Value:
    count = 0

    def __init__(self, data, _children=(), _op="", label=""):
        self.data = float(data)
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = tuple(_children)
        self._op = _op
        self.label = label
        Value.count += 1

    def __repr__(self):
        return "Value(%s, data=%.4f, grad=%.4f)" % (self.label, self.data, self.grad)

    def _make(self, data, children, op, backward):
        out = Value(data, children, op)
        out._backward = lambda: backward(out.grad)
        return out

    def __add__(self, other):
        other = as_value(other)

        def backward(g):
            self.grad += g
            other.grad += g
        return self._make(self.data + other.data, (self, other), "+", backward)

    def __sub__(self, other):
        other = as_value(other)

        def backward(g):
            self.grad += g
            other.grad -= g
        return self._make(self.data - other.data, (self, other), "-", backward)

    def __mul__(self, other):
        other = as_value(other)

        def backward(g):
            self.grad += other.data * g
            other.grad += self.data * g
        return self._make(self.data * other.data, (self, other), "*", backward)

    def __truediv__(self, other):
        other = as_value(other)

        def backward(g):
            self.grad += g / other.data
            other.grad += -self.data / (other.data * other.data) * g
        return self._make(self.data / other.data, (self, other), "/", backward)

    def __pow__(self, n):
        def backward(g):
            self.grad += n * self.data ** (n - 1) * g
        return self._make(self.data ** n, (self,), "**", backward)

    def __neg__(self):
        def backward(g):
            self.grad -= g
        return self._make(-self.data, (self,), "neg", backward)

    def __radd__(self, other):
        return as_value(other) + self

    def __rsub__(self, other):
        return as_value(other) - self

    def __rmul__(self, other):
        return as_value(other) * self

    def __rtruediv__(self, other):
        return as_value(other) / self

    def tanh(self):
        e2 = math.exp(2 * self.data)
        t = (e2 - 1) / (e2 + 1)  # the lecture's formula

        def backward(g):
            self.grad += (1 - t * t) * g
        return self._make(t, (self,), "tanh", backward)

    def relu(self):
        def backward(g):
            self.grad += g if self.data > 0 else 0.0
        return self._make(max(self.data, 0.0), (self,), "relu", backward)

    def exp(self):
        e = math.exp(self.data)

        def backward(g):
            self.grad += e * g
        return self._make(e, (self,), "exp", backward)

    def topological(self):
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((c, False) for c in node._prev)
        return order

    def zero_grad(self):
        for node in self.topological():
            node.grad = 0.0

    def backward(self):
        order = self.topological()
        self.grad = 1.0
        for node in reversed(order):
            node._backward()
