"""Attack: lift its own CPU limit and burn CPU in threads.

At load it raises the soft RLIMIT_CPU to the hard limit, then tries to raise
the hard limit too; prints both. MultiplyGate.backward starts four threads
that spin forever (a CPU bomb that per-call wall-clock limits must stop).
"""
import os
import resource
import threading

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd(), flush=True)

soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
print("cpu limits at load: soft=%s hard=%s" % (soft, hard))
try:
    resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))
    print("raised soft to %s" % hard)
except (ValueError, OSError) as exc:
    print("could not raise soft: %s" % exc)
try:
    resource.setrlimit(resource.RLIMIT_CPU, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    print("SUCCEEDED raising the hard limit")
except (ValueError, OSError) as exc:
    print("blocked raising the hard limit: %s" % exc)
print("cpu limits now: hard=%s" % resource.getrlimit(resource.RLIMIT_CPU)[1], flush=True)


def spin():
    while True:
        pass


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        for _ in range(4):
            threading.Thread(target=spin, daemon=True).start()
        spin()


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
