"""Units whose bwd leaves the gradients on self.dx and self.dy (and returns nothing)."""


class MulUnit:
    def fwd(self, x, y):
        self.x, self.y = x, y
        return x * y

    def bwd(self, dout):
        self.dx = self.y * dout
        self.dy = self.x * dout


class AddUnit:
    def fwd(self, x, y):
        return x + y

    def bwd(self, dout):
        self.dx = dout
        self.dy = dout
        return "ignored: the gradients are read from the attributes"
