"""MatMulGate, wrong: dW = outer(x, dz), the transpose of the right shape
(declared mistake transpose_missing)."""
import numpy as np


class MatMulGate(object):
    def forward(self, W, x):
        self.W, self.x = W, x
        return W @ x

    def backward(self, dz):
        return [np.outer(self.x, dz), self.W.T @ dz]
