"""Not an attack: the score an attack whose MultiplyGate.backward fails (raises,
exits, hangs, crashes, returns garbage) must not beat: here it simply raises."""


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        raise ValueError("not done yet")


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
