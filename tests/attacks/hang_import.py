"""Attack: the import never finishes (sleeps, then spins), after defining correct gates."""
import os
import signal
import time

print("pid=%d" % os.getpid(), flush=True)
print("scratch=%s" % os.getcwd(), flush=True)


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        return [self.y * dz, self.x * dz]


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]


for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU):
    signal.signal(sig, signal.SIG_IGN)
time.sleep(1.5)
while True:
    pass
