"""MatMulGate, wrong: dx has the wrong sign."""
import numpy as np


class MatMulGate(object):
    def forward(self, W, x):
        self.W, self.x = W, x
        return W @ x

    def backward(self, dz):
        return [np.outer(dz, self.x), -(self.W.T @ dz)]
