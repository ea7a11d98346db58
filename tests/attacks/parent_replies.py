"""Attack: write raw malformed reply lines to the grader's reply pipe.

The child's reply fd is found through child.py's globals (`_out_fd`, and `_seq`
for the request's number) in sys.modules["__main__"], or else by trying
every fd for a write-only pipe other than stdout and stderr. attack.json
{"kind": KIND, "when": "load" | "backward"} picks the line (see LINES) and when
it is written (default: in MultiplyGate.backward, before its own answer).
MultiplyGate.backward is wrong (swapped) when nothing is written.
"""
import fcntl
import json
import os
import stat
import sys

print("pid=%d" % os.getpid())
print("scratch=%s" % os.getcwd())
try:
    with open("attack.json") as f:
        CONFIG = json.load(f)
except (OSError, ValueError):
    CONFIG = {}


def reply_fd():
    main = sys.modules.get("__main__")
    state = getattr(main, "_s", None)  # child.py's state, or its older globals
    fd = getattr(state, "fd_out", getattr(main, "_out_fd", None))
    if isinstance(fd, int):
        return fd
    for n in range(3, 64):  # /proc/self/fd may not be listable
        try:
            if stat.S_ISFIFO(os.fstat(n).st_mode) and \
                    fcntl.fcntl(n, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY:
                return n
        except OSError:
            pass
    return None


def seq():
    main = sys.modules.get("__main__")
    try:
        state = getattr(main, "_s", None)
        return int(state.seq if state is not None else main._seq[0])
    except (AttributeError, TypeError, ValueError, IndexError):
        return 2


def deep(n):
    return "[" * n + "]" * n


def lines(n):
    """KIND -> the raw bytes written (one line, or several)."""
    ok = '"ok": true, "n": %d' % n
    return {
        "deep": '{"values": %s, %s}' % (deep(100000), ok),
        "deep_error": '{"error": %s, "where": "", "failed": 0, "ok": false, "n": %d}' % (deep(1010), n),
        "huge_int": '{"values": [[%s, 1.0], 1.0, [1.0, 1.0]], %s}' % ("9" * 400, ok),
        "huge_int_shape": '{"values": [{"t": "arr", "shape": [%s], "v": []}], %s}' % ("9" * 400, ok),
        "ok_str": '{"values": [], "ok": "yes", "n": %d}' % n,
        "values_dict": '{"values": {"a": 1}, %s}' % ok,
        "error_list": '{"error": [1, [2]], "where": "", "failed": 0, "ok": false, "n": %d}' % n,
        "place_dict": '{"error": "x", "place": {"a": 1}, "failed": 0, "ok": false, "n": %d}' % n,
        "place_str": '{"error": "x", "place": "cell 1", "failed": 0, "ok": false, "n": %d}' % n,
        "exception_list": '{"error": "x", "exception": ["ValueError"], "failed": 0, "ok": false, "n": %d}' % n,
        "failed_str": '{"error": "x", "where": "", "failed": "0", "ok": false, "n": %d}' % n,
        "failed_big": '{"error": "x", "where": "", "failed": 123456, "ok": false, "n": %d}' % n,
        "missing_float": '{"missing": 0.5, "ok": false, "n": %d}' % n,
        "answer_types": '{"values": [{"t": "arr", "shape": "12", "v": {"a": 1}}, {"t": "too_many", '
                        '"n": "many"}, {"t": "seq", "type": 3, "items": 4}], %s}' % ok,
        "answer_unknown": '{"values": [{"t": "bpgpwn"}, true, "s"], %s}' % ok,
        "n_str": '{"values": [], "ok": true, "n": "%d"}' % n,
        "wrong_n": '{"values": [], "ok": true, "n": %d}' % (n + 7),
        "no_n": '{"values": [], "ok": true}',
        "progress_spam": "\n".join('{"progress": 0, "n": %d}' % n for _ in range(2000)),
        "not_dict": "[1, 2, 3]",
        "nan": "NaN",
        "bad_utf8": '{"error": "\xff\xfe", "where": "", "failed": 0, "ok": false, "n": %d}' % n,
        "surrogate": '{"error": "\\ud800", "where": "", "failed": 0, "ok": false, "n": %d}' % n,
        "long_line": '{"values": [%s], %s}' % (", ".join(["0.0"] * 1400000), ok),
        "long_string": '{"error": "%s", "where": "", "failed": 0, "ok": false, "n": %d}' % ("a" * 7000000, n),
        "ready": '{"ready": true, "warnings": [], "names": ["bpgpwn"], "n": %d}' % n,
        "ready_no_n": '{"ready": true, "warnings": [], "names": ["bpgpwn"]}',
    }


def write(kind):
    fd = reply_fd()
    if fd is None:
        print("bpgpwn: no reply pipe found")
        return False
    data = lines(seq())[kind]
    data = (data.encode("latin-1") if kind == "bad_utf8" else data.encode()) + b"\n"
    while data:
        data = data[os.write(fd, data):]
    return True


if CONFIG.get("when") == "load":
    write(CONFIG["kind"])


class MultiplyGate(object):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dz):
        if CONFIG.get("when", "backward") == "backward" and "kind" in CONFIG:
            write(CONFIG["kind"])
        return [self.x * dz, self.y * dz]  # wrong: swapped


class AddGate(object):
    def forward(self, x, y):
        return x + y

    def backward(self, dz):
        return [dz, dz]
