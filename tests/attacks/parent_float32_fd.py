"""Attack on the tolerance: a catalogued mistake (finite differences inside
MultiplyGate.backward, tests/corpus/mistakes/mul_finite_difference.py) whose
answers come back as np.float32, in the hope of float32's wider tolerance."""
import os

import numpy as np

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd())


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        h = 1e-5
        f = lambda a, b: a * b  # noqa: E731
        dx = (f(self.x + h, self.y) - f(self.x - h, self.y)) / (2 * h)
        dy = (f(self.x, self.y + h) - f(self.x, self.y - h)) / (2 * h)
        return [np.float32(dx * dz), np.float32(dy * dz)]


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
