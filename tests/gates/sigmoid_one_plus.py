"""SigmoidGate, wrong: σ(1 + σ) instead of σ(1 - σ) (no named mistake models it)."""
import numpy as np


class SigmoidGate(object):
    def forward(self, x):
        self.s = 1.0 / (1.0 + np.exp(-x))
        return self.s

    def backward(self, dz):
        return [self.s * (1.0 + self.s) * dz]
