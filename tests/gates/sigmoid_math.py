"""SigmoidGate, correct: math.exp on Python floats, returns a bare dx."""
import math


class SigmoidGate(object):
    def forward(self, x):
        self.s = 1.0 / (1.0 + math.exp(-x))
        return self.s

    def backward(self, dz):
        return self.s * (1.0 - self.s) * dz
