"""The gradients in the wrong order: (db, dw, dx)."""
from good import *  # noqa: F401,F403  (the correct layers; one is redefined below)


def affine_backward(dout, cache):
    x, w, b = cache
    flat = x.reshape(x.shape[0], -1)
    return dout.sum(axis=0), flat.T @ dout, (dout @ w.T).reshape(x.shape)
