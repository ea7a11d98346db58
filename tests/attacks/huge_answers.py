"""Attack: answers with a million values. MultiplyGate.backward returns a list of
1,000,000 floats (forward is correct)."""
import os

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd())


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        return [float(self.y * dz)] * 1_000_000


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
