"""CopyGate, correct: copies the input, sums the stacked gradients."""
import numpy as np


class CopyGate(object):
    def forward(self, x):
        return np.copy(x), np.copy(x)

    def backward(self, da, db):
        return [np.sum([da, db], axis=0)]
