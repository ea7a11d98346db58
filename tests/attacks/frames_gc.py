"""Attack: look through stack frames and every live object for expected values.

In backward it walks sys._getframe() up the stack and gc.get_objects(),
looking for anything named like an expected answer (expected, want, reference,
ref_grads...) and for modules of the grader or the reference. If it finds a pair
of numbers it returns them; otherwise it returns wrong gradients.
"""
import gc
import os
import sys

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd())

KEYS = ("expected", "want", "want32", "reference", "ref", "grads", "answer", "truth")


def _pair(v):
    try:
        if isinstance(v, (list, tuple)) and len(v) >= 2:
            return [float(v[-2]), float(v[-1])]
    except (TypeError, ValueError):
        pass
    return None


def hunt():
    seen = []
    frame = sys._getframe()
    while frame is not None:
        for key, value in list(frame.f_locals.items()) + list(frame.f_globals.items()):
            if key in KEYS and _pair(value):
                seen.append(("frame %s" % frame.f_code.co_name, key, _pair(value)))
        frame = frame.f_back
    for obj in gc.get_objects():
        if isinstance(obj, dict):
            for key in KEYS:
                try:
                    value = obj.get(key)
                except Exception:
                    continue
                if _pair(value):
                    seen.append(("gc dict", key, _pair(value)))
    for name in list(sys.modules):
        if name.split(".")[0] in ("grader", "reference", "rubrics"):
            seen.append(("module", name, None))
    return seen


print("at load: %r" % (hunt()[:5],))
_found = {}


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        if _found.get("pid") != os.getpid():  # once per check's process
            _found.update(pid=os.getpid(), seen=hunt())
        for where, key, pair in _found["seen"]:
            if pair is not None:
                return pair
        return [self.x * dz, self.y * dz]  # wrong: swapped


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
