"""Run every rubric item against one submission and add up the points.

This is the trusted side: it draws the inputs, asks the sandbox for the
student's answers, computes the expected values itself and decides.

One child answers every check, so items run in the order a student gets to see
them (`reveal`): visible ones first, hidden ones last, so that no message a
student reads comes after a check whose inputs they must not learn. Results
stay in rubric order.
"""
import re
import secrets
import time
import zlib
from dataclasses import dataclass, field

import numpy as np

from grader.judge.checks import CHECKS, Context, Outcome
from grader.judge.mistakes import diagnose
from grader.judge.probe import Wrong
from grader.sandbox import Sandbox, SandboxError, text
from grader.judge.seeds import submission_digest

# When a student sees an item's result: at once, after the due date, once grades
# are published, never.
REVEAL = {"visible": 0, "after_due_date": 1, "after_published": 2, "hidden": 3}


@dataclass
class ItemResult:
    item: object
    outcome: Outcome

    @property
    def score(self):
        return self.item.points if self.outcome.passed else 0.0


@dataclass
class Result:
    loaded: object
    rubric: object
    seed: int
    items: list = field(default_factory=list)
    warnings: list = field(default_factory=list)  # cells or imports that raised
    output: str = ""  # what the student's code printed while loading
    isolation: dict = field(default_factory=dict)
    elapsed: float = 0.0

    @property
    def score(self):
        return sum(r.score for r in self.items)


def new_seed():
    return secrets.randbits(63)


def item_rng(seed, item_id, digest=None):
    """Each item draws from its own stream, so items don't depend on order; a
    hidden item's also depends on the submission's `digest`."""
    key = [seed % 2 ** 64, zlib.crc32(item_id.encode())]
    return np.random.default_rng(key if digest is None else key + [digest])


def reveal(item):
    """When the student sees `item`'s result (REVEAL); any unknown visibility: never."""
    return REVEAL.get(item.visibility, REVEAL["hidden"]) if item.hidden else REVEAL["visible"]


def run_order(items):
    """The items in the order they run: as soon as they are seen, first."""
    return sorted(items, key=reveal)


def grade(loaded, rubric, seed=None, limits=None, allow=None, spawner=None, on_slow=None):
    """Grade `loaded` against `rubric`; `on_slow()` is called when its code is
    found slow (a hang, most likely) and moved to the lowest priority."""
    seed = new_seed() if seed is None else seed
    result = Result(loaded, rubric, seed)
    start = time.monotonic()
    if loaded.problem:
        result.items = [ItemResult(i, Outcome(error=loaded.problem)) for i in rubric.items]
    else:
        with Sandbox(loaded, limits or rubric.limits, allow, spawner, on_slow) as box:
            try:
                report = box.start()
            except SandboxError as exc:
                report = None
                result.items = [ItemResult(i, Outcome(error=exc.message)) for i in rubric.items]
            result.isolation = box.isolation
            if report is not None:
                result.warnings = clean_warnings(report.get("warnings"))
                result.items = run_items(box, rubric, seed, loaded)
            result.output = printed(box)
    result.elapsed = time.monotonic() - start
    return result


def run_items(box, rubric, seed, loaded):
    """Every item's result, in rubric order; run in `run_order`."""
    digest = submission_digest(loaded)
    outcomes = {id(item): run_item(box, rubric, item, item_rng(
        seed, item.id, digest if item.hidden else None), loaded)
        for item in run_order(rubric.items)}
    return [ItemResult(item, outcomes[id(item)]) for item in rubric.items]


def run_item(box, rubric, item, rng, loaded):
    outcome = Outcome()
    try:
        with box.check() as session:
            try:
                CHECKS[item.check](Context(rubric, item, rng, session, outcome))
            except Wrong as exc:  # an answer that cannot be compared may still be a known mistake
                outcome.error, outcome.where = exc.message, exc.where
            if outcome.failures or outcome.error:
                outcome.mistake = diagnose(rubric, item, session.log)
    except (Wrong, SandboxError) as exc:
        outcome.error, outcome.where = exc.message, exc.where
    if outcome.error:
        missing = re.match(r"(\w+) is not defined in the submission$", outcome.error)
        if missing:
            outcome.error += why_missing(missing.group(1), loaded, box.report)
    return outcome


def why_missing(name, loaded, report):
    """What the student can do about a missing class."""
    if re.search(r"class\s+%s\b" % name, loaded.markdown):
        return (" (a class %s appears in a markdown cell; code in markdown cells does not run)"
                % name)
    warnings = clean_warnings((report or {}).get("warnings"))
    defining = ["cell %d" % n for n, src in loaded.cells if re.search(r"class\s+%s\b" % name, src)]
    relevant = [w for w in warnings if w.split(",")[0].split(":")[0] in defining]
    if relevant or warnings:
        return " (loading hit an error first: %s)" % (relevant or warnings)[-1]
    names = (report or {}).get("names")
    found = [n for n in (names if isinstance(names, list) else [])
             if isinstance(n, str) and re.fullmatch(r"[A-Z]\w{0,40}", n)][:10]
    if found:
        return " (it defines %s)" % ", ".join(found)
    return ""


def clean_warnings(raw):
    """Load warnings come from the child: keep plain, short strings only."""
    out = []
    for w in (raw if isinstance(raw, list) else [])[:20]:
        if isinstance(w, dict):
            where, error = text(w.get("where", ""), 60) or "", text(w.get("error"), 300) or "?"
            out.append("%s: %s" % (where, error) if where else error)
    return out


def printed(box):
    text = box.output.decode("utf-8", errors="replace")
    if box.output_dropped:
        text += "\n[... %d more bytes of output not shown]" % box.output_dropped
    return text
