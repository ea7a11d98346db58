import sys


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


def selftest():
    m, a = MultiplyGate(), AddGate()
    f = m.forward(a.forward(-2, 5), -4)
    dq, dz = m.backward(1)
    dx, dy = a.backward(dq)
    return f == -12 and (dx, dy, dz) == (-4, -4, 3)


print("self test:", "ok" if selftest() else "FAILED")
sys.exit(0 if selftest() else 1)
