"""Attack: real number types that lie when compared.

MultiplyGate.backward returns a float subclass and an ndarray subclass whose
__eq__ is always True and whose __sub__ and __abs__ give zero, holding wrong
values (zero). AddGate is correct.
"""
import os

import numpy as np

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd())


class LyingFloat(float):
    def __eq__(self, other):
        return True

    def __sub__(self, other):
        return LyingFloat(0.0)

    __rsub__ = __sub__

    def __abs__(self):
        return LyingFloat(0.0)

    __hash__ = float.__hash__


class LyingArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(self.shape, dtype=bool)

    def __sub__(self, other):
        return np.zeros(self.shape).view(LyingArray)

    __rsub__ = __sub__

    def __abs__(self):
        return np.zeros(self.shape).view(LyingArray)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.zeros(np.shape(inputs[0])).view(LyingArray)


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        return [LyingFloat(0.0), np.zeros(np.shape(self.y)).view(LyingArray)]


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
