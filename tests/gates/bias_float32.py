"""BiasAddGate, correct, computing in float32."""
import numpy as np


class BiasAddGate(object):
    def forward(self, x, b):
        return x.astype(np.float32) + b.astype(np.float32)

    def backward(self, dz):
        dz = dz.astype(np.float32)
        return [dz, dz.sum(axis=0)]
