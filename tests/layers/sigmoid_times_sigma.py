"""sigmoid backward multiplying by σ(x) instead of σ(x)(1 - σ(x))."""
from good import *  # noqa: F401,F403  (the correct layers; one is redefined below)


def sigmoid_backward(dout, cache):
    return dout * cache
