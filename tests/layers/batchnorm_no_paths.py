"""batchnorm backward that treats the batch mean and variance as constants."""
from good import *  # noqa: F401,F403  (the correct layers; one is redefined below)


def batchnorm_backward(dout, cache):
    xhat, gamma, std = cache
    return dout * gamma / std, (dout * xhat).sum(axis=0), dout.sum(axis=0)
