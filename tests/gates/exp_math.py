"""ExpGate, correct: math.exp, bare dx."""
import math


class ExpGate(object):
    def forward(self, x):
        self.e = math.exp(x)
        return self.e

    def backward(self, dz):
        return self.e * dz
