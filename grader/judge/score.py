"""Run every rubric item against one submission and add up the points.

This is the trusted side: it draws the inputs, asks the sandbox for the
student's answers, computes the expected values itself and decides.

One child answers every check, so items run in the order a student gets to see
them (`reveal`): visible ones first, hidden ones last, so that no message a
student reads comes after a check whose inputs they must not learn. Results
stay in rubric order.
"""
from __future__ import annotations

import re
import secrets
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from backprop_grader.errors import OutOfTime
from backprop_grader.load import class_pattern
from backprop_grader.judge import facts, visibility
from backprop_grader.judge.checks import CHECKS, Context, Outcome
from backprop_grader.judge.facts import LoadWarning
from backprop_grader.judge.mistakes import diagnose
from backprop_grader.judge.probe import Wrong, exception_type, place, sandbox_kind
from backprop_grader.sandbox import Sandbox, SandboxError, text
from backprop_grader.judge.seeds import submission_digest

if TYPE_CHECKING:
    from backprop_grader.judge.rubric import Item, Rubric
    from backprop_grader.load import Loaded
    from backprop_grader.sandbox import ForkServer, Limits

REVEAL = visibility.REVEAL


@dataclass
class ItemResult:
    item: object
    outcome: Outcome

    @property
    def score(self) -> float:
        return self.item.points if self.outcome.passed else 0.0


@dataclass
class Result:
    loaded: object
    rubric: object
    seed: int
    items: list = field(default_factory=list)
    warnings: list = field(default_factory=list)  # LoadWarning: cells or imports that raised
    output: str = ""  # what the student's code printed while loading
    output_dropped: int = 0  # bytes printed while loading beyond what is kept
    isolation: dict = field(default_factory=dict)
    elapsed: float = 0.0

    @property
    def score(self) -> float:
        return sum(r.score for r in self.items)


def new_seed() -> int:
    return secrets.randbits(63)


def item_rng(seed: int, item_id: str, digest: int | None = None) -> np.random.Generator:
    """Each item draws from its own stream, so items don't depend on order; a
    hidden item's also depends on the submission's `digest`."""
    key = [seed % 2 ** 64, zlib.crc32(item_id.encode())]
    return np.random.default_rng(key if digest is None else key + [digest])


def reveal(item: Item) -> int:
    """When the student sees `item`'s result (visibility.REVEAL)."""
    return visibility.reveal(item.visibility)


def run_order(items: list[Item]) -> list[Item]:
    """The items in the order they run: as soon as they are seen, first."""
    return sorted(items, key=reveal)


def grade(loaded: Loaded, rubric: Rubric, seed: int | None = None, limits: Limits | None = None,
          allow: Sequence[str] | None = None, spawner: ForkServer | None = None,
          on_slow: Callable[[], None] | None = None) -> Result:
    """Grade `loaded` against `rubric`; `on_slow()` is called when its code is
    found slow (a hang, most likely) and moved to the lowest priority."""
    seed = new_seed() if seed is None else seed
    result = Result(loaded, rubric, seed)
    start = time.monotonic()
    if loaded.problem:
        result.items = [ItemResult(i, Outcome.stopped(loaded.problem, facts.LOAD_FAILURE)) for i in rubric.items]
    else:
        with Sandbox(loaded, limits or rubric.limits, allow, spawner, on_slow) as box:
            try:
                report = box.start()
            except SandboxError as exc:
                report = None
                kind = facts.OUT_OF_TIME if isinstance(exc, OutOfTime) else facts.LOAD_FAILURE
                result.items = [ItemResult(i, Outcome.stopped(exc.message, kind)) for i in rubric.items]
            result.isolation = box.isolation
            if report is not None:
                result.warnings = clean_warnings(report.get("warnings"))
                result.items = run_items(box, rubric, seed, loaded)
            result.output, result.output_dropped = printed(box), box.output_dropped
    result.elapsed = time.monotonic() - start
    return result


def run_items(box: Sandbox, rubric: Rubric, seed: int, loaded: Loaded) -> list[ItemResult]:
    """Every item's result, in rubric order; run in `run_order`."""
    digest = submission_digest(loaded)
    outcomes = {id(item): run_item(box, rubric, item, item_rng(
        seed, item.id, digest if item.hidden else None), loaded)
        for item in run_order(rubric.items)}
    return [ItemResult(item, outcomes[id(item)]) for item in rubric.items]


def run_item(box: Sandbox, rubric: Rubric, item: Item, rng: np.random.Generator, loaded: Loaded) -> Outcome:
    outcome = Outcome()
    try:
        with box.check() as session:
            try:
                CHECKS[item.check](Context(rubric, item, rng, session, outcome))
            except Wrong as exc:  # an answer that cannot be compared may still be a known mistake
                outcome.fail(exc)
            if (outcome.failures or outcome.error) and outcome.mistake is None:  # engine: named by the check
                outcome.mistake = diagnose(rubric, item, session.log)
    except Wrong as exc:
        outcome.fail(exc)
    except SandboxError as exc:  # the check's child could not start (again)
        outcome.fail(exc)
        outcome.fault = sandbox_kind(exc)
    if outcome.fault == facts.MISSING_CLASS:
        outcome.error += why_missing(outcome.missing, loaded, box.report)
    return outcome


def why_missing(name: str, loaded: Loaded, report: dict | None) -> str:
    """What the student can do about a missing class."""
    defines = class_pattern([name])
    if defines.search(loaded.markdown):
        return (" (a class %s appears in a markdown cell; code in markdown cells does not run)"
                % name)
    warnings = clean_warnings((report or {}).get("warnings"))
    defining = [n for n, src in loaded.cells if defines.search(src)]
    relevant = [w for w in warnings if w.where.cell in defining]
    if relevant or warnings:
        return " (loading hit an error first: %s)" % (relevant or warnings)[-1]
    names = (report or {}).get("names")
    found = [n for n in (names if isinstance(names, list) else [])
             if isinstance(n, str) and re.fullmatch(r"[A-Z]\w{0,40}", n)][:10]
    if found:
        return " (it defines %s)" % ", ".join(found)
    return ""


def clean_warnings(raw: object) -> list[LoadWarning]:
    """Load warnings come from the child: keep plain, short strings only."""
    out = []
    for w in (raw if isinstance(raw, list) else [])[:20]:
        if isinstance(w, dict):
            out.append(LoadWarning(place(w.get("place")) or facts.NOWHERE, text(w.get("error"), 300) or "?",
                                   exception_type(w.get("exception")) or ""))
    return out


def printed(box: Sandbox) -> str:
    text = box.output.decode("utf-8", errors="replace")
    if box.output_dropped:
        text += "\n[... %d more bytes of output not shown]" % box.output_dropped
    return text
