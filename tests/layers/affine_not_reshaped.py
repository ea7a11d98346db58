"""dx left flat, (N, D), instead of x's shape (N, d1, d2)."""
from good import *  # noqa: F401,F403  (the correct layers; one is redefined below)


def affine_backward(dout, cache):
    x, w, b = cache
    flat = x.reshape(x.shape[0], -1)
    return dout @ w.T, flat.T @ dout, dout.sum(axis=0)
