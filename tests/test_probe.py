"""The wire between the sandbox and the grader (grader/sandbox/child/child.py: encode;
grader/sandbox/child/wire.py: the lines; grader/judge/probe.py: numbers, number): how answers
travel, and how the grader reads anything that arrives, as a hostile child might
send it."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from backprop_grader.judge.probe import Wrong, numbers, number
from backprop_grader.sandbox.child import wire as lines

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "grader" / "sandbox" / "child"))
import child  # noqa: E402

NAMES = ["dx", "dy"]


def wire(value):
    """What the grader receives for a student's answer."""
    child._s.budget = 0
    return lines.loads(lines.dumps(child.encode(value)))


def same(a, b):
    """Equal values of the same types, NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and a != a:
        return b != b
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


@pytest.mark.parametrize("value", [
    {"values": [1.5, -2.25e-300, 1e308, 0.1], "ok": True, "n": 3},
    {"values": [float("nan"), 1.0]}, {"v": [float("inf"), float("-inf")]},
    {"t": "none", "where": None}, {"error": "caf\u00e9 \u2028 \ud800 lone surrogate"},
    {"big": 2 ** 63 - 1, "neg": -2 ** 63}, {"nested": [[[[1.0]]]], "s": "null"}, [], {},
])
def test_lines_read_back_as_the_json_module_would(value):
    line = lines.dumps(value)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert same(lines.loads(line), json.loads(json.dumps(value)))


def test_a_students_nan_and_infinities_travel_as_such():
    assert np.isnan(wire(np.float64("nan")))
    assert wire([np.inf, -np.inf]) == [np.inf, -np.inf]
    raw = wire(np.array([1.0, np.nan]))
    assert raw["t"] == "arr" and np.isnan(raw["v"][1])


@pytest.mark.parametrize("line", [b"NaN", b"[1, NaN]", b"{\"a\": Infinity}", b"\"\\ud800\""])
def test_what_only_the_json_module_reads_is_still_read(line):
    assert same(lines.loads(line), json.loads(line))


@pytest.mark.parametrize("line", [b"", b"{", b"[1,]", b"nul", b"\xff"])
def test_lines_that_are_not_json_are_value_errors(line):
    with pytest.raises(ValueError):
        lines.loads(line)


def test_a_list_of_float64s_goes_as_a_bare_list():
    assert wire([1.5, np.float64(-2.0)]) == [1.5, -2.0]
    assert numbers(wire([1.5, np.float64(-2.0)]), [(), ()], NAMES) == [1.5, -2.0]


@pytest.mark.parametrize("answer, kind", [((1.5, 2.0), "tuple"), ([1.5, np.float32(2.0)], "list"),
                                          ([1, 2], "list")])
def test_other_sequences_say_what_they_are(answer, kind):
    raw = wire(answer)
    assert raw["t"] == "seq" and raw["type"] == kind
    assert numbers(raw, [(), ()], NAMES) == [float(v) for v in answer]


@pytest.mark.parametrize("raw, message", [
    ([1.5], "MultiplyGate.backward returned 1 values; it should return 2: [dx, dy]"),
    ([1.5, "x"], "dy is something unreadable, not a number"),
    ([1.5, {"t": "num", "v": "abc"}], "dy could not be read as numbers"),
    ([float("nan"), 1.0], "dx is NaN; it must be a finite number"),
    ([1.5, [2.0]], "dy is a list of 1 values, not a number"),
])
def test_a_bare_list_is_still_read_item_by_item(raw, message):
    gate = type("Gate", (), {"cls": "MultiplyGate", "float32": False})()
    with pytest.raises(Wrong) as err:
        numbers(lines.loads(lines.dumps(raw)), [(), ()], NAMES, gate)
    assert err.value.message == message


def test_a_forward_that_returns_a_list_is_not_a_number():
    with pytest.raises(Wrong, match=r"^output is a list of 1 values, not a number$"):
        number(wire([3.0]), (), "output")
