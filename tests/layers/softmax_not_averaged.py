"""The loss is averaged over the batch but its gradient is not: /N missing in dx."""
from good import *  # noqa: F401,F403  (the correct layers; one is redefined below)
from good import np


def softmax_loss(x, y):
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    probs = np.exp(log_probs)
    n = x.shape[0]
    loss = -log_probs[np.arange(n), y].mean()
    dx = probs.copy()
    dx[np.arange(n), y] -= 1
    return loss, dx
