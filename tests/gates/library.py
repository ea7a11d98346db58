"""A correct student gate library: every gate of rubrics/gate-library.yaml.

The variant modules beside this file each redefine one gate; a test submission
is this file followed by one variant (the later class definition wins).
"""
import numpy as np


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


class MaxGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return max(x, y)

    def backward(self, dz):
        if self.x >= self.y:  # a tie goes to the first input
            return [dz, 0.0]
        return [0.0, dz]


class SigmoidGate(object):
    def forward(self, x):
        self.s = 1.0 / (1.0 + np.exp(-x))
        return self.s

    def backward(self, dz):
        return [self.s * (1.0 - self.s) * dz]


class ExpGate(object):
    def forward(self, x):
        self.e = np.exp(x)
        return self.e

    def backward(self, dz):
        return [self.e * dz]


class CopyGate(object):
    def forward(self, x):
        return x, x

    def backward(self, da, db):
        return [da + db]


class MatMulGate(object):
    def forward(self, W, x):
        self.W, self.x = W, x
        return W @ x

    def backward(self, dz):
        return [np.outer(dz, self.x), self.W.T @ dz]


class BiasAddGate(object):
    def forward(self, x, b):
        return x + b

    def backward(self, dz):
        return [dz, dz.sum(axis=0)]
