"""Attack: os._exit(0) at import, after defining correct gates.

Nothing can be graded once the process is gone; the message must say so.
"""
import os

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd())


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        return [self.y * dz, self.x * dz]


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]


os._exit(0)
