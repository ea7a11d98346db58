"""A softmax without subtracting the max: exp overflows for logits in the thousands."""
from good import *  # noqa: F401,F403  (the correct layers; one is redefined below)
from good import np


def softmax_loss(x, y):
    e = np.exp(x)
    probs = e / e.sum(axis=1, keepdims=True)
    n = x.shape[0]
    loss = -np.log(probs[np.arange(n), y]).mean()
    dx = probs.copy()
    dx[np.arange(n), y] -= 1
    return loss, dx / n
