"""CopyGate, correct: forward returns a list, backward a bare dx."""


class CopyGate(object):
    def forward(self, x):
        return [x, x]

    def backward(self, da, db):
        return da + db
