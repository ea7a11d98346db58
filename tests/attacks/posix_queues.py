"""Attack: leave a POSIX message queue behind (it outlives the process).

mq_open("/bpgpwn-queue", O_CREAT) through librt, then a System V message
queue with a private key. Prints SUCCEEDED or blocked.
MultiplyGate.backward repeats the attempt, then returns wrong gradients.
"""
import ctypes
import ctypes.util
import os

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd(), flush=True)

libc = ctypes.CDLL(None, use_errno=True)
try:
    rt = ctypes.CDLL(ctypes.util.find_library("rt") or "librt.so.1", use_errno=True)
except OSError:
    rt = libc


def attack():
    q = rt.mq_open(b"/bpgpwn-queue", os.O_CREAT | os.O_RDWR, 0o666, None)
    print("SUCCEEDED mq_open" if q >= 0 else "blocked mq_open: %s" % os.strerror(ctypes.get_errno()))
    m = libc.msgget(0, 0o1000 | 0o600)
    print("SUCCEEDED msgget" if m >= 0 else "blocked msgget: %s" % os.strerror(ctypes.get_errno()))


attack()


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        if not getattr(MultiplyGate, "done", False):
            MultiplyGate.done = True
            attack()
        return [self.x * dz, self.y * dz]  # wrong: swapped


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
