"""Relu.backward masks with the wrong comparison: passes dout where x < 0."""
from good import *  # noqa: F401,F403  (the correct layers; one is redefined below)


class Relu:
    def forward(self, x):
        self.mask = x > 0
        out = x.copy()
        out[~self.mask] = 0
        return out

    def backward(self, dout):
        dx = dout.copy()
        dx[dout < 0] = 0
        return dx
