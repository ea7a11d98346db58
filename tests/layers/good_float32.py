"""Correct, computing in float32 throughout; caches are dicts, gradients lists."""
import numpy as np

F = np.float32


def affine_forward(x, w, b):
    x32, w32, b32 = x.astype(F), w.astype(F), b.astype(F)
    out = x32.reshape(len(x32), -1) @ w32 + b32
    return out, {"x": x32, "w": w32}


def affine_backward(dout, cache):
    x, w = cache["x"], cache["w"]
    dout = dout.astype(F)
    return [(dout @ w.T).reshape(x.shape), x.reshape(len(x), -1).T @ dout, dout.sum(axis=0)]


def relu_forward(x):
    x = x.astype(F)
    return np.where(x > 0, x, F(0)), {"mask": x > 0}


def relu_backward(dout, cache):
    return dout.astype(F) * cache["mask"]


def sigmoid_forward(x):
    x = x.astype(F)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1 / (1 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1 + e)
    return out, {"out": out}


def sigmoid_backward(dout, cache):
    s = cache["out"]
    return (dout.astype(F) * s * (1 - s))


def softmax_loss(x, y):
    x = x.astype(F)
    shifted = x - x.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    probs /= probs.sum(axis=1, keepdims=True)
    n = len(y)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(n), y].mean()
    dx = probs.copy()
    dx[np.arange(n), y] -= 1
    return loss, dx / n


def batchnorm_forward(x, gamma, beta, bn_param):
    x, gamma, beta = x.astype(F), gamma.astype(F), beta.astype(F)
    eps = F(bn_param.get("eps", 1e-5))
    mu = x.mean(axis=0)
    xc = x - mu
    var = (xc ** 2).mean(axis=0)
    inv = 1 / np.sqrt(var + eps)
    xhat = xc * inv
    return gamma * xhat + beta, {"xhat": xhat, "inv": inv, "gamma": gamma}


def batchnorm_backward(dout, cache):
    dout = dout.astype(F)
    xhat, inv, gamma = cache["xhat"], cache["inv"], cache["gamma"]
    n = len(dout)
    dxhat = dout * gamma
    dx = inv / n * (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    return [dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)]
