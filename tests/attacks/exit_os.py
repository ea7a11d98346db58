"""Attack: os._exit(0) in MultiplyGate.backward (no exception, the process just ends)."""
import os

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd())


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        os._exit(0)


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
