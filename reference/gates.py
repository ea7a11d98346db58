"""The lecture's gates with the forward/backward API.

forward(*inputs) caches what backward needs and returns the output (a tuple
for a gate with several outputs); backward(*upstream) takes one upstream
gradient per output and returns one gradient per input: the local gradient
times the upstream gradient. Scalars or NumPy arrays.

A gate may declare `mistakes`: {id: (sentence, gate class with that mistake,
or a list of them)}; the grader names a mistake when one of its classes
reproduces every wrong answer. A gate with a kink may declare
`kink(*inputs) -> bool`: trials that land on it are left out (a tie is
checked only where a rubric asks, with `examples`).
"""
import numpy as np


class MultiplyGate:
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        return [self.y * dz, self.x * dz]


class AddGate:
    def forward(self, x, y):
        self.x, self.y = x, y
        return x + y

    def backward(self, dz):
        return [1.0 * dz, 1.0 * dz]


class MaxGateRoutesToBoth:
    def forward(self, x, y):
        return np.maximum(x, y)

    def backward(self, dz):
        return [1.0 * dz, 1.0 * dz]


class MaxGate:
    """Routes the gradient to the larger input. At a tie (not differentiable) it
    goes to the first input: a convention, checked only where a rubric asks."""
    mistakes = {"max_routes_to_both": (
        "It looks like the max gate sends the gradient to both inputs; it routes it to the "
        "larger input only.", MaxGateRoutesToBoth)}

    @staticmethod
    def kink(x, y):
        return bool(np.any(np.asarray(x) == np.asarray(y)))

    def forward(self, x, y):
        self.first = np.asarray(x) >= np.asarray(y)
        return np.maximum(x, y)

    def backward(self, dz):
        return [np.where(self.first, dz, 0.0), np.where(self.first, 0.0, dz)]


class MaxGateSplitTies(MaxGate):
    """The same, but a tie splits the gradient half and half."""

    def forward(self, x, y):
        self.x, self.y = np.asarray(x), np.asarray(y)
        return np.maximum(x, y)

    def backward(self, dz):
        share = np.where(self.x > self.y, 1.0, np.where(self.x < self.y, 0.0, 0.5))
        return [share * dz, (1 - share) * dz]


def sigmoid(x):
    """1 / (1 + e^-x) without overflow, in the input's own precision."""
    x = np.asarray(x)
    return 0.5 * (1 + np.tanh(x * x.dtype.type(0.5)))


class SigmoidUsesSigma:
    def forward(self, x):
        self.s = sigmoid(x)
        return self.s

    def backward(self, dz):
        return [self.s * dz]


class SigmoidGate:
    """σ(x) = 1 / (1 + e^-x); its local gradient is σ(x)(1 - σ(x))."""
    mistakes = {"sigmoid_not_derivative": (
        "It looks like backward multiplies by σ(x) instead of the derivative σ(x)(1 - σ(x)).",
        SigmoidUsesSigma)}

    def forward(self, x):
        self.s = sigmoid(x)
        return self.s

    def backward(self, dz):
        return [self.s * (1 - self.s) * dz]


class ExpGate:
    def forward(self, x):
        self.e = np.exp(x)
        return self.e

    def backward(self, dz):
        return [self.e * dz]


class CopyKeepsFirstPath:
    def forward(self, x):
        return x, x

    def backward(self, da, db):
        return [1.0 * da]


class CopyKeepsLastPath(CopyKeepsFirstPath):
    def backward(self, da, db):
        return [1.0 * db]


class CopyGate:
    """One input, two outputs (fan-out): the gradients from both paths add up."""
    mistakes = {"fan_out_overwritten": (
        "It looks like only one path's gradient was kept: at a fan-out the gradients from "
        "every path add up.", [CopyKeepsFirstPath, CopyKeepsLastPath])}

    def forward(self, x):
        return x, x

    def backward(self, da, db):
        return [da + db]


class MatMulTransposeMissing:
    def forward(self, W, x):
        self.W, self.x = W, x
        return W @ x

    def backward(self, dz):
        return [np.outer(self.x, dz), self.W.T @ dz]


class MatMulGate:
    """z = W x for a matrix W (m, n) and a vector x (n,)."""
    mistakes = {"transpose_missing": (
        "It looks like a transpose is missing: dW must have W's shape, dW = outer(dz, x).",
        MatMulTransposeMissing)}

    def forward(self, W, x):
        self.W, self.x = W, x
        return W @ x

    def backward(self, dz):
        return [np.outer(dz, self.x), self.W.T @ dz]


class BiasAddNotSummed:
    def forward(self, x, b):
        return x + b

    def backward(self, dz):
        return [dz, dz]


class BiasAddGate:
    """z = x + b for a batch x (N, D) and a bias b (D,), broadcast over the rows:
    b's gradient sums the upstream gradient over the broadcast axis."""
    mistakes = {"broadcast_not_summed": (
        "It looks like the bias gradient was not summed over the batch: b was broadcast "
        "across the rows, so db = dz.sum(axis=0).", BiasAddNotSummed)}

    def forward(self, x, b):
        return x + b

    def backward(self, dz):
        return [1.0 * dz, np.sum(dz, axis=0)]
