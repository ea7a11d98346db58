"""Sigmoid.backward multiplies by the output only."""
from good import *  # noqa: F401,F403  (the correct layers; one is redefined below)
from good import Sigmoid as Book


class Sigmoid(Book):
    def backward(self, dout):
        return dout * self.out
