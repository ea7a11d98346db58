"""The ReLU mask taken from dout instead of x: passes the gradient where x < 0 and dout > 0."""
from good import *  # noqa: F401,F403  (the correct layers; one is redefined below)


def relu_backward(dout, cache):
    dx = dout.copy()
    dx[dout < 0] = 0
    return dx
