"""Attack: sys.exit(0) in MultiplyGate.backward, and at the end of the import.

The gates are defined before the import-time exit, so AddGate (correct) must
still score; MultiplyGate.backward's exit must cost only the items that call it.
"""
import os
import sys

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd())


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        sys.exit(0)


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]


sys.exit(0)
