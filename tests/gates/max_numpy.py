"""MaxGate, correct: NumPy masks, ties to the first input (x >= y)."""
import numpy as np


class MaxGate(object):
    def forward(self, x, y):
        self.first = np.asarray(x) >= np.asarray(y)
        return np.maximum(x, y)

    def backward(self, dz):
        return [np.where(self.first, dz, 0.0), np.where(self.first, 0.0, dz)]
