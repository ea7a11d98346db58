"""A tiny autograd: every node is a Gate with forward() and backward()."""


class Gate(object):
    """Base class. Subclasses cache what they need in forward()."""

    def __init__(self):
        self.inputs = None
        self.output = None

    def __call__(self, *inputs):
        return self.forward(*inputs)

    def forward(self, *inputs):
        raise NotImplementedError("subclasses implement forward")

    def backward(self, dz):
        raise NotImplementedError("subclasses implement backward")

    def __repr__(self):
        return "%s(inputs=%r, output=%r)" % (type(self).__name__, self.inputs, self.output)


class MultiplyGate(Gate):
    def forward(self, x, y):
        self.inputs = (x, y)
        self.output = x * y
        return self.output

    def backward(self, dz):
        x, y = self.inputs
        return [y * dz, x * dz]


class AddGate(Gate):
    def forward(self, x, y):
        self.inputs = (x, y)
        self.output = x + y
        return self.output

    def backward(self, dz):
        return [dz, dz]
