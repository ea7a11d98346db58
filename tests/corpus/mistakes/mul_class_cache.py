class MultiplyGate(object):
    x = None
    y = None

    def forward(self, x, y):
        MultiplyGate.x = x
        MultiplyGate.y = y
        return x * y

    def backward(self, dz):
        return [MultiplyGate.y * dz, MultiplyGate.x * dz]


class AddGate(object):
    def forward(self, x, y):
        self.x = x
        self.y = y
        return x + y

    def backward(self, dz):
        return [dz, dz]
