"""The report's numbers, from the gradebook: each student's latest row decoded, the
histogram, pass rates, named mistakes (each student once per gate) and which
submissions did not run (errors, by the outcome kinds results.json records) apart
from those that ran and gave wrong answers."""
from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from backprop_grader.judge import check_kinds
from backprop_grader.judge import facts

if TYPE_CHECKING:
    from backprop_grader.batch.gradebook import Gradebook

SLOWEST = 10
BINS = 10
UNNAMED = "no known mistake matches"
# outcome kinds of a check that did not run to an answer (timeouts, crashes, exceptions, ...)
ERROR_KINDS = frozenset(facts.PROBLEMS) - {facts.BAD_ANSWER}
# outcome kinds of a check that ran and answered wrongly
WRONG_KINDS = frozenset({facts.WRONG_ANSWER, facts.BAD_ANSWER, facts.NO_TRIALS})


class Student:
    """One student's latest row, decoded."""

    def __init__(self, row: Mapping[str, Any]) -> None:
        self.id = row["student"]
        self.row = row
        self.error = row["error"] or ""
        self.score = float(row["score"])
        self.max_score = float(row["max_score"])
        self.duration = float(row["duration"])
        try:
            self.results = json.loads(row["results"])
        except ValueError:
            self.results = {"tests": []}
        self.tests = {}
        for t in self.results.get("tests") or []:
            tid = (t.get("extra_data") or {}).get("id") or t.get("name")
            self.tests[tid] = t
        self.slug = None
        self.penalty = None  # the gradebook's penalties row, when a late policy applies

    @property
    def final(self) -> float:
        """The score after any late penalty."""
        return round(self.score - (float(self.penalty["points"]) if self.penalty is not None else 0.0), 6)

    @property
    def graded(self) -> bool:
        """Graded by the grader (whatever the score); False when the grader itself failed."""
        return not self.error

    def problems(self) -> list[str]:
        """Why checks stopped before an answer (the submission did not load, crashed, timed
        out, raised): the `problem` field of the tests whose outcome kind is an error, each once.
        Results from before outcome kinds: every `problem`."""
        seen = []
        for t in self.tests.values():
            extra = t.get("extra_data") or {}
            text = extra.get("problem")
            if text and (extra.get("kind") is None or extra.get("kind") in ERROR_KINDS) and text not in seen:
                seen.append(text)
        return seen

    def error_kinds(self) -> list[str]:
        """The outcome kinds of the tests that stopped before an answer, each once, in order."""
        out = []
        for t in self.tests.values():
            kind = (t.get("extra_data") or {}).get("kind")
            if kind in ERROR_KINDS and kind not in out:
                out.append(kind)
        return out

    def wrong(self) -> list[str]:
        """Item ids whose check ran and answered wrongly (outcome kind wrong_answer, bad_answer, no_trials)."""
        return [tid for tid, t in self.tests.items() if t.get("status") != "passed"
                and (t.get("extra_data") or {}).get("kind") in WRONG_KINDS]

    @property
    def output_dropped(self) -> int | None:
        """Bytes of output the sandbox dropped (extra_data.output_dropped), or None when not recorded."""
        value = (self.results.get("extra_data") or {}).get("output_dropped")
        return value if isinstance(value, int) else None

    def mistakes(self) -> list[tuple[str, str | None, str]]:
        """[(gate tag, mistake id or None, item id)] for failed tests that could be diagnosed.

        A test counts only when its extra_data has a 'mistake' key (results from
        before diagnosis have none); None there means no known mistake matched.
        """
        out = []
        for tid, t in self.tests.items():
            extra = t.get("extra_data") or {}
            if t.get("status") == "passed" or "mistake" not in extra:
                continue
            mistake = extra["mistake"]
            if isinstance(mistake, dict):  # tolerate a richer record
                mistake = mistake.get("id")
            if not mistake and (not check_kinds.diagnosed(extra.get("check")) or extra.get("problem")):
                continue  # not a wrong answer (a crash, a missing class), or a check never diagnosed
            tag = (t.get("tags") or ["other"])[0]
            out.append((tag, str(mistake) if mistake else None, tid))
        return out


def slugs(ids: Iterable[str]) -> dict[str, str]:
    """A file name for each student id: readable, unique, safe on every file system."""
    out, used = {}, set()
    for sid in ids:
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", sid).strip("._-")[:80] or "student"
        slug = base
        if slug != sid or slug.lower() in used:
            slug = "%s-%s" % (base, hashlib.sha256(sid.encode("utf-8", "surrogatepass")).hexdigest()[:8])
        used.add(slug.lower())
        out[sid] = slug
    return out


def histogram(scores: Iterable[float], max_score: float, bins: int = BINS) -> list[tuple[float, float, int]]:
    """[(lo, hi, count)]: `bins` equal bins over [0, max_score]; the last includes max_score."""
    top = max([max_score] + list(scores)) or 1.0
    width = top / bins
    counts = [0] * bins
    for s in scores:
        k = min(bins - 1, max(0, int(math.floor(s / width + 1e-9)))) if width > 0 else 0
        counts[k] += 1
    return [(k * width, (k + 1) * width, c) for k, c in enumerate(counts)]


class ClassData:
    """What the summary page shows, computed from the gradebook."""

    def __init__(self, book: Gradebook) -> None:
        self.book = book
        self.meta = book.meta
        self.items = book.items
        self.students = [Student(r) for r in book.latest(submission=True).values()]
        for s, slug in zip(self.students, slugs([s.id for s in self.students]).values()):
            s.slug = slug
        self.graded = [s for s in self.students if s.graded]
        self.failed = [s for s in self.students if not s.graded]
        self.max_score = float(self.meta.get("max_score") or
                               (self.graded[0].max_score if self.graded else 0.0))
        penalties = book.penalties()
        for s in self.students:
            s.penalty = penalties.get(s.row["id"])
        self.late = book.has_late_policy()
        self.scores = [s.final for s in self.graded]

    def pass_rates(self) -> list[tuple[dict[str, Any], int, int]]:
        """[(item, passed, total)] over graded students that have the item."""
        out = []
        for item in self.items:
            have = [s.tests[item["id"]] for s in self.graded if item["id"] in s.tests]
            out.append((item, sum(t.get("status") == "passed" for t in have), len(have)))
        return out

    def diagnosed(self) -> bool:
        """True when any stored result records diagnoses (extra_data.mistake)."""
        return any("mistake" in (t.get("extra_data") or {}) for s in self.graded for t in s.tests.values())

    def mistakes(self) -> dict[str, Counter]:
        """{gate: Counter(mistake id or None -> number of students)}, gates in rubric order.
        Each student counts once per gate (`mistake_of`), so a gate's rows add up to its
        failing students."""
        per_gate = {}
        for s in self.graded:
            for gate, mistake in counted_mistakes(s).items():
                per_gate.setdefault(gate, Counter())[mistake] += 1
        order = []
        for s in self.graded:
            for t in s.tests.values():
                tag = (t.get("tags") or ["other"])[0]
                if tag not in order:
                    order.append(tag)
        return {g: per_gate[g] for g in order + sorted(set(per_gate) - set(order)) if g in per_gate}

    def students_with(self, gate: str, mistake: str | None) -> list[Student]:
        """The graded students counted under `mistake` (None: no known mistake) for `gate`."""
        return [s for s in self.graded if counted_mistakes(s).get(gate, "-") == mistake]

    def failing_students(self, gate: str) -> int:
        """Students with any failed, diagnosable test of `gate`."""
        return sum(1 for s in self.graded if any(tag == gate for tag, _, _ in s.mistakes()))

    def slowest(self, n: int = SLOWEST) -> list[Student]:
        return sorted(self.students, key=lambda s: -s.duration)[:n]

    def erroring(self) -> list[tuple[Student, str, str]]:
        """(student, kind, message): grader failures first, then submissions whose checks
        stopped before an answer (errors: timeouts, crashes, exceptions, no class, load
        failures). Wrong answers are not errors: see `wrong_answers`."""
        out = [(s, "grader failed", s.error) for s in self.failed]
        out += [(s, "submission", "; ".join(s.problems())) for s in self.graded if s.problems()]
        return out

    def wrong_answers(self) -> list[tuple[Student, list[str]]]:
        """[(student, [item ids])]: graded students with wrong answers and no error."""
        return [(s, s.wrong()) for s in self.graded if s.wrong() and not s.problems()]


def counted_mistakes(student: Student) -> dict[str, str | None]:
    """{gate: the one mistake a student is counted under}: the first named mistake among
    their failed diagnosable tests of that gate, else None (no known mistake matches)."""
    out = {}
    for tag, mistake, _ in student.mistakes():
        if out.get(tag) is None:
            out[tag] = mistake
    return out
