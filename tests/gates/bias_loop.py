"""BiasAddGate, correct: db summed row by row in a loop."""
import numpy as np


class BiasAddGate(object):
    def forward(self, x, b):
        return x + b

    def backward(self, dz):
        db = np.zeros(dz.shape[1])
        for row in dz:
            db += row
        return [dz.copy(), db]
