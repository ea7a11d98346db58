class MultiplyGate(object):
    def __init__(self, name):
        self.name = name

    def forward(self, x, y):
        self.x = x
        self.y = y
        return x * y

    def backward(self, dz):
        return [self.y * dz, self.x * dz]

    def __repr__(self):
        return "MultiplyGate(%r)" % self.name


class AddGate(object):
    def forward(self, x, y):
        self.x = x
        self.y = y
        return x + y

    def backward(self, dz):
        return [dz, dz]
