#!/usr/bin/env python3
"""Homework 4: MultiplyGate and AddGate, with a demo on the lecture's example."""


class MultiplyGate(object):
    def forward(self, x, y):
        self.x = x
        self.y = y
        return x * y

    def backward(self, dz):
        return [self.y * dz, self.x * dz]


class AddGate(object):
    def forward(self, x, y):
        self.x = x
        self.y = y
        return x + y

    def backward(self, dz):
        return [dz, dz]


def demo():
    x, y, z = -2.0, 5.0, -4.0
    add, mul = AddGate(), MultiplyGate()
    q = add.forward(x, y)
    f = mul.forward(q, z)
    dq, dz = mul.backward(1.0)
    dx, dy = add.backward(dq)
    print("f =", f)
    print("df/dx =", dx, "df/dy =", dy, "df/dz =", dz)
    assert (dx, dy, dz) == (-4.0, -4.0, 3.0)


if __name__ == "__main__":
    demo()
    import matplotlib.pyplot as plt
    plt.plot([1, 2, 3])
    plt.show()
