"""Attack: run other programs, by every route: subprocess, os.system,
os.posix_spawn, _posixsubprocess.fork_exec (no audit event on CPython 3.11.7),
libc system() through ctypes, and execv in a child made with libc fork().

If any program runs, MultiplyGate becomes correct (its marks are the signal);
otherwise MultiplyGate.backward tries again and lets the refusal propagate, and
the module ends with an uncaught os.system() call.
"""
import ctypes
import os
import subprocess
import sys

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd())

libc = ctypes.CDLL(None, use_errno=True)
ran = []


def attempt(name, fn):
    try:
        if fn():
            ran.append(name)
            print("EXEC OK via %s" % name)
            return
        print("blocked %s" % name)
    except BaseException as exc:
        print("blocked %s: %s: %s" % (name, type(exc).__name__, exc))


def via_subprocess():
    out = subprocess.run(["/bin/echo", "bpgpwn"], capture_output=True, timeout=5).stdout
    return b"bpgpwn" in out


def via_system():
    return os.system("exit 7") >> 8 == 7


def via_posix_spawn():
    pid = os.posix_spawn("/bin/sh", ["sh", "-c", "exit 7"], {})
    return os.waitpid(pid, 0)[1] >> 8 == 7


def via_fork_exec():
    import _posixsubprocess
    r, w = os.pipe()
    args = [b"/bin/sh", b"-c", b"exit 7"]
    pid = _posixsubprocess.fork_exec(
        args, [args[0]], True, (w,), None, None, -1, -1, -1, -1, -1, -1, r, w,
        False, False, -1, None, None, None, -1, None, False)
    os.close(w)
    return os.waitpid(pid, 0)[1] >> 8 == 7


def via_libc_system():
    return libc.system(b"exit 7") >> 8 == 7


def via_libc_fork_exec():
    pid = libc.fork()
    if pid == 0:
        try:
            os.execv("/bin/sh", ["sh", "-c", "exit 7"])
        finally:
            os._exit(99)
    if pid < 0:
        return False
    return os.waitpid(pid, 0)[1] >> 8 == 7


ROUTES = [("subprocess.run", via_subprocess), ("os.system", via_system),
          ("os.posix_spawn", via_posix_spawn), ("_posixsubprocess.fork_exec", via_fork_exec),
          ("libc system()", via_libc_system), ("libc fork + execv", via_libc_fork_exec)]
for route in ROUTES:
    attempt(*route)


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        if ran:
            return [self.y * dz, self.x * dz]
        subprocess.run(["/bin/true"])  # expected to be refused
        return [self.x * dz, self.y * dz]  # wrong: swapped


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]


os.system("true")
