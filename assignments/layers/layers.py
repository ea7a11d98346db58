"""Backpropagation through layers, as functions with a cache.

Each layer is a pair of functions:

- `*_forward(inputs...)` computes the output and returns `(out, cache)`: the
  cache is whatever the backward pass needs (a tuple, a dict, anything);
- `*_backward(dout, cache)` receives the upstream gradient `dout` (the gradient
  of the loss with respect to `out`) and the cache, and returns the gradient of
  the loss with respect to each input, in the order of the forward's inputs.

The loss function `softmax_loss(x, y)` returns the loss and its gradient dx at once.

Arrays are NumPy arrays; the first axis is the batch (N examples). Run
`python layers.py` for a finite-difference self-check, and `bpgrade check
layers.py` for the grader's visible checks.
"""
import numpy as np


def affine_forward(x, w, b):
    """out = x @ w + b for x of shape (N, d1, ..., dk), reshaped to (N, D) with
    D = d1 * ... * dk; w (D, M), b (M,). Returns (out, cache), out (N, M)."""
    ### BEGIN SOLUTION
    out = x.reshape(x.shape[0], -1) @ w + b
    cache = (x, w)
    ### END SOLUTION
    return out, cache


def affine_backward(dout, cache):
    """dout (N, M). Returns (dx, dw, db) of the shapes of x, w and b."""
    ### BEGIN SOLUTION
    x, w = cache
    dx = (dout @ w.T).reshape(x.shape)  # back to x's shape (N, d1, ..., dk)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)  # b was added to every row
    ### END SOLUTION
    return dx, dw, db


def relu_forward(x):
    """out = max(x, 0), elementwise. Returns (out, cache)."""
    ### BEGIN SOLUTION
    out = np.maximum(x, 0)
    cache = x
    ### END SOLUTION
    return out, cache


def relu_backward(dout, cache):
    """Returns dx: dout where x > 0, 0 elsewhere."""
    ### BEGIN SOLUTION
    x = cache
    dx = dout * (x > 0)
    ### END SOLUTION
    return dx


def sigmoid_forward(x):
    """out = 1 / (1 + exp(-x)), elementwise, without overflow at any x
    (exp of a large positive number is inf). Returns (out, cache)."""
    ### BEGIN SOLUTION
    z = np.exp(-np.abs(x))  # never overflows
    out = np.where(x >= 0, 1 / (1 + z), z / (1 + z))
    cache = out
    ### END SOLUTION
    return out, cache


def sigmoid_backward(dout, cache):
    """Returns dx = σ(x) (1 - σ(x)) dout."""
    ### BEGIN SOLUTION
    s = cache
    dx = dout * s * (1 - s)
    ### END SOLUTION
    return dx


def softmax_loss(x, y):
    """The softmax cross-entropy loss, averaged over the batch, and its gradient.
    x (N, C) scores, y (N,) integer labels in [0, C). Returns (loss, dx).
    Logits may be in the thousands: nothing may overflow."""
    ### BEGIN SOLUTION
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = x.shape[0]
    loss = -log_probs[np.arange(n), y].mean()
    dx = np.exp(log_probs)
    dx[np.arange(n), y] -= 1
    dx /= n
    ### END SOLUTION
    return loss, dx


def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalization in train mode: normalize each feature of x (N, D) by the
    batch's mean and variance, then scale by gamma (D,) and shift by beta (D,).
    bn_param: {"mode": "train", "eps": ...}. Returns (out, cache)."""
    ### BEGIN SOLUTION
    eps = bn_param.get("eps", 1e-5)
    mu = x.mean(axis=0)
    std = np.sqrt(x.var(axis=0) + eps)
    xhat = (x - mu) / std
    out = gamma * xhat + beta
    cache = (xhat, gamma, std)
    ### END SOLUTION
    return out, cache


def batchnorm_backward(dout, cache):
    """Returns (dx, dgamma, dbeta). The mean and the variance depend on x too."""
    ### BEGIN SOLUTION
    xhat, gamma, std = cache
    n = dout.shape[0]
    dgamma = (dout * xhat).sum(axis=0)
    dbeta = dout.sum(axis=0)
    dxhat = dout * gamma
    dx = (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)) / (n * std)
    ### END SOLUTION
    return dx, dgamma, dbeta


def numerical_gradient(f, x, dout, h=1e-6):
    """d(sum(f(x) * dout)) / dx by central differences (x is changed and restored)."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + h
        plus = np.sum(f(x) * dout)
        x[index] = old - h
        minus = np.sum(f(x) * dout)
        x[index] = old
        grad[index] = (plus - minus) / (2 * h)
    return grad


def self_check():
    """Every backward against finite differences of its forward."""
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(3, 2, 2)), rng.normal(size=(4, 5)), rng.normal(size=5)
    dout = rng.normal(size=(3, 5))
    grads = affine_backward(dout, affine_forward(x, w, b)[1])
    for name, value, got in zip(("dx", "dw", "db"), (x, w, b), grads):
        want = numerical_gradient(lambda _: affine_forward(x, w, b)[0], value, dout)
        assert np.allclose(got, want, atol=1e-6), "affine_backward: %s is wrong" % name
    z = rng.normal(size=(4, 3))
    for forward, backward in ((relu_forward, relu_backward), (sigmoid_forward, sigmoid_backward)):
        d = rng.normal(size=z.shape)
        got = backward(d, forward(z)[1])
        assert np.allclose(got, numerical_gradient(lambda v: forward(v)[0], z, d), atol=1e-6), \
            "%s is wrong" % backward.__name__
    y = rng.integers(0, 3, size=4)
    _, dx = softmax_loss(z, y)
    assert np.allclose(dx, numerical_gradient(lambda v: softmax_loss(v, y)[0], z, 1.0), atol=1e-6), \
        "softmax_loss: dx is wrong"
    gamma, beta, d = rng.normal(size=3), rng.normal(size=3), rng.normal(size=(4, 3))
    param = {"mode": "train", "eps": 1e-5}
    grads = batchnorm_backward(d, batchnorm_forward(z, gamma, beta, param)[1])
    for name, value, got in zip(("dx", "dgamma", "dbeta"), (z, gamma, beta), grads):
        want = numerical_gradient(lambda _: batchnorm_forward(z, gamma, beta, param)[0], value, d)
        assert np.allclose(got, want, atol=1e-5), "batchnorm_backward: %s is wrong" % name
    print("Self-check passed: every backward agrees with finite differences.")


if __name__ == "__main__":
    self_check()
