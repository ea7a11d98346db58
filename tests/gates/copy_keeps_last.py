"""CopyGate, wrong: the second path's gradient overwrites the first's (the same
mistake as keeping one path: fan_out_overwritten)."""


class CopyGate(object):
    def forward(self, x):
        return x, x

    def backward(self, da, db):
        dx = da
        dx = db  # overwritten instead of dx += db
        return [dx]
