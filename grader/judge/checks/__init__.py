"""Check kinds. Each is a small function a rubric item names by `check:`;
what each kind is (its hint, the methods it calls...) is in `judge.check_kinds`."""
from backprop_grader.judge.checks import backward, format, forward, graph, numerical, state  # noqa: F401  (registers)
from backprop_grader.judge.checks import engine  # noqa: F401  (registers)
from backprop_grader.judge.checks import stability  # noqa: F401  (registers)
from backprop_grader.judge.check_kinds import HINTS  # noqa: F401  (templates: check_kinds.hint fills them)
from backprop_grader.judge.checks.base import CHECKS, Context, GraderFault, Outcome

__all__ = ["CHECKS", "Context", "GraderFault", "Outcome", "HINTS"]
