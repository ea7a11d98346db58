"""How a check ended, as fields: its kind, the exception, and where in the
student's code. Batch, validate and the reports read these fields (in results.json
`extra_data`), never the sentences made from them.

The child sends a place as fields ([cell, file, line]) and an exception's type
beside its one-line message; judge/probe.py checks them and builds these. Imports
nothing heavy.
"""

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

class Where(str):
    """A place in the student's code: `cell` (a notebook cell's number) or `file`,
    and `line`, as fields (None where unknown); as text, what a student reads
    ("cell 3, line 12", "gates.py, line 5", "cell 3"; "" when unknown)."""

    def __new__(cls, cell: int | None = None, file: str | None = None, line: int | None = None) -> "Where":
        name = "cell %d" % cell if cell is not None else file or ""
        self = super().__new__(cls, "%s, line %d" % (name, line) if name and line is not None else name)
        self.cell, self.file, self.line = cell, None if cell is not None else file, line if name else None
        return self

    def fields(self) -> dict | None:
        """{"cell", "file", "line"} for results.json, or None when the place is unknown."""
        return {"cell": self.cell, "file": self.file, "line": self.line} if self else None


NOWHERE = Where()


class LoadWarning(str):
    """A cell or import that raised while loading: the text a student reads
    ("cell 3, line 12: NameError: ..."), with `where`, `error` and `exception` as fields."""

    def __new__(cls, where: Where, error: str, exception: str = "") -> "LoadWarning":
        self = super().__new__(cls, "%s: %s" % (where, error) if where else error)
        self.where, self.error, self.exception = where, error, exception
        return self
