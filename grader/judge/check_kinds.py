"""The check kinds a rubric item names by `check:`, described once.

Each kind's entry says what a student is told when it fails (its hint), which
gate methods it calls, whether it runs the rubric's special inputs, whether its
cases are used in pairs, and whether a failure is diagnosed (replayed on the
suspects of `judge.mistakes`). The functions that run a kind are in
`judge/checks/`, registered under these names; the rubric schema's enum lists
the same names (a test checks all three agree).

This module imports nothing, so rendering and authoring read it without the sandbox.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class CheckKind:
    name: str
    hint: str  # the default hint when an item of this kind fails
    calls: tuple = ("forward", "backward")  # gate methods it calls (graph: on every gate)
    specials: bool = True  # runs the rubric's special cases (zeros, large, ...)
    pairs: bool = False  # random cases are used two at a time
    diagnosed: bool = False  # a failure is replayed on the suspects to name a mistake


KINDS = {kind.name: kind for kind in (
    CheckKind("format", "{forward} must return {outputs}{then}; each gradient has its input's shape.",
              specials=False),
    CheckKind("forward", "{forward} must compute the gate's output from the inputs it is given.",
              calls=("forward",)),
    CheckKind("backward", "each gradient is the local gradient times the upstream gradient.",
              diagnosed=True),
    CheckKind("numerical", "{backward} disagrees with finite differences of your own {forward}: each "
                           "gradient must match how {forward} uses that input.",
              diagnosed=True),
    CheckKind("state", "keep the inputs on self in forward (not on the class or in globals), use the "
                       "latest ones, and do not change what is stored when backward runs.",
              specials=False, pairs=True, diagnosed=True),
    CheckKind("graph", "composed as a graph, the gates must give the chain rule's gradients: each gate's "
                       "backward uses its own cached inputs and the gradient passed down to it.",
              diagnosed=True),
    CheckKind("stability", "at extreme inputs no intermediate value may overflow: compute exp only of "
                           "values that cannot be large (subtract the row's max from the logits; for the "
                           "sigmoid use exp(-|x|)).", specials=False),
    CheckKind("engine", "build each operation's output with its own backward step, add (+=) each share into "
                        ".grad, and let backward() run the steps in reverse topological order from the output.",
              calls=("__init__", "backward"), specials=False, diagnosed=True),
)}

HINTS = {name: kind.hint for name, kind in KINDS.items()}
DIAGNOSED = tuple(name for name, kind in KINDS.items() if kind.diagnosed)


# how a gate is called, as hints say it (rubric.Gate.calls gives a gate's own)
CALLS = {"forward": "forward", "backward": "backward", "outputs": "one value per output",
         "then": ", and backward a list with one gradient per input (e.g. [dx, dy])"}


def hint(check: str, calls: dict | None = None) -> str:
    """The default hint of a check kind ("" for an unknown one), in the words of
    the gate's own calls (`calls`, see CALLS) where it speaks of them."""
    kind = KINDS.get(check)
    return kind.hint.format(**dict(CALLS, **(calls or {}))) if kind else ""


def diagnosed(check: str) -> bool:
    """True when a failure of this kind is replayed on the suspects."""
    kind = KINDS.get(check)
    return bool(kind and kind.diagnosed)


def runs_nothing(check: str, trials: int, specials: list, examples: list) -> str:
    """Why an item would run no trial, or "" (kinds without specials use none;
    paired kinds need two random cases)."""
    kind = KINDS.get(check)
    if kind is not None and kind.pairs and trials < 2:
        return "a %s check needs at least 2 trials (cases are used in pairs)" % check
    runs = trials + len(examples) + (len(specials) if kind is None or kind.specials else 0)
    return "" if runs else "this item would run no trials"
