"""Every error that leaves a module, rooted by what the command line does with it.

- `UsageError`: exit 2. The instructor asked for something that cannot be done
  (a missing file, a bad rubric, export, secret or gradebook); the message names
  the file and the place in it.
- `NotGraded`: exit 1, no grade. Grading could not run for reasons that are not
  the student's (the sandbox did not start, a reference gate raised).
- `StudentFault`: a graded zero for the check it touches, with `message` (shown
  to the student) and `where` (a place in the student's code).

This module imports nothing, so anything may import it.
"""


class UsageError(Exception):
    """Exit 2: a request that cannot be carried out as given."""


class NotGraded(Exception):
    """Exit 1: no grade, rather than a wrong zero."""


# The kinds of failure the sandbox reports (judge.facts has every kind of outcome)
TIMEOUT = "timeout"  # a call or a load did not return in its time
CRASH = "crash"  # the student's process ended (a signal, an exit, its CPU time)
OUT_OF_TIME = "out_of_time"  # the submission's whole time ran out
LOAD_FAILURE = "load_failure"  # the submission could not be read or did not load
SANDBOX = "sandbox"  # anything else the sandbox refused (an unreadable reply, a full folder)


class StudentFault(Exception):
    """The student's code failed a check in a way that costs that check.

    Besides the sentence, it carries facts as fields (`judge.facts`): `kind` (a
    bad answer, an exception, a missing class, a timeout...), `exception` (the
    type the student's code raised, if any) and `missing` (the class that is not
    defined, for a missing class)."""
    kind = SANDBOX

    def __init__(self, message: str, where: str = "", kind: str = "", exception: str = "",
                 missing: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.kind = kind or type(self).kind
        self.exception = exception
        self.missing = missing


# ---- usage (exit 2)

class RubricError(UsageError):
    """A rubric that cannot be used."""


class ReleaseError(UsageError):
    """A source that cannot be released; the message says where."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BatchError(UsageError):
    """Inputs that cannot be graded as given."""


class ZipRefused(BatchError):
    """A zip that is unreadable or breaks its limits; `why` is the reason without the name."""

    def __init__(self, shown: str, why: str) -> None:
        super().__init__("%s: %s" % (shown, why))
        self.why = why


class GradebookError(UsageError):
    """A gradebook that cannot be used as asked."""


class OutsideFolder(UsageError):
    """A path that would leave the folder it is written into."""


class SecretError(UsageError):
    """The course secret cannot be read or made."""


class PackageError(UsageError):
    """The Gradescope package cannot be built as asked."""


class ReportError(UsageError):
    """The HTML report cannot be made as asked."""


# ---- not graded (exit 1)

class SandboxUnavailable(NotGraded):
    """The sandbox itself could not start: a fault of the machine, not the student."""


class GraderFault(NotGraded):
    """The rubric's own reference failed: no student should be graded on that."""


# ---- the student's (a graded zero for the check)

class SandboxError(StudentFault):
    """Student code failed in a way that costs the check in progress."""


class OutOfTime(SandboxError):
    """The submission's time is up: this check and every later one get nothing."""
    kind = OUT_OF_TIME


class Wrong(StudentFault):
    """An answer that cannot be compared: wrong type, shape or count, NaN, an
    exception, a crash. Its message is shown to the student."""
    kind = "bad_answer"
