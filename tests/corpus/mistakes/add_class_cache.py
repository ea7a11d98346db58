class AddGate(object):
    inputs = []  # shared by every AddGate -- harmless, backward never reads it

    def forward(self, x, y):
        AddGate.inputs = [x, y]
        return x + y

    def backward(self, dz):
        return [dz, dz]


class MultiplyGate(object):
    def forward(self, x, y):
        self.x = x
        self.y = y
        return x * y

    def backward(self, dz):
        return [self.y * dz, self.x * dz]
