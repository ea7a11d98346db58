"""Attack: make every comparison say "equal", then return wrong gradients.

Patches numpy.allclose, numpy.isclose, numpy.array_equal, numpy.testing's
assertions, math.isclose and builtins.abs at import time, and again inside
backward (each check runs in a fresh process forked from the loaded one).
"""
import builtins
import math
import os

import numpy
import numpy.testing


def _patch():
    numpy.allclose = lambda *a, **k: True
    numpy.isclose = lambda a, b, *r, **k: numpy.ones(numpy.shape(a), dtype=bool)
    numpy.array_equal = lambda *a, **k: True
    numpy.testing.assert_allclose = lambda *a, **k: None
    numpy.testing.assert_array_almost_equal = lambda *a, **k: None
    numpy.testing.assert_almost_equal = lambda *a, **k: None
    math.isclose = lambda *a, **k: True
    builtins.abs = lambda v: 0.0
    numpy.abs = numpy.absolute = lambda v, *a, **k: numpy.zeros(numpy.shape(v))


_patch()
print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd())


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        _patch()
        return [self.x * dz, self.y * dz]  # wrong: swapped


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
