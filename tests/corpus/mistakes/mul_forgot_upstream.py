class MultiplyGate(object):
    def forward(self, x, y):
        self.x = x
        self.y = y
        return x * y

    def backward(self, dz):
        # local gradients of x*y
        dx = self.y
        dy = self.x
        return [dx, dy]


class AddGate(object):
    def forward(self, x, y):
        self.x = x
        self.y = y
        return x + y

    def backward(self, dz):
        return [dz, dz]
