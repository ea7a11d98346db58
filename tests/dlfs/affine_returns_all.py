"""backward returns (dx, dW, db) and leaves nothing on self: dW and db are missing."""
from good import *  # noqa: F401,F403  (the correct layers; one is redefined below)
from good import np


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return np.dot(x, self.W) + self.b

    def backward(self, dout):
        return np.dot(dout, self.W.T), np.dot(self.x.T, dout), np.sum(dout, axis=0)
