"""No SoftmaxWithLoss; Sigmoid's backward not written yet."""
from good import Affine, Relu, np  # noqa: F401


class Sigmoid:
    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        raise NotImplementedError()
