"""Attack: write files outside the scratch folder.

Targets: /tmp, /var/tmp, /dev/shm, the folder above the scratch folder, the
grader's working directory (through /proc/<ppid>/cwd), the repository, /root,
the grader's own child.py and confine.py (so later submissions would run
trojaned code), a symlink planted in the scratch folder pointing outside, and
any paths a test lists in attack.json ("targets"). Files are only ever created
(mode "x") or appended to, never truncated. Prints WROTE <path> for
each write that worked. Tries again in backward.
MultiplyGate.backward is wrong.
"""
import json
import os
import sys

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd())

here = os.getcwd()
try:
    with open("attack.json") as f:
        config = json.load(f)
except (OSError, ValueError):
    config = {}


def targets(tag):
    paths = ["/tmp/bpgpwn-%s.txt" % tag, "/var/tmp/bpgpwn-%s.txt" % tag,
             "/dev/shm/bpgpwn-%s.txt" % tag,
             os.path.join(os.path.dirname(here), "bpgpwn-%s-above-scratch.txt" % tag),
             "/work/main/bpgpwn-%s.txt" % tag, "/work/main/tests/bpgpwn-%s.txt" % tag,
             "/root/bpgpwn-%s.txt" % tag]
    try:
        paths.append(os.path.join(os.readlink("/proc/%d/cwd" % os.getppid()),
                                  "bpgpwn-%s-grader-cwd.txt" % tag))
    except OSError:
        pass
    paths += [os.path.join(p, "bpgpwn-%s.txt" % tag) for p in config.get("dirs", [])]
    return paths


def write(path, append=False):
    try:
        with open(path, "a" if append else "x") as f:
            f.write("\n# bpgpwn\n" if append else "bpgpwn\n")
        print("WROTE %s" % path)
    except OSError as exc:
        print("blocked %s: %s" % (path, exc.strerror))


def attack(tag):
    for path in targets(tag):
        write(path)
    for path in config.get("append", []):
        write(path, append=True)
    boot = os.path.dirname(os.path.abspath(sys.argv[0] if sys.argv and sys.argv[0] else "."))
    for name in ("child.py", "confine.py"):
        if os.path.exists(os.path.join(boot, name)):
            write(os.path.join(boot, name), append=True)
    link = os.path.join(here, "bpgpwn-link-%s" % tag)
    try:
        os.symlink("/tmp/bpgpwn-%s-via-symlink.txt" % tag, link)
        write(link, append=True)  # follows the link
    except OSError as exc:
        print("blocked symlink: %s" % exc.strerror)


attack("load")


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        if not getattr(MultiplyGate, "done", False):
            MultiplyGate.done = True
            attack("check%d" % os.getpid())
        return [self.x * dz, self.y * dz]  # wrong: swapped


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
