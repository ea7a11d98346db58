"""The wire between the sandbox and the grader (grader/sandbox/child.py: encode;
grader/probe.py: numbers, number): how answers travel, and how the grader reads
anything that arrives, as a hostile child might send it."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from grader.probe import Wrong, numbers, number

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "grader" / "sandbox"))
import child  # noqa: E402

NAMES = ["dx", "dy"]


def wire(value):
    """What the grader receives for a student's answer."""
    child._budget[0] = 0
    return json.loads(json.dumps(child.encode(value)))


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
        numbers(json.loads(json.dumps(raw)), [(), ()], NAMES, gate)
    assert err.value.message == message


def test_a_forward_that_returns_a_list_is_not_a_number():
    with pytest.raises(Wrong, match=r"^output is a list of 1 values, not a number$"):
        number(wire([3.0]), (), "output")
