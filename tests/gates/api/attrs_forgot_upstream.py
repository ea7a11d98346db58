"""Units; MulUnit forgets the upstream gradient."""


class MulUnit:
    def fwd(self, x, y):
        self.x, self.y = x, y
        return x * y

    def bwd(self, dout):
        self.dx = self.y
        self.dy = self.x


class AddUnit:
    def fwd(self, x, y):
        return x + y

    def bwd(self, dout):
        self.dx = dout
        self.dy = dout
        return "ignored: the gradients are read from the attributes"
