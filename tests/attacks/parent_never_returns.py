"""Not quite an attack: honest code whose forwards never return (a `while True`
in both). Each check costs its call timeout, until the submission's time runs out."""
import os

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd())


class MultiplyGate(object):
    def forward(self, x, y):
        while True:
            pass

    def backward(self, dz):
        return [dz, dz]


class AddGate(object):
    def forward(self, x, y):
        while True:
            pass

    def backward(self, dz):
        return [dz, dz]
