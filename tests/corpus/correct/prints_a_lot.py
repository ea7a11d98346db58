print("=" * 60)
print("loading my gates...")
print("=" * 60)


class MultiplyGate(object):
    def forward(self, x, y):
        print("MultiplyGate.forward called with", x, y)
        self.x = x
        self.y = y
        out = x * y
        print("  -> out =", out)
        return out

    def backward(self, dz):
        print("MultiplyGate.backward called with dz =", dz)
        dx = self.y * dz
        dy = self.x * dz
        print("  -> dx =", dx, "dy =", dy)
        return [dx, dy]


class AddGate(object):
    def forward(self, x, y):
        print("AddGate.forward", x, y)
        self.x = x
        self.y = y
        return x + y

    def backward(self, dz):
        print("AddGate.backward", dz)
        return [dz, dz]


# sanity check on lots of points
for i in range(3000):
    x, y = i * 0.5 - 700, 3.0 - i * 0.25
    m = MultiplyGate()
    m.forward(x, y)
    print("check", i, m.backward(1.0))
print("all done!")
