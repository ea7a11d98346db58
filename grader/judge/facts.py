"""How a check ended, as fields: its kind, the exception, and where in the
student's code. Batch, validate and the reports read these fields (in results.json
`extra_data`), never the sentences made from them.

The child reports a place as text ("cell 3, line 12", "gates.py, line 5",
"cell 3") and an exception inside its one-line message ("ZeroDivisionError:
division by zero"): that is the sandbox's wire format, read here once, at the
boundary (`Where`, `exception_name`). Imports nothing heavy.
"""
import re

# The kinds of outcome (Outcome.kind).
PASSED = "passed"
WRONG_ANSWER = "wrong_answer"  # answers compared and some were wrong
NO_TRIALS = "no_trials"  # nothing was compared
BAD_ANSWER = "bad_answer"  # an answer that cannot be compared: type, shape, count, NaN
EXCEPTION = "exception"  # the student's code raised (or called sys.exit)
MISSING_CLASS = "missing_class"  # a gate class the check needs is not defined
# what the sandbox reports: timeout, crash, out of time, load failure, other refusals
from backprop_grader.errors import CRASH, LOAD_FAILURE, OUT_OF_TIME, SANDBOX, TIMEOUT  # noqa: E402,F401
PROBLEMS = (BAD_ANSWER, EXCEPTION, MISSING_CLASS, TIMEOUT, CRASH, OUT_OF_TIME, LOAD_FAILURE, SANDBOX)

# how the child writes an exception: "Type: detail", "Type", or NotImplementedError's own words
EXCEPTION_NAME = re.compile(r"([A-Za-z_][\w.]*)(?=: |$| \(not implemented yet\))")
PLACE = re.compile(r"cell (?P<cell>\d+)(?:, line (?P<cell_line>\d+))?|(?P<file>.+?)(?:, line (?P<line>\d+))?")


class Where(str):
    """A place in the student's code, as the child wrote it, with `cell`, `file`
    and `line` as fields (None where unknown). It is still the text it was."""

    def __new__(cls, text: str = "") -> "Where":
        self = super().__new__(cls, text or "")
        self.cell = self.file = self.line = None
        m = PLACE.fullmatch(self) if self else None
        if m and m.group("cell"):
            self.cell = int(m.group("cell"))
            self.line = int(m.group("cell_line")) if m.group("cell_line") else None
        elif m:
            self.file = m.group("file")
            self.line = int(m.group("line")) if m.group("line") else None
        return self

    def fields(self) -> dict | None:
        """{"cell", "file", "line"} for results.json, or None when the place is unknown."""
        return {"cell": self.cell, "file": self.file, "line": self.line} if self else None


def exception_name(error: str) -> str:
    """The exception type of a child's one-line error ("ZeroDivisionError: ...",
    "NotImplementedError (not implemented yet)", "called sys.exit(1)"), or ""."""
    if error.startswith("called sys.exit("):
        return "SystemExit"
    m = EXCEPTION_NAME.match(error)
    return m.group(1) if m else ""


class LoadWarning(str):
    """A cell or import that raised while loading: the text a student reads
    ("cell 3, line 12: NameError: ..."), with `where`, `error` and `exception` as fields."""

    def __new__(cls, where: str, error: str) -> "LoadWarning":
        self = super().__new__(cls, "%s: %s" % (where, error) if where else error)
        self.where, self.error, self.exception = Where(where), error, exception_name(error)
        return self
