"""Units; MulUnit adds to its gradients (+=) instead of setting them."""


class MulUnit:
    def __init__(self):
        self.dx = self.dy = 0.0

    def fwd(self, x, y):
        self.x, self.y = x, y
        return x * y

    def bwd(self, dout):
        self.dx += self.y * dout
        self.dy += self.x * dout


class AddUnit:
    def fwd(self, x, y):
        return x + y

    def bwd(self, dout):
        self.dx = dout
        self.dy = dout
