# -*- coding: utf-8 -*-
from __future__ import division, print_function


class MultiplyGate(object):
    def __init__(self):
        super(MultiplyGate, self).__init__()
        self.x = None
        self.y = None

    def forward(self, x, y):
        self.x = x
        self.y = y
        return x * y

    def backward(self, dz):
        dx = self.y * dz
        dy = self.x * dz
        return [dx, dy]


class AddGate(object):
    def __init__(self):
        super(AddGate, self).__init__()

    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
