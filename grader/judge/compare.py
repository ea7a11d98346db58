"""Tolerant comparison of a student's numbers with the expected ones.

|got - want| <= atol * max(1, max|want|) + rtol * |want| + slack   (per value)

For reference values the slack is 4 * |want - want32|, where want32 is `want`
moved by the round-off correct float32 code may show: the largest difference
between the float64 reference and the float32 reference at the inputs and at
the inputs nudged by 2 ulp, and at least 4 float32 epsilons of the size of the
terms (the reference at |inputs|). So correct float32 code passes without
loosening anything for a wrong answer. For finite differences the slack is
their round-off bound. The dtype a student's answer declares changes nothing:
the allowance comes from the reference alone.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


def round_off_slack(want: ArrayLike, want32: ArrayLike) -> np.ndarray:
    """The slack a value (or a table of them) gets from the reference's round-off."""
    return 4 * np.abs(want - want32)


def reference_slack(want: list, want32: list) -> list[np.ndarray]:
    return [round_off_slack(w, w32) for w, w32 in zip(want, want32)]


def close(got: list, want: list, slack: list, tol: dict[str, float]) -> bool:
    """True when every value in `got` is within tolerance of `want`. Each value
    (an output, one gradient) is scaled by its own size, never by a larger
    neighbour's: f = (x+y)z is huge when x, y, z are, but df/dx is not."""
    for g, w, s in zip(got, want, slack):
        if np.ndim(g) == np.ndim(w) == np.ndim(s) == 0:  # plain numbers: the same, in floats
            g, w, s = float(g), float(w), float(s)
            if not abs(g - w) <= tol["atol"] * max(1.0, abs(w)) + tol["rtol"] * abs(w) + s:
                return False
        elif not np.all(np.abs(g - w) <= tol["atol"] * scale(w) + tol["rtol"] * np.abs(w) + s):
            return False
    return True


def close_rows(got: np.ndarray, want: np.ndarray, slack: np.ndarray, tol: dict[str, float]) -> np.ndarray:
    """`close` for many trials of plain numbers at once: (trials, values) tables
    in, one True or False per trial out (NaN is never close)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.all(np.abs(got - want) <= tol["atol"] * np.maximum(1.0, np.abs(want))
                      + tol["rtol"] * np.abs(want) + slack, axis=1)


def scale(w: ArrayLike) -> float:
    return max(1.0, float(np.max(np.abs(w)))) if np.size(w) else 1.0
