"""Reference gates: the ground truth the grader compares student gates with.

Loaded only by the trusted grader process, never by student code.
"""
from .gates import (AddGate, BiasAddGate, CopyGate, ExpGate, MatMulGate, MaxGate,
                    MaxGateSplitTies, MultiplyGate, SigmoidGate)

__all__ = ["AddGate", "BiasAddGate", "CopyGate", "ExpGate", "MatMulGate", "MaxGate",
           "MaxGateSplitTies", "MultiplyGate", "SigmoidGate"]
