"""Backpropagation: MultiplyGate and AddGate.

The lecture's computational graph is f(x, y, z) = (x + y) * z. At x = -2,
y = 5, z = -4 the forward pass gives q = x + y = 3 and f = q * z = -12.

Each gate has a forward/backward API:

- forward(x, y) computes the gate's output and keeps (caches) whatever
  backward will need;
- backward(dz) receives the upstream gradient dz (the gradient of the final
  output with respect to this gate's output) and returns [dx, dy]: for each
  input, its local gradient times the upstream gradient (the chain rule).

The forward methods are given. Your task: write MultiplyGate.backward and
AddGate.backward, replacing each `raise NotImplementedError()`. Then finish
f_and_gradients, which wires the gates into the graph; running this file
(`python gates.py`) checks that it reproduces the lecture's gradients
df/dx = -4, df/dy = -4, df/dz = 3.

Before you submit, run `bpgrade check gates.py` for feedback from the grader's
visible checks. Inputs are Python floats; keep the method names and the
[dx, dy] return format.
"""


class MultiplyGate(object):
    def forward(self, x, y):
        """z = x * y. The inputs are cached: backward needs them."""
        self.x = x
        self.y = y
        return x * y

    def backward(self, dz):
        """dz is the upstream gradient; returns [dx, dy]."""
        ### BEGIN SOLUTION
        dx = self.y * dz  # local gradient of x * y with respect to x is y
        dy = self.x * dz  # ... and with respect to y it is x
        ### END SOLUTION
        return [dx, dy]


class AddGate(object):
    def forward(self, x, y):
        """z = x + y. Its local gradients do not depend on x or y."""
        self.x = x
        self.y = y
        return x + y

    def backward(self, dz):
        """dz is the upstream gradient; returns [dx, dy]."""
        ### BEGIN SOLUTION
        dx = 1.0 * dz  # local gradient of x + y with respect to x is 1
        dy = 1.0 * dz  # ... and with respect to y it is 1 too
        ### END SOLUTION
        return [dx, dy]


def f_and_gradients(x, y, z):
    """f = (x + y) * z and its gradients, with one AddGate and one MultiplyGate.

    Forward: q = x + y, then f = q * z. Backward, in reverse order, starting
    from the gradient of f with respect to itself, df/df = 1.
    Returns (f, df/dx, df/dy, df/dz).
    """
    add, mul = AddGate(), MultiplyGate()
    ### BEGIN SOLUTION
    q = add.forward(x, y)
    f = mul.forward(q, z)
    df_dq, df_dz = mul.backward(1.0)  # upstream gradient at the output: df/df = 1
    df_dx, df_dy = add.backward(df_dq)  # df/dq is the add gate's upstream gradient
    ### END SOLUTION
    return f, df_dx, df_dy, df_dz


def self_check():
    """The lecture's example, then each gate against finite differences."""
    f, df_dx, df_dy, df_dz = f_and_gradients(-2.0, 5.0, -4.0)
    assert close(f, -12.0), "f should be -12, got %r" % (f,)
    assert close(df_dx, -4.0), "df/dx should be -4, got %r" % (df_dx,)
    assert close(df_dy, -4.0), "df/dy should be -4, got %r" % (df_dy,)
    assert close(df_dz, 3.0), "df/dz should be 3, got %r" % (df_dz,)

    points = [(1.5, -0.5, 2.0), (-3.0, 0.25, -1.5), (2.0, 7.0, 0.5)]
    for gate_class in (MultiplyGate, AddGate):
        for x, y, upstream in points:
            want = numerical_gradients(gate_class(), x, y, upstream)
            gate = gate_class()
            gate.forward(x, y)
            got = gate.backward(upstream)
            assert len(got) == 2, "%s.backward should return [dx, dy]" % gate_class.__name__
            for name, g, w in zip(("dx", "dy"), got, want):
                assert close(g, w), "%s at x=%r, y=%r, upstream=%r: %s should be %r, got %r" % (
                    gate_class.__name__, x, y, upstream, name, w, g)
    print("Self-check passed: f = -12, df/dx = -4, df/dy = -4, df/dz = 3, and both gates "
          "agree with finite differences.")


def numerical_gradients(gate, x, y, upstream, h=1e-6):
    """upstream * (central difference of forward) for each input."""
    dx = (gate.forward(x + h, y) - gate.forward(x - h, y)) / (2 * h)
    dy = (gate.forward(x, y + h) - gate.forward(x, y - h)) / (2 * h)
    return [upstream * dx, upstream * dy]


def close(a, b):
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


if __name__ == "__main__":
    self_check()
