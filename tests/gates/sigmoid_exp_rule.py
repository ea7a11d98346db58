"""SigmoidGate, wrong: uses the exp gate's rule, e^x dz."""
import numpy as np


class SigmoidGate(object):
    def forward(self, x):
        self.x = x
        return 1.0 / (1.0 + np.exp(-x))

    def backward(self, dz):
        return [np.exp(self.x) * dz]
