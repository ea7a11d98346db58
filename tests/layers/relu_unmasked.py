"""The ReLU gradient passed where x < 0 too."""
from good import *  # noqa: F401,F403  (the correct layers; one is redefined below)


def relu_backward(dout, cache):
    return dout.copy()
