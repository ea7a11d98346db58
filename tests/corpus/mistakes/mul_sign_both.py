class MultiplyGate(object):
    def forward(self, x, y):
        self.x = x
        self.y = y
        return x * y

    def backward(self, dz):
        # gradient DEScent so negative
        return [-self.y * dz, -self.x * dz]


class AddGate(object):
    def forward(self, x, y):
        self.x = x
        self.y = y
        return x + y

    def backward(self, dz):
        return [dz, dz]
