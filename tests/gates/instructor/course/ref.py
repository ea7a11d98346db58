"""The instructor's reference for a gate the grader does not ship: tanh.

Loaded by `bpgrade` in the trusted parent only (the rubric names it by path);
never released, never visible to the sandboxed student code.
"""
import numpy as np


class TanhUsesTanh:
    """The classic mistake: multiplies by tanh(x) instead of its derivative."""

    def forward(self, x):
        self.t = np.tanh(x)
        return self.t

    def backward(self, dz):
        return [self.t * dz]


class TanhGate:
    """z = tanh(x); its local gradient is 1 - tanh(x)^2, computed from the output."""
    mistakes = {"tanh_not_derivative": (
        "It looks like backward multiplies by tanh(x) instead of its derivative 1 - tanh(x)^2.",
        TanhUsesTanh)}

    def forward(self, x):
        self.t = np.tanh(x)
        return self.t

    def backward(self, dz):
        return [(1 - self.t ** 2) * dz]
