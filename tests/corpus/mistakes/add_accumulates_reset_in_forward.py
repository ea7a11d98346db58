class AddGate(object):
    def forward(self, x, y):
        self.dx = 0.0  # reset gradients for this pass
        self.dy = 0.0
        return x + y

    def backward(self, dz):
        self.dx += dz
        self.dy += dz
        return [self.dx, self.dy]


class MultiplyGate(object):
    def forward(self, x, y):
        self.x = x
        self.y = y
        return x * y

    def backward(self, dz):
        return [self.y * dz, self.x * dz]
