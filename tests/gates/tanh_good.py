"""TanhGate (the instructor's gate, tests/gates/instructor/), correct; with the given gates."""
import numpy as np


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
        return [dz, dz]


class TanhGate(object):
    def forward(self, x):
        self.x = x
        return np.tanh(x)

    def backward(self, dz):
        return (1 - np.tanh(self.x) ** 2) * dz  # a bare dx
