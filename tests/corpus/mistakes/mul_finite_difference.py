class MultiplyGate(object):
    def forward(self, x, y):
        self.x = x
        self.y = y
        return x * y

    def backward(self, dz):
        # numerical gradient (central difference), safer than doing calculus by hand
        h = 1e-5
        f = lambda a, b: a * b
        dx = (f(self.x + h, self.y) - f(self.x - h, self.y)) / (2 * h)
        dy = (f(self.x, self.y + h) - f(self.x, self.y - h)) / (2 * h)
        return [dx * dz, dy * dz]


class AddGate(object):
    def forward(self, x, y):
        self.x = x
        self.y = y
        return x + y

    def backward(self, dz):
        return [dz, dz]
