"""The lecture's gates with the forward/backward API.

forward(*inputs) caches its inputs and returns the output; backward(upstream)
returns one gradient per input: local gradient times upstream gradient.
Scalars or NumPy arrays (element-wise).
"""


class MultiplyGate:
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        return [self.y * dz, self.x * dz]


class AddGate:
    def forward(self, x, y):
        self.x, self.y = x, y
        return x + y

    def backward(self, dz):
        return [1.0 * dz, 1.0 * dz]
