"""Not an attack: gates that report their own CPU priority as gradients: dx is
os.nice(0) now, dy what it was after loading; AddGate's dy is the nice value of
the session's scheduling group (/proc/self/autogroup; -1 where unreadable). MultiplyGate.backward takes 0.3 s (longer than a tenth of a 1 s call
timeout), so the grader should have moved it to the lowest priority by the time
it answers; AddGate answers at once. With attack.json {"load_sleep": s} loading
takes s seconds first; with {"fast": true} MultiplyGate answers at once too."""
import json
import os
import time

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd())
try:
    with open("attack.json") as f:
        CONFIG = json.load(f)
except OSError:
    CONFIG = {}
time.sleep(CONFIG.get("load_sleep", 0))
AT_LOAD = os.nice(0)


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        time.sleep(0 if CONFIG.get("fast") else 0.3)
        return [float(os.nice(0)), float(AT_LOAD)]


def group_nice():
    try:
        with open("/proc/self/autogroup") as f:
            return float(f.read().split()[-1])
    except (OSError, ValueError, IndexError):
        return -1.0


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [float(os.nice(0)), group_nice()]
