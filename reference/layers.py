"""Neural-network layers in the canonical gate form: forward(*inputs) returns the
output, backward(*upstream) the gradients of the differentiable inputs.

The same classes grade CS231n's layer functions (affine_forward(x, w, b) ->
(out, cache), ...) and "Deep Learning from Scratch" layers (Affine(W, b) with
self.dW, self.db): a rubric's `api:` block says how the student's code is called.
Inputs a layer takes no gradient for (integer labels, batchnorm's bn_param) come
last; a rubric's `not_differentiable:` says how they are drawn.

Each layer may declare `mistakes` = {id: (sentence, class or classes with that
mistake built in)}, named when one reproduces every wrong answer (judge/mistakes.py).
"""
import numpy as np


def stable_sigmoid(x):
    """1 / (1 + e^-x) without overflow, in the input's own precision."""
    x = np.asarray(x)
    return 0.5 * (1 + np.tanh(x * x.dtype.type(0.5)))


# ---- affine: out = x.reshape(N, D) @ w + b

class Affine:
    """x (N, d1, ..., dk) is reshaped to (N, D); dx comes back in x's shape."""

    def forward(self, x, w, b):
        self.x, self.w = x, w
        return x.reshape(x.shape[0], -1) @ w + b

    def backward(self, dout):
        flat = self.x.reshape(self.x.shape[0], -1)
        return [(dout @ self.w.T).reshape(self.x.shape), flat.T @ dout, dout.sum(axis=0)]


class AffineTransposeMissing(Affine):
    def backward(self, dout):
        dx, _, db = super().backward(dout)
        return [dx, dout.T @ self.x.reshape(self.x.shape[0], -1), db]


class AffineBiasNotSummed(Affine):
    def backward(self, dout):
        dx, dw, _ = super().backward(dout)
        return [dx, dw, 1.0 * dout]


class AffineNotReshaped(Affine):
    def backward(self, dout):
        _, dw, db = super().backward(dout)
        return [dout @ self.w.T, dw, db]


Affine.mistakes = {
    "transpose_missing": ("It looks like a transpose is missing: the weights' gradient must have the weights' "
                          "shape (D, M), x.reshape(N, D).T @ dout.", AffineTransposeMissing),
    "broadcast_not_summed": ("It looks like the bias gradient was not summed over the batch: b is added "
                             "to every row, so db = dout.sum(axis=0).", AffineBiasNotSummed),
    "dx_not_reshaped": ("It looks like dx was not reshaped back to x's shape (N, d1, ..., dk): x was "
                        "flattened to (N, D) in forward, so dx must be unflattened.", AffineNotReshaped),
}


# ---- ReLU

class Relu:
    @staticmethod
    def kink(x):
        return bool(np.any(np.asarray(x) == 0))

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dout):
        return [np.where(self.x > 0, dout, 0.0)]


class ReluUnmasked(Relu):
    def backward(self, dout):
        return [1.0 * dout]


class ReluMaskedByUpstream(Relu):
    def backward(self, dout):
        return [np.where(dout > 0, dout, 0.0)]


Relu.mistakes = {"relu_passed_negative": (
    "It looks like the gradient is passed through where x < 0: ReLU's gradient is dout where x > 0 "
    "and 0 where x < 0 (the mask comes from forward's input x, not from dout).",
    [ReluUnmasked, ReluMaskedByUpstream])}


# ---- sigmoid

class Sigmoid:
    def forward(self, x):
        self.s = stable_sigmoid(x)
        return self.s

    def backward(self, dout):
        return [self.s * (1 - self.s) * dout]


class SigmoidTimesSigma(Sigmoid):
    def backward(self, dout):
        return [self.s * dout]


Sigmoid.mistakes = {"sigmoid_not_derivative": (
    "It looks like backward multiplies by σ(x) instead of the derivative σ(x)(1 - σ(x)).",
    SigmoidTimesSigma)}


# ---- softmax and cross-entropy loss, with integer labels y

class SoftmaxLoss:
    """loss = mean over the batch of -log softmax(x)[y]; its upstream gradient is 1."""

    def forward(self, x, y):
        shifted = x - x.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.probs, self.y = np.exp(log_probs), np.asarray(y, dtype=int)
        return -log_probs[np.arange(len(self.y)), self.y].mean()

    def onehot(self):
        hot = np.zeros_like(self.probs)
        hot[np.arange(len(self.y)), self.y] = 1
        return hot

    def backward(self, dout=1.0):
        return [(self.probs - self.onehot()) / len(self.y) * dout]


class SoftmaxLossNotAveraged(SoftmaxLoss):
    def backward(self, dout=1.0):
        return [(self.probs - self.onehot()) * dout]


class SoftmaxLossOneNotSubtracted(SoftmaxLoss):
    def backward(self, dout=1.0):
        return [self.probs / len(self.y) * dout]


class SoftmaxLossNeither(SoftmaxLoss):
    def backward(self, dout=1.0):
        return [self.probs * dout]


SoftmaxLoss.mistakes = {
    "loss_not_averaged": ("It looks like the gradient was not divided by the batch size N: the loss is "
                          "the mean over the batch, so dx = (probs - onehot(y)) / N.", SoftmaxLossNotAveraged),
    "softmax_label_not_subtracted": ("It looks like 1 was not subtracted at the correct class: "
                                     "dx = (probs - onehot(y)) / N, so the label's entry is probs - 1.",
                                     [SoftmaxLossOneNotSubtracted, SoftmaxLossNeither]),
}


# ---- batch normalization, train mode

class BatchNorm:
    """out = gamma * (x - mean) / sqrt(var + eps) + beta, with the batch's mean and
    (biased) variance; bn_param is a dict ({mode: train, eps: ...})."""

    def forward(self, x, gamma, beta, bn_param):
        eps = x.dtype.type(bn_param.get("eps", 1e-5))
        self.mu = x.mean(axis=0)
        self.var = x.var(axis=0)
        self.std = np.sqrt(self.var + eps)
        self.xhat = (x - self.mu) / self.std
        self.gamma = gamma
        return gamma * self.xhat + beta

    def backward(self, dout):
        n = dout.shape[0]
        dxhat = dout * self.gamma
        dx = (n * dxhat - dxhat.sum(axis=0) - self.xhat * (dxhat * self.xhat).sum(axis=0)) / (n * self.std)
        return [dx, (dout * self.xhat).sum(axis=0), dout.sum(axis=0)]


class BatchNormNoPaths(BatchNorm):
    """Mean and variance treated as constants: dx = dxhat / std."""

    def backward(self, dout):
        _, dgamma, dbeta = super().backward(dout)
        return [dout * self.gamma / self.std, dgamma, dbeta]


class BatchNormNoMeanPath(BatchNorm):
    def backward(self, dout):
        _, dgamma, dbeta = super().backward(dout)
        dxhat = dout * self.gamma
        return [dxhat / self.std - self.xhat * (dxhat * self.xhat).mean(axis=0) / self.std, dgamma, dbeta]


class BatchNormNoVariancePath(BatchNorm):
    def backward(self, dout):
        _, dgamma, dbeta = super().backward(dout)
        dxhat = dout * self.gamma
        return [(dxhat - dxhat.mean(axis=0)) / self.std, dgamma, dbeta]


BatchNorm.mistakes = {"batchnorm_paths_missing": (
    "It looks like dx misses the paths through the batch mean and variance: both are computed from x, "
    "so dx gets a term through each of them besides dout * gamma / std.",
    [BatchNormNoPaths, BatchNormNoMeanPath, BatchNormNoVariancePath])}
