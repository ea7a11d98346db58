# CS 189 - Homework 4, problem 2: backprop through simple gates
# Name: Jordan Lee

class Multiply(object):
    def forward(self, x, y):
        self.x = x
        self.y = y
        z = x * y
        return z

    def backward(self, dz):
        dx = self.y * dz  # [dz/dx * dL/dz]
        dy = self.x * dz  # [dz/dy * dL/dz]
        return [dx, dy]


class Add(object):
    def forward(self, x, y):
        self.x = x
        self.y = y
        return x + y

    def backward(self, dz):
        dx = 1.0 * dz  # local gradient is 1
        dy = 1.0 * dz
        return [dx, dy]
