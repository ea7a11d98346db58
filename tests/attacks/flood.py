"""Attack: print 10 MB at import and in every MultiplyGate.backward call, with and
without newlines, on stdout and stderr; plus a 10 MB exception message."""
import os
import sys

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd())

sys.stdout.write("bpgpwn-flood " * (5 << 20 // 13) + "\n")
sys.stdout.write(("x" * 99 + "\n") * ((3 << 20) // 100))
sys.stderr.write("y" * (2 << 20))


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        sys.stdout.write("z" * (10 << 20))
        raise ValueError("w" * (10 << 20))


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
