"""db not summed over the batch: db = dout, of shape (N, M)."""
from good import *  # noqa: F401,F403  (the correct layers; one is redefined below)


def affine_backward(dout, cache):
    x, w, b = cache
    flat = x.reshape(x.shape[0], -1)
    return (dout @ w.T).reshape(x.shape), flat.T @ dout, dout
