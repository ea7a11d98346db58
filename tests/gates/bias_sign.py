"""BiasAddGate, wrong: db has the wrong sign."""


class BiasAddGate(object):
    def forward(self, x, b):
        return x + b

    def backward(self, dz):
        return [dz, -dz.sum(axis=0)]
