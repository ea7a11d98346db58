"""A sigmoid that overflows: np.exp(-x) at x = -800 is inf (right elsewhere)."""
from good import *  # noqa: F401,F403  (the correct layers; one is redefined below)
from good import np


def sigmoid_forward(x):
    out = 1 / (1 + np.exp(-x))
    return out, out
