"""TanhGate, wrong: multiplies by tanh(x) instead of 1 - tanh(x)^2 (the mistake
course/ref.py declares: tanh_not_derivative)."""
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
        return [dz, dz]


class TanhGate(object):
    def forward(self, x):
        self.t = math.tanh(x)
        return self.t

    def backward(self, dz):
        return [self.t * dz]
