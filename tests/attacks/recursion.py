"""Attack: recursion without end, at import and in MultiplyGate.backward, with
Python's normal recursion limit (so a RecursionError nobody catches)."""
import os

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd())


def down(n):
    return down(n + 1) + 1


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        return [down(0), down(0)]


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]


down(0)
