class MultiplyGate(object):
    def forward(self, x, y):
        self.x = x
        self.y = y
        return x * y

    def backward(self, dz):
        return [self.y * dz, self.x * dz]


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]


x = float(input("x = "))
y = float(input("y = "))
gate = MultiplyGate()
print(gate.forward(x, y), gate.backward(1.0))
