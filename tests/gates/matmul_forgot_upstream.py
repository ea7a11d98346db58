"""MatMulGate, wrong: the local gradients without the upstream gradient (a row of
x for each output, the column sums of W)."""
import numpy as np


class MatMulGate(object):
    def forward(self, W, x):
        self.W, self.x = W, x
        return W @ x

    def backward(self, dz):
        return [np.tile(self.x, (len(self.W), 1)), self.W.sum(axis=0)]
