"""Correct: SoftmaxWithLoss.backward takes dout without a default (the network passes 1),
and Relu copies dout instead of changing it in place."""
from good import *  # noqa: F401,F403  (the book's layers; two are redefined below)
from good import SoftmaxWithLoss as Book, np


class SoftmaxWithLoss(Book):
    def backward(self, dout):
        n = self.t.shape[0]
        onehot = np.eye(self.y.shape[1])[self.t]
        return dout * (self.y - onehot) / n


class Relu:
    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dout):
        return np.where(self.x > 0, dout, 0)
