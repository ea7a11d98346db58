class MultiplyGate(object):
    def __init__(self):
        self.dx = 0.0
        self.dy = 0.0

    def forward(self, x, y):
        self.x = x
        self.y = y
        return x * y

    def backward(self, dz):
        self.dx += self.y * dz
        self.dy += self.x * dz
        return [self.dx, self.dy]


class AddGate(object):
    def forward(self, x, y):
        self.x = x
        self.y = y
        return x + y

    def backward(self, dz):
        return [dz, dz]
