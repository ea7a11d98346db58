"""Broken: the class is called Val, not Value."""


class Val:
    def __init__(self, data):
        self.data = data
        self.grad = 0.0
