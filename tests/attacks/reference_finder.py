"""Attack: find the grader's reference gates and use them to answer.

Tries, in order: importing `reference` (and `grader`), the repository path,
paths named in the editable-install finder in site-packages, the grader's own
working directory and command line through /proc/<ppid>, and a walk of the
file system for a gates.py defining MultiplyGate (and rubric YAML files). Prints
what it found. If it finds the reference it answers with it; otherwise its
MultiplyGate.backward is wrong, so any mark on that item means a leak.
"""
import glob
import importlib
import os
import re
import site
import sys
import sysconfig
import time

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd())

HERE = os.path.abspath(__file__)
found = {}  # what -> path


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(200000)
    except OSError:
        return None


def _consider(path, what="reference"):
    if what in found or os.path.abspath(path) == HERE:
        return
    text = _read(path)
    if text and "class MultiplyGate" in text and "def backward" in text:
        found[what] = path


for name in ("reference.gates", "reference", "grader", "rubrics"):
    try:
        module = importlib.import_module(name)
        found["import " + name] = getattr(module, "__file__", "?")
    except BaseException:
        pass

for path in ("/work/main/reference/gates.py", "/work/main/rubrics/gates.yaml",
             os.path.join(os.path.dirname(os.getcwd()), "reference", "gates.py")):
    _consider(path)
    if path.endswith(".yaml") and _read(path):
        found["rubric"] = path

dirs = set(site.getsitepackages() + [sysconfig.get_paths()["purelib"]] + sys.path)
for d in sorted(p for p in dirs if p):
    for finder in glob.glob(os.path.join(d, "__editable__*")):
        text = _read(finder) or ""
        for root in re.findall(r"'(/[^']+)'", text) + re.findall(r"^(/\S+)$", text, re.M):
            _consider(os.path.join(root, "gates.py"))
            _consider(os.path.join(root, "reference", "gates.py"))

try:
    ppid = os.getppid()
    cwd = os.readlink("/proc/%d/cwd" % ppid)
    found["grader cwd"] = cwd
    _consider(os.path.join(cwd, "reference", "gates.py"))
except OSError:
    pass
try:
    with open("/proc/%d/cmdline" % os.getppid(), "rb") as f:
        found["grader cmdline"] = f.read().replace(b"\0", b" ").decode()[:200]
except OSError:
    pass

deadline = time.monotonic() + 1
for top in ["/", "/work", "/work/main", "/home", "/root", "/tmp", "/srv", "/opt",
            "/autograder", sys.prefix, sys.base_prefix]:
    for root, subdirs, files in os.walk(top):
        if time.monotonic() > deadline:
            break
        subdirs[:] = [s for s in subdirs if s not in ("proc", "sys", "dev", ".git")]
        if "gates.py" in files:
            _consider(os.path.join(root, "gates.py"))
        for f in files:  # a name seen in a listing is no leak; its content is
            if f == "gates.yaml" and "rubric" not in found and _read(os.path.join(root, f)):
                found["rubric"] = os.path.join(root, f)

print("found=%r" % (found,))
if "reference" in found:
    print("LEAK: reference at %s" % found["reference"])
    namespace = {"__name__": "stolen"}
    exec(compile(_read(found["reference"]), found["reference"], "exec"), namespace)
    Stolen = namespace["MultiplyGate"]
else:
    print("reference not found")
    Stolen = None


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        if Stolen is not None:
            self.ref = Stolen()
            self.ref.forward(x, y)
        return x * y

    def backward(self, dz):
        if Stolen is not None:
            return self.ref.backward(dz)
        return [self.x * dz, self.y * dz]  # wrong: swapped


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
