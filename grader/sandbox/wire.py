"""The sandbox's wire format: one JSON object per line, both ways.

Standalone: the child imports it by path, like confine.py. orjson reads and
writes several times faster than the json module, but writes NaN and the
infinities as null. So when null appears (a student's NaN, or a real None)
the json module writes the line instead, and reading falls back to the json
module for what orjson refuses (NaN, Infinity, lone surrogates). Either way,
the reader gets what the json module alone would give, except that integers
beyond 64 bits come back as floats (only a forged line has them: answers travel
as floats, and the parent checks the type of everything it reads).
"""
import json

import orjson


def dumps(obj):
    """`obj` as one line of bytes."""
    try:
        data = orjson.dumps(obj)
        if b"null" not in data:
            return data + b"\n"
    except TypeError:  # not plain JSON for orjson (orjson.JSONEncodeError is one)
        pass
    return (json.dumps(obj) + "\n").encode()


def loads(line):
    """One line read back; ValueError when it is not JSON."""
    try:
        return orjson.loads(line)
    except ValueError:  # orjson.JSONDecodeError
        return json.loads(line)
