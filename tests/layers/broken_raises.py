"""Backward functions that raise, one by mistake, one not written yet."""
from good import *  # noqa: F401,F403  (the correct layers; two are redefined below)


def affine_backward(dout, cache):
    x, w = cache  # the cache holds three values
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def batchnorm_backward(dout, cache):
    raise NotImplementedError()
