"""SigmoidGate, wrong: the local gradient only, upstream gradient not multiplied in."""
import numpy as np


class SigmoidGate(object):
    def forward(self, x):
        self.s = 1.0 / (1.0 + np.exp(-x))
        return self.s

    def backward(self, dz):
        return [self.s * (1.0 - self.s)]
