# CS 189 - Homework 4, problem 2: backprop through simple gates
# Name: Jordan Lee

class MultiplyGate(object):
    def forward(self, x, y):
        self.x = x
        self.y = y
        z = x * y
        return z

    def backward(self, dz):
        dx = self.y * dz  # [dz/dx * dL/dz]
        dy = self.x * dz  # [dz/dy * dL/dz]
        return [dx, dy]

# TODO AddGate
