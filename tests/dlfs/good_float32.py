"""Correct in float32, with a helper module-level function, extra attributes and
gradients also kept under other names; backward returns the gradient in a tuple."""
import numpy as np

F = np.float32
history = []


def stable_softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class Affine:
    def __init__(self, W, b):
        self.params = {"W": W.astype(F), "b": b.astype(F)}
        self.grads = {}
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        self.x = x.astype(F)
        return self.x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        dout = dout.astype(F)
        self.dW = self.grads["W"] = self.x.T @ dout
        self.db = self.grads["b"] = dout.sum(axis=0)
        history.append("affine")
        return (dout @ self.params["W"].T,)


class Relu:
    def forward(self, x):
        self.x = x.astype(F)
        return np.maximum(self.x, F(0))

    def backward(self, dout):
        return np.where(self.x > 0, dout.astype(F), F(0))


class Sigmoid:
    def forward(self, x):
        x = x.astype(F)
        z = np.exp(-np.abs(x))
        self.out = np.where(x >= 0, 1 / (1 + z), z / (1 + z))
        return self.out

    def backward(self, dout):
        return [dout.astype(F) * self.out * (1 - self.out)]


class SoftmaxWithLoss:
    def forward(self, x, t):
        self.y, self.t = stable_softmax(x.astype(F)), t
        n = len(t)
        return float(-np.log(self.y[np.arange(n), t]).mean())

    def backward(self, dout=1):
        n = len(self.t)
        onehot = np.zeros_like(self.y)
        onehot[np.arange(n), self.t] = 1
        return dout * (self.y - onehot) / n
