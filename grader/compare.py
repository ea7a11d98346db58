"""Tolerant comparison of a student's numbers with the expected ones.

|got - want| <= atol * max(1, max|want|) + rtol * |want| + slack   (per value)

For reference values the slack is 4 * |want - want32|: the reference's own
float32 round-off on the same inputs, so correct float32 code passes without
loosening anything else. For finite differences it is their round-off bound.
"""
import numpy as np


def reference_slack(want, want32):
    return [4 * np.abs(w - w32) for w, w32 in zip(want, want32)]


def close(got, want, slack, tol):
    """True when every value in `got` is within tolerance of `want`. Each value
    (an output, one gradient) is scaled by its own size, never by a larger
    neighbour's: f = (x+y)z is huge when x, y, z are, but df/dx is not."""
    return all(np.all(np.abs(g - w) <= tol["atol"] * scale(w) + tol["rtol"] * np.abs(w) + s)
               for g, w, s in zip(got, want, slack))


def scale(w):
    return max(1.0, float(np.max(np.abs(w)))) if np.size(w) else 1.0
