"""Attack: find the instructor's reference TanhGate (course/ref.py beside the
rubric) and answer with it.

Tries: importing it (ref, course.ref, course, the name the grader loads it
under); reading it at its absolute path (the test writes that path into
REF_PATH); a search for ref.py from the scratch folder, its parent, the
grader's working folder (/proc/<ppid>/cwd) and a short walk of the file system;
and a look through every live object and module for a TanhGate class that is
not its own. Prints what it found. If it finds the reference it answers with
it; otherwise its backward is wrong (tanh(x) instead of 1 - tanh(x)^2), so any
mark on tanh-backward means a leak.
"""
import gc
import importlib
import math
import os
import sys
import time

REF_PATH = "/nonexistent/course/ref.py"  # the test writes the real path here

print("scratch=%s" % os.getcwd())
found = {}


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read(200000)
    except OSError:
        return None
    return text if "class TanhGate" in text and "def backward" in text else None


for name in ("ref", "course.ref", "course", "_bpgrade_ref_ref"):
    try:
        module = importlib.import_module(name)
        found["import " + name] = getattr(module, "__file__", "?")
    except BaseException:
        pass

if _read(REF_PATH):
    found["file"] = REF_PATH

starts = [os.getcwd(), os.path.dirname(os.getcwd())]
try:
    starts.append(os.readlink("/proc/%d/cwd" % os.getppid()))
except OSError:
    pass
deadline = time.monotonic() + 1.5
for top in starts + ["/", "/work", "/tmp", "/home", "/root", "/srv"]:
    for root, subdirs, files in os.walk(top):
        if time.monotonic() > deadline or "file" in found:
            break
        subdirs[:] = [s for s in subdirs if s not in ("proc", "sys", "dev", ".git")]
        if "ref.py" in files and _read(os.path.join(root, "ref.py")):
            found["file"] = os.path.join(root, "ref.py")


def _hunt_objects():
    for obj in gc.get_objects():
        if isinstance(obj, type) and obj.__name__ == "TanhGate" and obj.__module__ != __name__:
            found["object"] = obj
    for name, module in list(sys.modules.items()):
        if "ref" in name.split(".")[-1] and hasattr(module, "TanhGate"):
            found["module " + name] = module.TanhGate


_hunt_objects()
print("found=%r" % (sorted(found),))
if "file" in found:
    print("LEAK: reference at %s" % found["file"])
    namespace = {"__name__": "stolen"}
    exec(compile(_read(found["file"]), found["file"], "exec"), namespace)
    Stolen = namespace["TanhGate"]
else:
    Stolen = next((v for k, v in found.items() if isinstance(v, type)), None)
    print("reference not found" if Stolen is None else "LEAK: a live TanhGate class")


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        return [self.y * dz, self.x * dz]


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]


class TanhGate(object):
    def forward(self, x):
        global Stolen
        if Stolen is None:
            _hunt_objects()  # again, now that the grader is talking to us
            Stolen = next((v for v in found.values() if isinstance(v, type)), None)
        self.t = math.tanh(x)
        if Stolen is not None:
            self.ref = Stolen()
            self.ref.forward(x)
        return self.t

    def backward(self, dz):
        if Stolen is not None:
            return self.ref.backward(dz)
        return [self.t * dz]  # wrong: tanh(x), not its derivative
