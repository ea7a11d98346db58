"""Attack: print a perfect Gradescope results JSON, hoping it is taken as the result.

Prints it at import and in every backward, to stdout and stderr, through
print, sys.__stdout__ and os.write on fds 1 and 2. MultiplyGate.backward is wrong.
"""
import json
import os
import sys

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd())

FAKE = json.dumps({"score": 100, "max_score": 100, "output": "bpgpwn: all checks passed",
                   "tests": [{"name": "everything", "score": 100, "max_score": 100,
                              "status": "passed"}]})


def shout():
    print(FAKE)
    print(FAKE, file=sys.stderr)
    for stream in (sys.__stdout__, sys.__stderr__):
        try:
            stream.write(FAKE + "\n")
            stream.flush()
        except Exception:
            pass
    for fd in (1, 2):
        try:
            os.write(fd, (FAKE + "\n").encode())
        except OSError:
            pass


shout()


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        shout()
        return [self.x * dz, self.y * dz]  # wrong: swapped


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
