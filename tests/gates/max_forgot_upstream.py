"""MaxGate, wrong: routes 1 instead of the upstream gradient."""


class MaxGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return max(x, y)

    def backward(self, dz):
        return [1.0, 0.0] if self.x >= self.y else [0.0, 1.0]
