"""Late policy: the rubric's `late:` block, per-student extensions, and the penalty.

    late:
      due: "2026-10-01T23:59:00-04:00"   # ISO 8601 with a UTC offset (or Z)
      grace: 15m                         # optional: 90s, 15m, 2h, 1d, 1h30m; default 0
      penalty: {per: day, percent: 10, floor: 50}

A submission later than its due date by more than the grace loses `percent` of its
raw score per `per` (day or hour) started, counted from the due date itself; it
keeps at least `floor` percent of its raw score (default 0). Submission times
without a UTC offset (Blackboard, D2L) are read in the due date's offset.

An export that says a submission is late but gives no time (Canvas's `LATE_` file
names) counts as late by one unit: one `percent`, the least a late submission loses.
A student with an extension and such a flag is not penalised (the flag is measured
against the LMS's due date, not the extension) and is listed to be checked by hand.

Extensions (`bpgrade batch --extensions FILE`): a CSV with rows `student,due` (a new
due date, as in the rubric; one without an offset is read in the rubric due date's
offset) or `student,days` (days added to the rubric's due date, e.g. 2 or 1.5). A
first row `student,due` or `student,days` is a header. Imports nothing heavy.
"""
from __future__ import annotations

import csv
import datetime
import math
import re
from dataclasses import dataclass
from pathlib import Path

from backprop_grader.errors import UsageError

UNITS = {"day": 86400.0, "hour": 3600.0}
DURATION = re.compile(r"^(?:(?P<d>\d+(?:\.\d+)?)d)?(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m)?"
                      r"(?:(?P<s>\d+(?:\.\d+)?)s)?$")


class ExtensionsError(UsageError):
    """A bad extensions file (exit 2)."""


@dataclass(frozen=True)
class Policy:
    due: datetime.datetime  # aware
    grace: float  # seconds
    per: str  # day or hour
    percent: float
    floor: float  # the least percent of the raw score a late submission keeps

    @property
    def unit(self) -> float:
        return UNITS[self.per]

    def describe(self) -> str:
        return "due %s, grace %s, -%g%% per %s started, at least %g%% kept" % (
            self.due.isoformat(), duration_text(self.grace), self.percent, self.per, self.floor)


@dataclass(frozen=True)
class Extension:
    student: str
    due: datetime.datetime | None = None  # a new due date
    days: float | None = None  # or days added to the rubric's
    where: str = ""  # FILE:LINE

    def due_for(self, policy: Policy) -> datetime.datetime:
        if self.due is not None:
            return self.due
        return policy.due + datetime.timedelta(days=self.days or 0.0)

    def text(self) -> str:
        return "due %s" % self.due.isoformat() if self.due is not None else "+%g day(s)" % self.days


@dataclass(frozen=True)
class Penalty:
    """What the policy makes of one submission."""
    due: str  # ISO 8601, the student's due date (extension included)
    submitted_at: str
    late_seconds: float | None  # None when the time is unknown
    units: int  # days or hours started (0 when on time)
    percent: float  # of the raw score
    note: str  # for people: "2 days late (-20%)", "on time", ...
    check: bool = False  # a TA should look at it (a LATE flag with an extension)

    def points(self, raw: float) -> float:
        return round(raw * self.percent / 100.0, 6)


# ---------------------------------------------------------------------------- reading

def parse_time(text: str, zone: datetime.tzinfo | None = None) -> datetime.datetime:
    """An ISO 8601 date and time; without an offset, in `zone` (ValueError without either)."""
    t = datetime.datetime.fromisoformat(str(text).strip().replace(" ", "T", 1))
    if t.tzinfo is None:
        if zone is None:
            raise ValueError("no UTC offset")
        t = t.replace(tzinfo=zone)
    return t


def parse_duration(text: str) -> float:
    """Seconds in '15m', '2h', '1d', '1h30m', '90s', '0' (ValueError otherwise)."""
    text = str(text).strip()
    if text == "0":
        return 0.0
    m = DURATION.match(text)
    if not text or not m:
        raise ValueError(text)
    scale = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    return sum(float(v) * scale[k] for k, v in m.groupdict().items() if v)


def duration_text(seconds: float) -> str:
    seconds = int(round(seconds))
    if not seconds:
        return "0"
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out += "%d%s" % (seconds // size, unit)
            seconds %= size
    return out


def policy(block: dict, where: str) -> Policy:
    """The rubric's `late:` block (already checked by the schema); RubricError names the path."""
    from backprop_grader.errors import RubricError
    try:
        due = parse_time(block["due"])
    except ValueError:
        raise RubricError("%s: late.due: %r is not a date and time with a UTC offset (e.g. "
                          "2026-10-01T23:59:00-04:00)" % (where, block["due"])) from None
    try:
        grace = parse_duration(block.get("grace", "0"))
    except ValueError:
        raise RubricError("%s: late.grace: %r is not a duration (e.g. 15m, 2h, 1d, 1h30m)"
                          % (where, block.get("grace"))) from None
    pen = block["penalty"]
    return Policy(due, grace, pen["per"], float(pen["percent"]), float(pen.get("floor", 0)))


def read_extensions(path: str | Path, zone: datetime.tzinfo | None = None) -> dict[str, Extension]:
    """{student: Extension} from FILE; a bad row is an ExtensionsError naming FILE:LINE."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExtensionsError("%s: cannot read the extensions file (%s)"
                              % (path, getattr(exc, "strerror", None) or exc)) from None
    out: dict[str, Extension] = {}
    for n, row in enumerate(csv.reader(text.splitlines()), 1):
        at = "%s:%d" % (path, n)
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if n == 1 and cells[0].lower() == "student":
            continue  # a header
        if len(cells) != 2 or not cells[0] or not cells[1]:
            raise ExtensionsError("%s: expected two cells, student,due or student,days; got %r"
                                  % (at, ",".join(row)))
        student, value = cells
        if student in out:
            raise ExtensionsError("%s: %r already has an extension (%s)" % (at, student, out[student].where))
        try:
            days = float(value)
        except ValueError:
            days = None
        if days is not None:
            if not math.isfinite(days) or days < 0:
                raise ExtensionsError("%s: %r: days must be a number of days >= 0, not %r" % (at, student, value))
            out[student] = Extension(student, days=days, where=at)
            continue
        try:
            due = parse_time(value, zone)
        except ValueError:
            raise ExtensionsError("%s: %r: %r is neither a number of days nor a date and time "
                                  "(e.g. 2026-10-03T23:59:00-04:00)" % (at, student, value)) from None
        out[student] = Extension(student, due=due, where=at)
    return out


# ---------------------------------------------------------------------------- the penalty

def assess(pol: Policy, submitted_at: str, late_flag: bool | None,
           extension: Extension | None = None) -> Penalty:
    """The penalty for one submission under `pol`."""
    due = extension.due_for(pol) if extension is not None else pol.due
    ext = " (extension: %s)" % extension.text() if extension is not None else ""
    if submitted_at:
        try:
            when = parse_time(submitted_at, pol.due.tzinfo)
        except ValueError:
            when = None
        if when is not None:
            late = (when - due).total_seconds()
            if late <= 0:
                return Penalty(due.isoformat(), submitted_at, late, 0, 0.0, "on time" + ext)
            if late <= pol.grace:
                return Penalty(due.isoformat(), submitted_at, late, 0, 0.0,
                               "%s late, within the grace period%s" % (duration_text(late), ext))
            units = int(math.ceil(late / pol.unit - 1e-9))
            percent = min(units * pol.percent, 100.0 - pol.floor)
            return Penalty(due.isoformat(), submitted_at, late, units, percent,
                           "%s late: %d %s%s started, -%g%%%s" % (
                               duration_text(late), units, pol.per, "" if units == 1 else "s", percent, ext))
    if late_flag:
        if extension is not None:
            return Penalty(due.isoformat(), submitted_at, None, 0, 0.0,
                           "marked late by the LMS, no time given, but has an extension: not penalised "
                           "(check by hand)%s" % ext, check=True)
        percent = min(pol.percent, 100.0 - pol.floor)
        return Penalty(due.isoformat(), submitted_at, None, 1, percent,
                       "marked late by the LMS, no time given: counted as 1 %s late, -%g%%" % (pol.per, percent))
    return Penalty(due.isoformat(), submitted_at, None, 0, 0.0,
                   "on time" + ext if not submitted_at else "submission time %r unreadable: not penalised"
                   % submitted_at)
