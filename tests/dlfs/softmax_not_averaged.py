"""SoftmaxWithLoss.backward without / batch_size."""
from good import *  # noqa: F401,F403  (the correct layers; one is redefined below)
from good import SoftmaxWithLoss as Book, np


class SoftmaxWithLoss(Book):
    def backward(self, dout=1):
        dx = self.y.copy()
        dx[np.arange(self.t.shape[0]), self.t] -= 1
        return dx
