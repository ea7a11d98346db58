"""SigmoidGate, correct, computing in float32."""
import numpy as np


class SigmoidGate(object):
    def forward(self, x):
        x = np.float32(x)
        self.s = np.float32(1) / (np.float32(1) + np.exp(-x))
        return self.s

    def backward(self, dz):
        return [self.s * (np.float32(1) - self.s) * np.float32(dz)]
