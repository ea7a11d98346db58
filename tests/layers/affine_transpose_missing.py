"""dw without the transpose: dout.T @ x has shape (M, D), not w's (D, M)."""
from good import *  # noqa: F401,F403  (the correct layers; one is redefined below)
from good import np


def affine_backward(dout, cache):
    x, w, b = cache
    flat = x.reshape(x.shape[0], -1)
    return (dout @ w.T).reshape(x.shape), dout.T @ flat, dout.sum(axis=0)
