"""The untrusted side: runs student code and answers in plain numbers.

Started as `python -I child.py IN_FD OUT_FD`. It imports nothing from the
grader or the reference. The parent treats every byte it sends as untrusted.

Protocol: one JSON object per line (wire.py). The first message from the parent is the
config; this process confines itself, loads the submission and reports. Then
it serves the checks' "calls" requests; the first of a check says "check": true
(a fresh CPU budget, no old objects). While a batch of calls runs, the
number of calls done is kept in a page shared with the parent (or, without
one, sent as progress lines), so the parent can time each call and name it.
If this process dies, the parent loads the submission again in a new one.
"""
import ast
import json
import os
import re
import sys
import traceback
import types

import numpy as np  # before any limit, so that limits measure the student

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the two standalone helpers:
import confine  # noqa: E402,F401  (imported from sys.modules by run and fork_server)
from wire import dumps, loads  # noqa: E402
sys.path.pop(0)
sys.modules.pop("wire")  # a student's own wire.py must still import (run drops confine)

MAX_VALUES = 100_000  # numbers in one answer
MAX_BATCH = 300_000  # numbers in all the answers to one request (~6 MB of JSON)
MAX_ITEMS = 64  # items in one list or tuple
MAX_DEPTH = 4


class TooLarge(Exception):
    """An answer past MAX_BATCH numbers: never encoded whole."""


class _State:
    """Everything this process keeps between requests, in one place."""

    def __init__(self):
        self.fd_in = self.fd_out = None  # the pipes from and to the grader
        self.pending = b""  # bytes read but not yet handled
        self.seq = None  # the number of the request being answered
        self.done = None  # the shared page's counter of calls done, when there is one
        self.budget = 0  # numbers encoded for the current request
        self.objects = {}  # gate id -> the student's instance, for the current check
        self.code_names = {}  # compiled filename -> "cell N" or file name
        self.cell = 0  # the notebook cell being run
        self.warnings = []  # what loading the notebook reported


_s = _State()




def send(obj):
    if _s.seq is not None and "n" not in obj:
        obj = dict(obj, n=_s.seq)
    data = dumps(obj)
    while data:
        data = data[os.write(_s.fd_out, data):]


def recv():
    while b"\n" not in _s.pending:
        chunk = os.read(_s.fd_in, 1 << 16)
        if not chunk:
            return None
        _s.pending += chunk
    line, _s.pending = _s.pending.split(b"\n", 1)
    msg = loads(line)
    _s.seq = msg.get("n")
    return msg


# ---- plain numbers out ---------------------------------------------------

def encode(v, depth=0):
    """Describe a student's value as plain JSON: numbers, shapes, type names.
    A float64 number goes bare, and so does a list of them; other numbers say
    their dtype."""
    if type(v) is float or type(v) is np.float64:
        _spend(1)
        return float(v)
    if isinstance(v, (bool, np.bool_)):
        return {"t": "other", "type": "bool", "repr": repr(bool(v))}
    if isinstance(v, (int, float, np.integer, np.floating)):
        dtype = getattr(v, "dtype", None)
        dtype = str(dtype) if dtype is not None else type(v).__name__
        _spend(1)
        try:
            return {"t": "num", "v": float(v), "dtype": dtype}
        except (OverflowError, ValueError, TypeError):
            return {"t": "other", "type": type(v).__name__, "repr": "too large"}
    if isinstance(v, np.ndarray):
        if v.size > MAX_VALUES:
            return {"t": "too_many", "n": int(v.size)}
        if v.dtype.kind not in "iuf":
            return {"t": "other", "type": "ndarray of " + str(v.dtype), "repr": ""}
        _spend(v.size)
        return {"t": "arr", "shape": list(v.shape), "dtype": str(v.dtype),
                "v": np.asarray(v, dtype=np.float64).ravel().tolist()}
    if isinstance(v, (list, tuple)):
        if len(v) > MAX_ITEMS:
            return {"t": "too_many", "n": len(v)}
        if depth >= MAX_DEPTH:
            return {"t": "other", "type": "nested " + type(v).__name__, "repr": ""}
        items = [encode(x, depth + 1) for x in v]
        if type(v) is list and all(type(x) is float for x in items):
            return items  # the common answer, [dx, dy] of float64s: a bare list
        return {"t": "seq", "type": type(v).__name__, "items": items}
    if v is None:
        return {"t": "none"}
    try:
        text = repr(v)[:60]
    except BaseException:
        text = "(whose repr() fails)"
    return {"t": "other", "type": type(v).__name__, "repr": text}


def _spend(n):
    _s.budget += n
    if _s.budget > MAX_BATCH:
        raise TooLarge()


def decode(a):
    if not isinstance(a, dict):
        return float(a)
    if a.get("t") == "obj":  # a rubric's plain value (bn_param): fresh at every call
        return a["v"]
    dtype = np.int64 if a.get("t") == "int" else np.float64  # integer labels
    return np.array(a["v"], dtype=dtype).reshape(a["shape"])


def place(name, line=None):
    """Where in the student's code, as fields: [cell, file, line] ("cell 3" names a cell)."""
    if name.startswith("cell ") and name[5:].isdigit():
        return [int(name[5:]), None, line]
    return [None, name, line]


def describe_error(exc):
    """The exception (its one-line message and its type) and where in the
    student's code it was raised, as separate fields."""
    where = None
    if isinstance(exc, SyntaxError):
        name = _s.code_names.get(exc.filename, os.path.basename(str(exc.filename)))
        return {"error": "%s: %s" % (type(exc).__name__, exc.msg), "exception": type(exc).__name__,
                "place": place(name, exc.lineno if isinstance(exc.lineno, int) else None)}
    if isinstance(exc, SystemExit):
        text = "called sys.exit(%s)" % ("" if exc.code is None else repr(exc.code))
    elif isinstance(exc, NotImplementedError) and not str(exc):
        text = "NotImplementedError (not implemented yet)"
    else:
        detail = str(exc)[:300]
        text = "%s: %s" % (type(exc).__name__, detail) if detail else type(exc).__name__
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename in _s.code_names:
            where = place(_s.code_names[frame.filename], frame.lineno)
    return {"error": text, "exception": type(exc).__name__, "place": where}


# ---- loading ---------------------------------------------------------------

KIT_CHECK = "backprop_grader.kit.notebook"  # the kit's self-check, a released notebook's last cell


def kit_stand_in():
    """The kit's self-check cell (`from backprop_grader.kit.notebook import check;
    check()`, or `%load_ext` it and `%bpgrade_check`) does nothing while the grader
    grades: stand-in modules that hold nothing of the grader (which is not
    readable here), so a submitted notebook that kept the cell gets no error."""
    def load_ipython_extension(shell):
        shell.register_magic_function(lambda line="": None, "line", "bpgrade_check")
    parent = None
    for name in ("backprop_grader", "backprop_grader.kit", KIT_CHECK):
        module = sys.modules.setdefault(name, types.ModuleType(name))
        module.__path__ = []  # a package: its submodule imports
        if parent is not None:
            setattr(parent, name.rpartition(".")[2], module)
        parent = module
    parent.check = lambda *args, **kwargs: None
    parent.load_ipython_extension = load_ipython_extension

def load_module(path, name):
    module = types.ModuleType(name)
    module.__file__ = os.path.abspath(path)
    sys.modules[name] = module
    _s.code_names[module.__file__] = os.path.basename(path)
    warnings = []
    try:
        with open(path, encoding="utf-8-sig") as f:
            code = compile(f.read(), module.__file__, "exec")
        exec(code, module.__dict__)
    except BaseException as exc:  # SystemExit too: keep what was defined
        warnings.append(dict(describe_error(exc), stage="load"))
    return module.__dict__, warnings




def make_shell():
    """IPython's shell as grading needs it: no history file, programs not run,
    %matplotlib a no-op (plots are not graded), %timeit run once."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.text import SList
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(colors="nocolor", config=config)

    def skip_shell(shown):
        _s.warnings.append({
            "stage": "load", "place": [_s.cell, None, None],
            "error": "shell command `%s` was skipped: running programs is not allowed during "
                     "grading" % shown.strip()[:80]})
        return SList()

    shell.system = shell.getoutput = lambda cmd, *args, **kwargs: skip_shell("!" + cmd)
    for name in ("bash", "sh", "script", "perl", "ruby", "python2", "python3", "pypy", "sx",
                 "system"):
        shell.register_magic_function(
            lambda line, cell=None, _name=name: skip_shell(
                ("%%%%%s %s" if cell is not None else "%%%s %s") % (_name, line)),
            "line_cell", name)
    shell.register_magic_function(lambda line: None, "line", "matplotlib")
    timeit = shell.find_magic("timeit").__self__

    def run_once(line, cell=None):
        """%timeit runs its statement once: timing it would take seconds per line."""
        _, stmt = timeit.parse_options(line, "n:r:tcp:qo", posix=False, strict=False)
        if cell is not None:
            shell.ex(stmt)  # the setup line
            stmt = cell
        shell.ex(stmt)
    shell.register_magic_function(run_once, "line_cell", "timeit")
    skip_token_transforms(shell.input_transformer_manager)
    # IPython 9 formats every error a second time, for a history grading never reads
    # (it is off): 2-6 ms of a cell that raises. Keep the error's name and message.
    shell._format_exception_for_storage = lambda exc, *args, **kwargs: {
        "ename": type(exc).__name__, "evalue": str(exc), "traceback": []}
    return shell


def skip_token_transforms(manager):
    """IPython tokenizes every cell (half the time of running one) to find its
    token-level syntax; skip that where it would find none. Everything else in
    IPython's transform (prompts, indentation, cell magics, automagic) still runs."""
    tokens = manager.do_token_transforms
    manager.do_token_transforms = lambda lines: lines if plain_python("".join(lines)) else tokens(lines)


# What IPython's token transforms act on: escapes (%magic, !cmd, ?help, ,;/ autocall)
# at a line's start, help (?) at its end, x = %magic / !cmd. Each is a syntax error in
# Python, so a cell that parses has them only inside strings and comments.
_TOKEN_SYNTAX = re.compile(r"^[^\S\n]*[%!?,;/]|\?[^\S\n]*$|=[^\S\n]*[%!]", re.M)


def plain_python(text):
    """True when IPython's token transforms would leave `text` (a cell after its
    cleanup transforms) as it is: none of their syntax, or the cell parses."""
    if not _TOKEN_SYNTAX.search(text):
        return True
    try:
        compile(text, "<cell>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except Exception:  # a syntax error, or too deeply nested to parse
        return False
    return True


def warm_shell():
    """In the fork server: run IPython's lazy imports (display, magics, tracebacks)
    once, then clear the namespace, so each loader starts warm and clean."""
    shell = make_shell()
    for source in ("1 + 1", "%%time\nx = 1", "def f(:", "1 / 0", "print(x)", "%timeit -n1 1"):
        shell.run_cell(source, store_history=True)
    shell.reset(new_session=False)
    _s.warnings.clear()
    _s.code_names.clear()


def load_notebook(cells):
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell._instance or make_shell()
    warnings = _s.warnings = []
    for number, source in cells:
        _s.cell = number
        shell.execution_count = number
        result = shell.run_cell(source, store_history=True)
        for filename, count in shell.compile._filename_map.items():
            _s.code_names.setdefault(filename, "cell %d" % count)
        exc = result.error_before_exec or result.error_in_exec
        if isinstance(exc, SyntaxError) and exc.filename not in _s.code_names:
            exc.filename = "cell %d" % number
            _s.code_names[exc.filename] = exc.filename
        if exc is not None:
            err = describe_error(exc)
            if not err["place"]:
                err["place"] = [number, None, None]
            warnings.append(dict(err, stage="load"))
    return shell.user_ns, warnings


# ---- serving checks ---------------------------------------------------------

def serve(namespace, new_check):
    """Answer the checks' requests until the parent ends or kills this process."""
    while True:
        msg = recv()
        if msg is None or msg.get("op") == "end":
            _flush()
            os._exit(0)
        if msg.get("check"):  # the first request of a check
            _s.objects.clear()
            new_check()
        try:
            reply = handle(namespace, msg)
            send(dict(reply, ok=not {"failed", "failed_new", "missing"} & set(reply)))
        except BaseException as exc:
            send(dict(describe_error(exc), ok=False))


def handle(namespace, msg):
    if msg["op"] == "calls":  # make the new gates, then the calls; count each step done
        new = msg.get("new", [])[:10000]
        _s.budget = 0
        for i, (obj, name, *how) in enumerate(new):
            if name not in namespace:
                return {"missing": i}
            try:
                _s.objects[obj] = _adapted(namespace, name, how[0]) if how else namespace[name]()
            except BaseException as exc:
                return dict(describe_error(exc), failed_new=i)
            _step_done(i + 1)
        with np.errstate(**_STRICT if msg.get("strict") else {}):
            return answer_each(msg["calls"], lambda c: call(*c), len(new) + 1)
    if msg["op"] == "engine":
        return engine(namespace, msg)
    raise ValueError("unknown op")


_STRICT = {"over": "raise", "divide": "raise", "invalid": "raise"}  # a stability check's calls


def answer_each(items, answer, first_step):
    """`answer` each item in turn, counting step first_step + i as done; the first
    exception stops the batch and is reported with the values so far."""
    values = []
    for i, item in enumerate(items):
        try:
            values.append(answer(item))
        except TooLarge:
            return {"failed": i, "too_large": True, "error": "", "values": values}
        except BaseException as exc:
            return dict(describe_error(exc), failed=i, values=values)
        _step_done(first_step + i)
    return {"values": values}


def _adapted(namespace, name, how):
    return _Functions(namespace, name, how["backward"]) if "init" not in how else \
        _Made(namespace[name], how["init"], how["forward"], how["backward"])


class _Functions:
    """A pair of the submission's functions behind forward/backward: the cache of
    forward's (out, cache) stays here for backward(*upstream, cache); with no
    backward function, forward returns (out, gradients)."""

    def __init__(self, namespace, forward, backward):
        self._ns, self._f, self._b, self._kept = namespace, forward, backward, None

    def forward(self, *args):
        answer = self._ns[self._f](*args)
        if type(answer) not in (tuple, list) or len(answer) != 2:
            raise TypeError("%s must return a pair (out, %s), not %s" % (
                self._f, "cache" if self._b else "gradients", _what(answer)))
        out, self._kept = answer
        return out

    def backward(self, *upstream):
        if self._b is None:
            return self._kept
        if self._b not in self._ns:
            raise NameError("name %r is not defined" % self._b)
        return self._ns[self._b](*upstream, self._kept)


class _Made:
    """A class whose constructor takes the first `count` arguments of forward
    (Affine(W, b).forward(x)), made again whenever they change; attributes are
    read from the latest instance."""

    def __init__(self, cls, count, forward, backward):
        self._cls, self._count, self._names, self._made, self._with = cls, count, (forward, backward), None, None

    def forward(self, *args):
        init, rest = args[:self._count], args[self._count:]
        if self._with is None or not all(np.array_equal(a, b) for a, b in zip(init, self._with)):
            self._made = None
            self._with = [np.copy(a) for a in init]
            self._made = self._cls(*init)
        return getattr(self._made, self._names[0])(*rest)

    def backward(self, *upstream):
        if self._made is None:
            raise RuntimeError("backward was called before forward")
        return getattr(self._made, self._names[1])(*upstream)

    def __getattr__(self, name):
        return getattr(self.__dict__["_made"], name)


def _what(v):
    return "a %s of %d" % (type(v).__name__, len(v)) if isinstance(v, (tuple, list)) else type(v).__name__


# ---- a scalar autograd engine (the engine check) ------------------------------

ENGINE_OPS = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
              "div": lambda a, b: a / b, "pow": lambda a, n: a ** n, "neg": lambda a: -a,
              "tanh": lambda a: a.tanh(), "relu": lambda a: a.relu(), "exp": lambda a: a.exp()}


def engine(namespace, msg):
    """Build each trial's graph with the submission's Value class (node indices
    are ints, plain numbers floats), call backward() on each round's last node,
    and answer every node's data, then every node's grad, as plain numbers. The
    class counts as step 1, trial k as step k + 1."""
    name = msg["cls"]
    _s.budget = 0
    if name not in namespace:
        return {"missing": 0}
    cls = namespace[name]
    _step_done(1)

    def answer(trial):
        nodes = engine_graph(cls, trial)
        return [encode(getattr(v, "data", None)) for v in nodes] + [encode(getattr(v, "grad", None)) for v in nodes]
    return answer_each(msg["trials"], answer, 2)


def engine_graph(cls, trial):
    leaves = [cls(x) for x in trial["leaves"]]
    nodes = list(leaves)
    for r, steps in enumerate(trial["rounds"]):
        if r and trial["zero"]:
            for v in leaves:
                v.grad = 0.0
        here = list(leaves)
        for op, *args in steps:
            args = [here[a] if type(a) is int else a for a in args]
            if op == "pow" and args[1].is_integer():
                args[1] = int(args[1])  # a ** 2, as students write it
            here.append(ENGINE_OPS[op](*args))
        if trial["backward"]:
            here[-1].backward()
        nodes += here[len(leaves):]
    return nodes


def _step_done(count):
    if _s.done is not None:
        _s.done[0] = count
    else:
        send({"progress": count})


def call(obj, method, raw_args, read=None):
    """The method's answer; with `read` (attribute names), the values of those
    attributes after the call instead (None for one that is not there)."""
    for a in raw_args:
        if type(a) is not float:
            break
    else:  # plain numbers only (the common call): nothing to decode or watch
        if read is None:
            return encode(getattr(_s.objects[obj], method)(*raw_args))
    args = [a if type(a) is float else decode(a) for a in raw_args]
    arrays = [(a, a.copy()) for a, raw in zip(args, raw_args)  # kept to spot changes
              if isinstance(a, np.ndarray) and not raw.get("free")]
    answer = getattr(_s.objects[obj], method)(*args)
    if read is not None and type(answer) in (list, tuple) and len(answer) == 1:
        answer = answer[0]  # the one gradient backward returns, as [dx] or (dx,)
    value = encode(answer if read is None else [answer if a is None else getattr(_s.objects[obj], a, None)
                                                for a in read])
    if any(not np.array_equal(a, s) for a, s in arrays):
        value = {"t": "mutated"}
    return value


def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass


# ---- start-up ----------------------------------------------------------------

def run(in_fd, out_fd, progress_fd=None, notebook=False):
    """Confine this process, load the submission, then serve the checks."""
    _s.fd_in, _s.fd_out = in_fd, out_fd
    if progress_fd is not None:
        import mmap
        _s.done = memoryview(mmap.mmap(progress_fd, 8)).cast("q")
        os.close(progress_fd)
    if notebook:  # most likely a notebook: make the shell while the grader gets ready
        make_shell()
    config = recv()
    conf = sys.modules["confine"]
    if config["kind"] == "notebook":  # made before the confinement: IPython makes
        from IPython.core.interactiveshell import InteractiveShell  # its profile
        InteractiveShell._instance or make_shell()  # folder with chmod, then denied
    send({"confined": conf.confine(config)})
    sys.modules.pop("confine", None)
    os.chdir(config.get("dir") or ".")
    os.environ["HOME"] = os.environ["TMPDIR"] = os.getcwd()
    sys.path.insert(0, os.getcwd())
    kit_stand_in()
    if config["kind"] == "notebook":
        namespace, warnings = load_notebook(config["cells"])
    else:
        namespace, warnings = load_module(config["path"], config["name"])
    _flush()
    classes = sorted(k for k, v in list(namespace.items()) if callable(v) and not k.startswith("_"))
    send({"ready": True, "warnings": warnings, "names": classes[:500]})
    serve(namespace, lambda: conf.limit_check(config["limits"]))


def fork_server(sock_fd, seccomp_library=""):
    """Warm fork server: heavy imports once, then one loader per submission.

    Requests arrive on a SEQPACKET socket: {"op": "spawn", "dir": scratch} with
    three or four fds (requests in, replies out, output log, the progress page),
    answered with the loader's pid; {"op": "kill", "pid": n}, answered with its
    wait status; or {"op": "kill", "pid": n, "reply": false}, not answered
    (the loader is reaped later); or {"op": "lower", "pid": n}, not answered:
    the loader's process group and session (autogroup) get the lowest priority.
    """
    import mmap  # noqa: F401  (each loader maps its progress page)
    import signal
    import socket
    from confine import lower_priority, prepare
    prepare(seccomp_library)  # the seccomp filters, built once for every loader
    with open(os.devnull, "w") as quiet:  # the warm-up's own output goes nowhere
        stdout, sys.stdout = sys.stdout, quiet
        try:
            warm_shell()
        finally:
            sys.stdout = stdout
    sock = socket.socket(fileno=sock_fd)
    ended, forget = {}, set()
    while True:
        msg, fds, _, _ = socket.recv_fds(sock, 1 << 16, 4)
        if not msg:
            os._exit(0)
        req = json.loads(msg)
        if req["op"] == "spawn":
            pid = os.fork()
            if pid == 0:
                sock.close()
                os.setsid()
                _die_with_parent()
                os.chdir(req["dir"])
                os.dup2(fds[2], 1)
                os.dup2(fds[2], 2)
                os.close(fds[2])
                run(fds[0], fds[1], fds[3] if len(fds) > 3 else None)
            for fd in fds:
                os.close(fd)
            sock.send(json.dumps({"pid": pid}).encode())
        elif req["op"] == "lower":  # the nice value of its process group and session
            lower_priority(int(req["pid"]))
        elif req["op"] == "kill":
            pid = int(req["pid"])
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
            if req.get("reply") is False:  # reaped below, now or later
                if ended.pop(pid, forget) is forget:
                    forget.add(pid)
            else:
                if pid not in ended:
                    try:
                        ended[pid] = os.waitpid(pid, 0)[1]
                    except ChildProcessError:
                        ended[pid] = None
                sock.send(json.dumps({"status": ended.pop(pid)}).encode())
        while True:  # reap loaders that ended by themselves
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if not pid:
                break
            if pid in forget:
                forget.discard(pid)
            else:
                ended[pid] = status


def _die_with_parent():
    """A loader dies with the fork server that started it (Linux)."""
    import ctypes
    import signal
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main():
    if sys.argv[1] == "--fork-server":
        fork_server(int(sys.argv[2]), *sys.argv[3:4])
    else:
        args = sys.argv[1:]
        run(*[int(a) for a in args if a.isdigit()][:3], notebook="--notebook" in args)


if __name__ == "__main__":
    main()
