"""Check kinds. Each is a small function a rubric item names by `check:`."""
from grader.judge.checks import backward, format, forward, graph, numerical, state  # noqa: F401  (registers)
from grader.judge.checks.base import CHECKS, Context, GraderFault, Outcome

HINTS = {
    "format": "forward must return one value per output, and backward a list with one "
              "gradient per input (e.g. [dx, dy]), each of its input's shape.",
    "forward": "forward must compute the gate's output from the inputs it is given.",
    "backward": "each gradient is the local gradient times the upstream gradient.",
    "numerical": "backward disagrees with finite differences of your own forward: each "
                 "gradient must match how forward uses that input.",
    "state": "keep the inputs on self in forward (not on the class or in globals), use the "
             "latest ones, and do not change what is stored when backward runs.",
    "graph": "composed as a graph, the gates must give the chain rule's gradients: each gate's "
             "backward uses its own cached inputs and the gradient passed down to it.",
}

__all__ = ["CHECKS", "Context", "GraderFault", "Outcome", "HINTS"]
