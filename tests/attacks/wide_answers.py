"""Attack: an answer just under each per-value cap but huge in total.

MultiplyGate.backward returns [a, b] where a and b are lists of 64 arrays of
4,500 values each (576,000 numbers, some 10 MB of JSON): every list and array is
within the child's item and value caps, the reply is not. Forward is correct."""
import os

import numpy as np

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd())


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        block = [np.full(4_500, 0.1234567890123) for _ in range(64)]
        return [block, block]


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
