"""Everything but batchnorm_backward (and a forward that forgot the cache)."""
from good import affine_backward, affine_forward, batchnorm_forward, relu_backward, sigmoid_backward  # noqa: F401
from good import sigmoid_forward, softmax_loss  # noqa: F401
from good import np


def relu_forward(x):
    return np.maximum(x, 0)
