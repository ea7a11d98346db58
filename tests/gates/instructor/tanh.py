"""A tanh gate and the neuron f = tanh(w x + b).

forward(x) computes z = tanh(x) and caches it; backward(dz) returns [dx], the
local gradient 1 - tanh(x)^2 times the upstream gradient dz. Write backward.
"""
import math


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        return [self.y * dz, self.x * dz]


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [1.0 * dz, 1.0 * dz]


class TanhGate(object):
    def forward(self, x):
        self.t = math.tanh(x)
        return self.t

    def backward(self, dz):
        """dz is the upstream gradient; returns [dx]."""
        ### BEGIN SOLUTION
        dx = (1.0 - self.t ** 2) * dz  # d tanh(x)/dx = 1 - tanh(x)^2
        ### END SOLUTION
        return [dx]
