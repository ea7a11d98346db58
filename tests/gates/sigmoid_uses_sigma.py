"""SigmoidGate, wrong: multiplies by σ(x) instead of σ(x)(1 - σ(x)) (declared
mistake sigmoid_not_derivative)."""
import numpy as np


class SigmoidGate(object):
    def forward(self, x):
        self.s = 1.0 / (1.0 + np.exp(-x))
        return self.s

    def backward(self, dz):
        return [self.s * dz]
