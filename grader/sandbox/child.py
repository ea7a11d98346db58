"""The untrusted side: runs student code and answers in plain numbers.

Started as `python -I child.py IN_FD OUT_FD`. It imports nothing from the
grader or the reference. The parent treats every byte it sends as untrusted.

Protocol: one JSON object per line. The first message from the parent is the
config; this process confines itself, loads the submission and reports.
Then, per check, the parent sends {"op": "fork"}; a fresh child forked from
the loaded state serves "new" / "call" / "end", and the loaded process
reports {"ended": ...} when that child is gone.
"""
import json
import os
import sys
import traceback
import types

MAX_VALUES = 100_000  # numbers in one answer
MAX_ITEMS = 64  # items in one list or tuple
MAX_DEPTH = 4

_in = None
_out_fd = None
_objects = {}
_code_names = {}  # compiled filename -> "cell N" or file name


def send(obj):
    data = (json.dumps(obj) + "\n").encode()
    while data:
        data = data[os.write(_out_fd, data):]


def recv():
    line = _in.readline()
    return json.loads(line) if line else None


# ---- plain numbers out ---------------------------------------------------

def encode(v, depth=0):
    """Describe a student's value as plain JSON: numbers, shapes, type names."""
    import numpy as np
    if isinstance(v, (bool, np.bool_)):
        return {"t": "other", "type": "bool", "repr": repr(bool(v))}
    if isinstance(v, (int, float, np.integer, np.floating)):
        dtype = getattr(v, "dtype", None)
        dtype = str(dtype) if dtype is not None else type(v).__name__
        try:
            return {"t": "num", "v": float(v), "dtype": dtype}
        except (OverflowError, ValueError, TypeError):
            return {"t": "other", "type": type(v).__name__, "repr": "too large"}
    if isinstance(v, np.ndarray):
        if v.size > MAX_VALUES:
            return {"t": "too_many", "n": int(v.size)}
        if v.dtype.kind not in "iuf":
            return {"t": "other", "type": "ndarray of " + str(v.dtype), "repr": ""}
        return {"t": "arr", "shape": list(v.shape), "dtype": str(v.dtype),
                "v": np.asarray(v, dtype=np.float64).ravel().tolist()}
    if isinstance(v, (list, tuple)):
        if len(v) > MAX_ITEMS:
            return {"t": "too_many", "n": len(v)}
        if depth >= MAX_DEPTH:
            return {"t": "other", "type": "nested " + type(v).__name__, "repr": ""}
        return {"t": "seq", "type": type(v).__name__,
                "items": [encode(x, depth + 1) for x in v]}
    if v is None:
        return {"t": "none"}
    try:
        text = repr(v)[:60]
    except BaseException:
        text = "?"
    return {"t": "other", "type": type(v).__name__, "repr": text}


def decode(a):
    import numpy as np
    if a["t"] == "num":
        return float(a["v"])
    return np.array(a["v"], dtype=np.float64).reshape(a["shape"])


def describe_error(exc):
    """One line: the exception and where in the student's code it was raised."""
    if isinstance(exc, SystemExit):
        text = "called sys.exit(%s)" % ("" if exc.code is None else repr(exc.code))
    else:
        text = "%s: %s" % (type(exc).__name__, str(exc)[:300])
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename in _code_names:
            where = "%s, line %d" % (_code_names[frame.filename], frame.lineno)
    return {"error": text, "where": where}


# ---- loading ---------------------------------------------------------------

def load_module(path, name):
    module = types.ModuleType(name)
    module.__file__ = os.path.abspath(path)
    sys.modules[name] = module
    _code_names[module.__file__] = os.path.basename(path)
    warnings = []
    try:
        with open(path, encoding="utf-8-sig") as f:
            code = compile(f.read(), module.__file__, "exec")
        exec(code, module.__dict__)
    except BaseException as exc:  # SystemExit too: keep what was defined
        err = describe_error(exc)
        if isinstance(exc, SyntaxError):
            err["where"] = "%s, line %s" % (os.path.basename(path), exc.lineno)
        warnings.append(dict(err, stage="load"))
    return module.__dict__, warnings


def load_notebook(cells):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.text import SList

    shell = InteractiveShell.instance(colors="nocolor")
    warnings = []
    state = {"cell": 0}

    def skip_shell(cmd, *args, **kwargs):
        warnings.append({"stage": "load", "where": "cell %d" % state["cell"],
                         "error": "shell command `!%s` was skipped: shell commands "
                                  "do not run during grading" % cmd.strip()[:80]})
        return SList()

    shell.system = skip_shell
    shell.getoutput = skip_shell
    # Plots are not graded; do not require matplotlib for `%matplotlib inline`.
    shell.register_magic_function(lambda line: None, "line", "matplotlib")

    for number, source in cells:
        state["cell"] = number
        shell.execution_count = number
        result = shell.run_cell(source, store_history=True)
        for filename, count in shell.compile._filename_map.items():
            _code_names.setdefault(filename, "cell %d" % count)
        exc = result.error_before_exec or result.error_in_exec
        if exc is not None:
            err = describe_error(exc)
            if not err["where"]:
                err["where"] = "cell %d" % number
            warnings.append(dict(err, stage="load"))
    return shell.user_ns, warnings


# ---- serving one check -----------------------------------------------------

def serve(namespace, limit_check):
    limit_check()
    send({"ok": True, "pid": os.getpid()})
    while True:
        msg = recv()
        if msg is None or msg.get("op") == "end":
            _flush()
            os._exit(0)
        try:
            send(dict(handle(namespace, msg), ok=True))
        except BaseException as exc:
            send(dict(describe_error(exc), ok=False))


def handle(namespace, msg):
    import numpy as np
    if msg["op"] == "new":
        name = msg["cls"]
        if name not in namespace:
            return {"missing": True}
        obj = namespace[name]()
        _objects[len(_objects) + 1] = obj
        return {"id": len(_objects)}
    if msg["op"] == "call":
        args = [decode(a) for a in msg["args"]]
        saved = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        value = getattr(_objects[msg["id"]], msg["method"])(*args)
        reply = {"value": encode(value)}
        mutated = [i for i, (a, s) in enumerate(zip(args, saved))
                   if isinstance(a, np.ndarray) and not np.array_equal(a, s)]
        if mutated:
            reply["mutated"] = mutated
        return reply
    raise ValueError("unknown op")


def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass


def main():
    global _in, _out_fd
    _in = open(int(sys.argv[1]), "rb", buffering=0)
    _out_fd = int(sys.argv[2])
    config = recv()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from confine import confine, limit_check, our_fork
    import numpy  # noqa: F401  (imported before limits so they measure the student)
    if config["kind"] == "notebook":
        import IPython.core.interactiveshell  # noqa: F401
    send({"confined": confine(config)})
    sys.path.pop(0)
    sys.modules.pop("confine", None)
    os.chdir(config.get("dir") or ".")
    sys.path.insert(0, os.getcwd())
    if config["kind"] == "notebook":
        namespace, warnings = load_notebook(config["cells"])
    else:
        namespace, warnings = load_module(config["path"], config["name"])
    _flush()
    classes = sorted(k for k, v in list(namespace.items()) if callable(v) and not k.startswith("_"))
    send({"ready": True, "warnings": warnings, "names": classes[:500]})
    while True:
        msg = recv()
        if msg is None or msg.get("op") != "fork":
            os._exit(0)
        pid = our_fork()
        if pid == 0:
            serve(namespace, lambda: limit_check(config["limits"], config.get("isolation", {})))
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            send({"ended": True, "signal": os.WTERMSIG(status)})
        else:
            send({"ended": True, "code": os.WEXITSTATUS(status)})


if __name__ == "__main__":
    main()
