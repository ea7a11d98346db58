"""Attack: open network connections to 127.0.0.1.

Reads the port a test listens on from attack.json ("port"; default 9). Tries
TCP with the socket module, UDP sendto, and a raw socket()/connect() through
ctypes (no audit event). If a connection is made, MultiplyGate becomes correct
(its marks are the signal); otherwise MultiplyGate.backward connects again and
lets the refusal propagate, and the module ends with an uncaught
socket.create_connection().
"""
import ctypes
import json
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
connected = []


def tcp():
    s = socket.create_connection(("127.0.0.1", PORT), timeout=2)
    s.sendall(b"bpgpwn tcp\n")
    s.close()
    return True


def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"bpgpwn udp\n", ("127.0.0.1", PORT))
    s.close()
    return True


def raw():
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.socket(2, 1, 0)  # AF_INET, SOCK_STREAM
    if fd < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    addr = struct.pack("<HH4s8x", 2, socket.htons(PORT), socket.inet_aton("127.0.0.1"))
    ok = libc.connect(fd, addr, len(addr)) == 0
    err = ctypes.get_errno()
    os.close(fd)
    if not ok:
        raise OSError(err, os.strerror(err))
    return True


for name, fn in (("tcp", tcp), ("udp", udp), ("raw socket", raw)):
    try:
        fn()
        connected.append(name)
        print("CONNECTED via %s" % name)
    except BaseException as exc:
        print("blocked %s: %s: %s" % (name, type(exc).__name__, exc))


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        if connected:
            return [self.y * dz, self.x * dz]
        socket.create_connection(("127.0.0.1", PORT), timeout=1).close()  # expected to be refused
        return [self.x * dz, self.y * dz]  # wrong: swapped


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]


socket.create_connection(("127.0.0.1", PORT), timeout=1)
