"""Reference gates: the ground truth the grader compares student gates with.

Loaded only by the trusted grader process, never by student code.
"""
from .gates import AddGate, MultiplyGate

__all__ = ["AddGate", "MultiplyGate"]
