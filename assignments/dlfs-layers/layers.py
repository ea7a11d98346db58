"""Layers with a backward pass, as in "Deep Learning from Scratch" (chapter 5).

Each layer is a class with forward and backward methods:

- `forward(x)` computes the output and keeps on `self` what backward needs;
- `backward(dout)` receives the upstream gradient `dout` and returns the
  gradient with respect to the layer's input, dx. A layer with parameters
  (Affine) also leaves their gradients on the object: `self.dW`, `self.db`.

`SoftmaxWithLoss.forward(x, t)` returns the loss for integer labels t, and
`backward(dout=1)` returns dx. Arrays are NumPy arrays; the first axis is the
batch. Run `python layers.py` for a finite-difference self-check, and
`bpgrade check layers.py` for the grader's visible checks.
"""
import numpy as np


def softmax(x):
    x = x - np.max(x, axis=-1, keepdims=True)  # no overflow
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


def cross_entropy_error(y, t):
    """The mean of -log y[t] over the batch, for integer labels t."""
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


class Relu:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        ### BEGIN SOLUTION
        self.mask = (x <= 0)
        out = x.copy()
        out[self.mask] = 0
        ### END SOLUTION
        return out

    def backward(self, dout):
        ### BEGIN SOLUTION
        dx = dout.copy()
        dx[self.mask] = 0
        ### END SOLUTION
        return dx


class Sigmoid:
    def __init__(self):
        self.out = None

    def forward(self, x):
        ### BEGIN SOLUTION
        out = 1 / (1 + np.exp(-x))
        self.out = out
        ### END SOLUTION
        return out

    def backward(self, dout):
        ### BEGIN SOLUTION
        dx = dout * (1.0 - self.out) * self.out
        ### END SOLUTION
        return dx


class Affine:
    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.dW = None
        self.db = None

    def forward(self, x):
        ### BEGIN SOLUTION
        self.x = x
        out = np.dot(x, self.W) + self.b
        ### END SOLUTION
        return out

    def backward(self, dout):
        """Returns dx; sets self.dW and self.db."""
        ### BEGIN SOLUTION
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        ### END SOLUTION
        return dx


class SoftmaxWithLoss:
    def __init__(self):
        self.loss = None
        self.y = None  # softmax's output
        self.t = None  # the labels

    def forward(self, x, t):
        ### BEGIN SOLUTION
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)
        ### END SOLUTION
        return self.loss

    def backward(self, dout=1):
        ### BEGIN SOLUTION
        batch_size = self.t.shape[0]
        dx = self.y.copy()
        dx[np.arange(batch_size), self.t] -= 1
        dx = dx / batch_size
        ### END SOLUTION
        return dx


def numerical_gradient(f, x, h=1e-6):
    """df/dx by central differences (x is changed and restored)."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + h
        plus = f()
        x[index] = old - h
        minus = f()
        x[index] = old
        grad[index] = (plus - minus) / (2 * h)
    return grad


def self_check():
    """A two-layer network's gradients against finite differences of its loss."""
    rng = np.random.default_rng(0)
    x, t = rng.normal(size=(4, 3)), rng.integers(0, 2, size=4)
    W1, b1, W2, b2 = rng.normal(size=(3, 5)), rng.normal(size=5), rng.normal(size=(5, 2)), rng.normal(size=2)
    for act in (Relu, Sigmoid):
        layers = [Affine(W1, b1), act(), Affine(W2, b2)]
        last = SoftmaxWithLoss()

        def loss():
            h = x
            for layer in layers:
                h = layer.forward(h)
            return last.forward(h, t)
        loss()
        dout = last.backward()
        for layer in reversed(layers):
            dout = layer.backward(dout)
        for name, param, grad in (("W1", W1, layers[0].dW), ("b1", b1, layers[0].db),
                                  ("W2", W2, layers[2].dW), ("b2", b2, layers[2].db)):
            assert np.allclose(grad, numerical_gradient(loss, param), atol=1e-5), \
                "with %s: the gradient of %s is wrong" % (act.__name__, name)
    print("Self-check passed: the network's gradients agree with finite differences.")


if __name__ == "__main__":
    self_check()
