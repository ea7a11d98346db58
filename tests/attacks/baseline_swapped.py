"""Not an attack: the score an attack with wrong gradients must not beat.

The same gates as the attacks, with MultiplyGate.backward returning the
gradients swapped ([x * dz, y * dz]) and nothing else going on."""


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        return [self.x * dz, self.y * dz]  # wrong: swapped


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
