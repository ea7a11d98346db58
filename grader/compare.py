"""Tolerant comparison of a student's numbers with the reference's.

|got - want| <= atol * max(1, max|want|) + rtol * |want| + 4 * |want - want32|

The last term is the reference's own float32 round-off on the same inputs,
so correct code computing in float32 passes without loosening anything else.
"""
import numpy as np


def allowed(want, want32, tol):
    scale = max(1.0, max((float(np.max(np.abs(w))) for w in want if np.size(w)), default=1.0))
    return [tol["atol"] * scale + tol["rtol"] * np.abs(w) + 4 * np.abs(w - w32)
            for w, w32 in zip(want, want32)]


def close(got, want, want32, tol):
    """True when every value in `got` is within tolerance of `want`."""
    return all(np.all(np.abs(g - w) <= a)
               for g, w, a in zip(got, want, allowed(want, want32, tol)))
