"""The sandbox's wire format: one JSON object per line, both ways.

Standalone: the child imports it by path, like confine.py. orjson reads and
writes several times faster than the json module, but writes NaN and the
infinities as null. So when null appears (a student's NaN, or a real None)
the json module writes the line instead, and reading falls back to the json
module for what orjson refuses (NaN, Infinity, lone surrogates, integers
beyond 64 bits). Either way, the reader gets what the json module alone
would give, or ValueError (for nesting too deep to parse, too).

`plain` is the parent's gate for what it reads: only the types the protocol
uses, nested and sized within bounds. Student code can write any bytes to
the reply pipe, so nothing else of the parent touches a reply before it.
"""
from __future__ import annotations

import json
import re

import orjson

MAX_DEPTH = 16  # nesting of lists and objects (an answer nests ~13 deep at most)
MAX_NODES = 500_000  # list items and object values in one line (answers: <= 300,000 numbers)
MAX_STR = 4096  # characters in one string
SAFE_INT = 2 ** 53  # integers a float holds exactly
_SURROGATE = re.compile("[\ud800-\udfff]")  # unwritable as UTF-8 (results.json)


def dumps(obj: object) -> bytes:
    """`obj` as one line of bytes."""
    try:
        data = orjson.dumps(obj)
        if b"null" not in data:
            return data + b"\n"
    except TypeError:  # not plain JSON for orjson (orjson.JSONEncodeError is one)
        pass
    return (json.dumps(obj) + "\n").encode()


def loads(line: bytes) -> object:
    """One line read back; ValueError when it is not JSON (or nests too deep)."""
    try:
        return orjson.loads(line)
    except ValueError:  # orjson.JSONDecodeError
        pass
    try:
        return json.loads(line)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def plain(obj: object) -> bool:
    """True when `obj` holds only what the protocol sends: str (short, valid
    UTF-8), float, int (within SAFE_INT), bool, None, list and dict (string
    keys), at most MAX_DEPTH deep and MAX_NODES items in all. Iterative: any
    shape of input costs time in proportion to its size, and no recursion."""
    nodes, stack = 0, [(obj, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        value, depth = pop()
        kind = type(value)
        if kind is list or kind is dict:
            nodes += len(value)
            if depth > MAX_DEPTH or nodes > MAX_NODES:
                return False
            if kind is dict:
                for key in value:
                    if type(key) is not str or not _short(key):
                        return False
                value = value.values()
            depth += 1
            for item in value:  # a loop, not a generator: most items are floats
                if type(item) is not float:
                    push((item, depth))
        elif kind is str:
            if not _short(value):
                return False
        elif kind is int:
            if not -SAFE_INT <= value <= SAFE_INT:
                return False
        elif not (kind is float or kind is bool or value is None):
            return False
    return True


def _short(text):
    return len(text) <= MAX_STR and (text.isascii() or not _SURROGATE.search(text))
