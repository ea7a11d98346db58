class MultiplyGate(object):
    def forward(self, x, y):
        self.x = x
        self.y = y
        self.z = x * y
        return self.z

    def backward(self, dz):
        # dz/dx = z/x = y  (since z = x*y)
        dx = self.z / self.x * dz
        dy = self.z / self.y * dz
        return [dx, dy]


class AddGate(object):
    def forward(self, x, y):
        self.x = x
        self.y = y
        return x + y

    def backward(self, dz):
        return [dz, dz]
