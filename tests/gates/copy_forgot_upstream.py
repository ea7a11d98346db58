"""CopyGate, wrong: adds the local gradients (1 + 1) without the upstream ones."""


class CopyGate(object):
    def forward(self, x):
        return x, x

    def backward(self, da, db):
        return [2.0]
