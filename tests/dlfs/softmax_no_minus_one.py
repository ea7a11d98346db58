"""SoftmaxWithLoss.backward without subtracting 1 at the label."""
from good import *  # noqa: F401,F403  (the correct layers; one is redefined below)
from good import SoftmaxWithLoss as Book


class SoftmaxWithLoss(Book):
    def backward(self, dout=1):
        return self.y / self.t.shape[0]
