"""Attack: MultiplyGate.backward lifts the recursion limit and recurses without end.

CPython 3.11 keeps Python-to-Python calls off the C stack, so this eats memory
until the address-space limit, then stalls; the call timeout has to end it."""
import os
import sys

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd())


def down(n):
    return down(n + 1) + 1


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        sys.setrecursionlimit(10 ** 9)
        return [down(0), down(0)]


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
