"""Reference answers recorded at release, replayed in a student kit.

A student kit holds no reference code. `bpgrade release` runs each visible
rubric item once, at the kit's fixed seed, against the real reference through a
`recorder` (a subclass of the reference gate class that notes every call and its
answer), including the calls the named-mistake diagnosis makes on its mistake
variants. The kit's rubric names stand-ins (`stand_ins`) that answer the same
calls from that table, so the same checks, messages and named mistakes work
offline.

A table is a tree of call histories: an instance starts at the root, and each
call (method, arguments, and the float values the instance keeps, which the
grader may nudge by an ulp) leads to the answer and to the node of the next
call. A call that was not recorded raises `ReplayMiss`: the grader reports that
it could not judge (never a wrong answer); the named-mistake diagnosis treats
it as a suspect that explains nothing.

Values are stored exactly (dtype, shape and bytes), so replayed answers are
bit for bit the reference's.
"""
from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np

FORMAT = 1
TABLE_FILE = "recorded.json.gz"


class ReplayMiss(Exception):
    """A reference call the kit has no recorded answer for."""

    count = 0  # misses so far in this process

    def __init__(self, message: str) -> None:
        super().__init__(message)
        ReplayMiss.count += 1


class RecordedError(Exception):
    """The reference raised this when the call was recorded."""


# ---------------------------------------------------------------- encoding

def enc(value: object) -> str:
    """A number or array, exactly: 'dtype|shape|hex bytes'; a rubric's plain value
    (bn_param) as 'json|' and its JSON."""
    if isinstance(value, dict):
        return "json|" + json.dumps(value, sort_keys=True)
    a = np.asarray(value)
    if a.dtype.kind not in "fiub":
        raise TypeError("cannot record a %s" % type(value).__name__)
    return "%s|%s|%s" % (a.dtype.str, ",".join(map(str, a.shape)), a.tobytes().hex())


def dec(text: str) -> object:
    if text.startswith("json|"):
        return json.loads(text[5:])
    dtype, shape, data = text.split("|")
    dims = tuple(int(d) for d in shape.split(",") if d)
    a = np.frombuffer(bytes.fromhex(data), dtype=np.dtype(dtype)).reshape(dims).copy()
    return a[()] if a.ndim == 0 else a


def enc_answer(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, tuple):
        return ["T"] + [enc_answer(v) for v in value]
    if isinstance(value, list):
        return ["L"] + [enc_answer(v) for v in value]
    return enc(value)


def dec_answer(data: object) -> object:
    if data is None:
        return None
    if isinstance(data, list):
        items = [dec_answer(v) for v in data[1:]]
        return tuple(items) if data[0] == "T" else items
    return dec(data)


def float_state(obj: object) -> dict:
    """The float numbers and arrays an instance keeps (what the grader may nudge)."""
    kept = getattr(obj, "__dict__", {})
    return {k: enc(v) for k, v in sorted(kept.items())
            if isinstance(v, (np.ndarray, np.floating)) and v.dtype.kind == "f"}


def call_key(method: str, args: tuple, state: dict) -> str:
    key = "%s(%s)" % (method, ",".join(enc(a) for a in args))
    if state:
        key += "#" + hashlib.sha1(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]
    return key


def new_table() -> dict:
    return {"init": None, "root": {}, "kink": {}}


# ---------------------------------------------------------------- recording (at release)

def recorder(cls: type, table: dict, scalar: bool = True, refuse_stacked: bool = False,
             mistakes: dict | None = None, kink: bool = True) -> type:
    """A subclass of reference class `cls` that records each call into `table`.

    `refuse_stacked`: for a gate of plain numbers, calls on arrays (the grader's
    stacked evaluation of many trials at once) raise instead, so the grader falls
    back to one trial at a time and those calls are recorded too. `mistakes`:
    the recording classes to give as the class's declared mistakes."""

    def __init__(self):
        cls.__init__(self)
        state = float_state(self)
        if table["init"] is None:
            table["init"] = state

    def call(self, method, args):
        real = getattr(cls, method)
        if self.__dict__.get("_bpk_busy"):  # the reference calling its own methods
            return real(self, *args)
        if refuse_stacked and scalar and any(np.ndim(a) for a in args):
            raise ReplayMiss("stacked trials are recorded one by one")
        node = self.__dict__.get("_bpk_node", table["root"])
        key = call_key(method, args, float_state(self))
        self._bpk_busy = True
        error = None
        try:
            out = real(self, *args)
        except Exception as exc:  # noqa: BLE001  (recorded: the grader sees the same)
            error, out = exc, None
        finally:
            self._bpk_busy = False
        try:
            answer = enc_answer(out) if error is None else {"raise": "%s: %s" % (type(error).__name__, error)}
        except TypeError:
            answer = {"miss": "an answer that cannot be recorded"}
        entry = node.setdefault(key, [answer, float_state(self), {}])
        self._bpk_node = entry[2]
        if error is not None:
            raise error
        return out

    body = {"__init__": __init__,
            "forward": lambda self, *a: call(self, "forward", a),
            "backward": lambda self, *a: call(self, "backward", a),
            "__module__": __name__, "__qualname__": cls.__name__}
    if mistakes is not None:
        body["mistakes"] = mistakes
    real_kink = getattr(cls, "kink", None)
    if kink and callable(real_kink):
        def kink_call(*inputs):
            result = bool(real_kink(*inputs))
            table["kink"][",".join(enc(x) for x in inputs)] = result
            return result
        body["kink"] = staticmethod(kink_call)
    return type(cls.__name__, (cls,), body)


# ---------------------------------------------------------------- replaying (in the kit)

def replayer(name: str, table: dict, label: str, mistakes: dict | None = None,
             kink: bool = False) -> type:
    """A gate class named `name` answering from `table` (see the module docstring)."""

    def __init__(self):
        for k, v in (table.get("init") or {}).items():
            setattr(self, k, dec(v))
        self._bpk_node = table["root"]

    def call(self, method, args):
        node = self.__dict__.get("_bpk_node")
        try:
            key = call_key(method, args, float_state(self))
        except TypeError:
            key = None
        entry = None if node is None or key is None else node.get(key)
        if entry is None:
            self._bpk_node = None
            raise ReplayMiss("%s.%s: no recorded answer for this call in the kit (%s); the kit's "
                             "checks are recorded at its own inputs" % (label, method, MISS_HINT))
        answer, after, child = entry
        for k in [k for k in float_state(self) if k not in after]:
            delattr(self, k)
        for k, v in after.items():
            setattr(self, k, dec(v))
        self._bpk_node = child
        if isinstance(answer, dict):
            if "raise" in answer:
                raise RecordedError(answer["raise"])
            raise ReplayMiss("%s.%s: %s" % (label, method, answer.get("miss", "not recorded")))
        return dec_answer(answer)

    body = {"__init__": __init__,
            "forward": lambda self, *a: call(self, "forward", a),
            "backward": lambda self, *a: call(self, "backward", a),
            "__module__": __name__, "__qualname__": name}
    if mistakes is not None:
        body["mistakes"] = mistakes
    if kink:
        def kink_call(*inputs):
            key = ",".join(enc(x) for x in inputs)
            if key not in table["kink"]:
                raise ReplayMiss("%s.kink: no recorded answer (%s)" % (label, MISS_HINT))
            return table["kink"][key]
        body["kink"] = staticmethod(kink_call)
    return type(name, (), body)


MISS_HINT = "run the check without --seed, as the kit gives it"
_loaded = {}


def read_tables(path: Path) -> dict:
    path = Path(path)
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    if key not in _loaded:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            data = json.load(f)
        if data.get("format") != FORMAT:
            raise ValueError("%s: recorded with another kit format (%r)" % (path, data.get("format")))
        _loaded[key] = data
    return _loaded[key]


def write_tables(path: Path, gates: dict, tables: dict) -> None:
    data = {"format": FORMAT, "gates": gates, "tables": tables}
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write(json.dumps(data, separators=(",", ":"), sort_keys=True).encode("utf-8"))


def unknown_is_not_wrong() -> None:
    """In a process that grades with a kit: when the correct gate cannot be replayed on
    a gate's calls (in a graph check, a gate's inputs come from the student's other
    gates, at values nobody recorded), the diagnosis cannot tell whether that gate is
    wrong, so it is not taken as wrong: no mistake is named for it from answers the
    kit cannot judge. Installed once, by `stand_ins`."""
    from backprop_grader.judge import mistakes
    original = mistakes.replays
    if getattr(original, "kit_aware", False):
        return

    def replays(rubric, log, target, suspect, read=None):
        before = ReplayMiss.count
        found = original(rubric, log, target, suspect, read)
        if not found and suspect is mistakes.Suspect and ReplayMiss.count > before:
            return True
        return found
    replays.kit_aware = True
    mistakes.replays = replays


def stand_ins(loader_file: str) -> dict:
    """{gate name: replaying class} from the recorded table beside `loader_file`
    (the kit's answers.py, which the kit's rubric names as each gate's reference)."""
    data = read_tables(Path(loader_file).with_name(TABLE_FILE))
    unknown_is_not_wrong()
    tables, out = data["tables"], {}
    for gate, spec in data["gates"].items():
        mistakes = None
        if spec.get("mistakes") is not None:
            mistakes = {mid: (sentence, [replayer(spec["class"], tables[t], "%s (%s)" % (gate, mid))
                                         for t in names])
                        for mid, (sentence, names) in spec["mistakes"].items()}
        out[gate] = replayer(spec["class"], tables[spec["table"]], gate, mistakes, spec.get("kink", False))
    return out
