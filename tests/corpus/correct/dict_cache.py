class MultiplyGate(object):
    def __init__(self):
        self.cache = {}

    def forward(self, x, y):
        self.cache["x"] = x
        self.cache["y"] = y
        out = x * y
        self.cache["out"] = out
        return out

    def backward(self, dz):
        x, y = self.cache["x"], self.cache["y"]
        grads = {"x": y * dz, "y": x * dz}
        return [grads["x"], grads["y"]]


class AddGate(object):
    def __init__(self):
        self.cache = dict()

    def forward(self, x, y):
        self.cache.update(x=x, y=y)
        return x + y

    def backward(self, dz):
        return [dz * 1, dz * 1]
