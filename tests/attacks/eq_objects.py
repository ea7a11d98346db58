"""Attack: answers that claim to equal anything.

MultiplyGate.backward returns objects whose __eq__ is always True and whose
__sub__, __rsub__ and __abs__ give zero; forward is honest. AddGate is correct.
"""
import os

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd())


class Liar(object):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __sub__(self, other):
        return 0.0

    __rsub__ = __sub__

    def __abs__(self):
        return 0.0

    def __lt__(self, other):
        return True

    __le__ = __lt__

    def __float__(self):
        return 0.0

    def __array__(self, *args, **kwargs):
        raise TypeError("no")

    def __repr__(self):
        raise RuntimeError("no repr either")

    __hash__ = object.__hash__


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        return [Liar(), Liar()]


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
