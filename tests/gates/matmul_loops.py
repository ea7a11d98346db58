"""MatMulGate, correct: Python loops, converted to arrays at the end."""
import numpy as np


class MatMulGate(object):
    def forward(self, W, x):
        self.W, self.x = W, x
        return np.array([sum(W[i, j] * x[j] for j in range(len(x))) for i in range(len(W))])

    def backward(self, dz):
        m, n = self.W.shape
        dW = [[dz[i] * self.x[j] for j in range(n)] for i in range(m)]
        dx = [sum(self.W[i, j] * dz[i] for i in range(m)) for j in range(n)]
        return [np.array(dW), np.array(dx)]
