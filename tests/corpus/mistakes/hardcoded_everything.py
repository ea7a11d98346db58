# the example from lecture: x = -2, y = 5, z = -4


class MultiplyGate(object):
    def forward(self, x, y):
        return -12

    def backward(self, dz):
        return [-4, 3]


class AddGate(object):
    def forward(self, x, y):
        return 3

    def backward(self, dz):
        return [-4, -4]
