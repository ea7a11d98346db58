"""MaxGate, correct, computing in float32."""
import numpy as np


class MaxGate(object):
    def forward(self, x, y):
        self.x, self.y = np.float32(x), np.float32(y)
        return max(self.x, self.y)

    def backward(self, dz):
        dz = np.float32(dz)
        take = np.float32(self.x >= self.y)
        return [take * dz, (np.float32(1) - take) * dz]
