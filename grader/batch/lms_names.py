"""How each LMS names the files of a "download all submissions" export: one recogniser each.

A recogniser reads one name in the export (a file, or a folder) and says whose it is,
under the id that LMS's own gradebook import uses, and what it is:

- Canvas: `doejane_LATE_12345_678901_gates.py`, `doejane_12345_text.html`; the id is
  the Canvas user id (12345).
- Moodle: a folder per plugin, `Jane Doe_1234570_assignsubmission_file/` (3.x adds a
  trailing `_`), `..._onlinetext/`, or flat `Jane Doe_1234570_assignsubmission_file_gates.py`;
  the id is the participant number (1234570), as in the grading worksheet.
- Blackboard: `HW1_jdoe_attempt_2024-05-06-10-30-00_gates.py` and the attempt's
  `HW1_jdoe_attempt_2024-05-06-10-30-00.txt`; the id is the username (jdoe).
- Brightspace (D2L): `123456-789012 - Doe, Jane - May 6, 2024 1030 AM - gates.py`, or a
  folder of that name, and index.html; the id is the name as D2L shows it.

(Gradescope exports are recognised by their submission_metadata.yml, in classlist.)

Canvas builds names in lib/content_zipper.rb (sortable name lowercased, non-word
characters removed, `LATE`, the user id or `anon_ID`, the attachment id, the file's
display name; text entries `..._text.html`, URLs `..._link.html`). Moodle builds them in
mod/assign/classes/downloader.php (full name with `_` made spaces, `_`, the participant
id, `_assignsubmission_`, the plugin: a folder per plugin, or one flat file each).
"""
from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

CODE = (".py", ".ipynb")


@dataclass
class Name:
    """What one name in an export says."""
    lms: str
    student: str  # the id that LMS's gradebook import uses
    kind: str  # "code": graded; "text", "other": skipped and reported; "info": read, not graded
    own_name: str = ""  # the student's own file name, without what the LMS added
    display: str = ""  # the student's name as the LMS shows it
    submitted_at: str = ""  # ISO 8601, as the export states it (no zone unless it gives one)
    late: bool | None = None  # None: the export does not say
    fields: dict = field(default_factory=dict)  # other ids the export carries
    why: str = ""  # for a skipped entry: what it is


@dataclass(frozen=True)
class Recogniser:
    lms: str
    parse: object  # (name, is_dir) -> Name | None
    metadata: tuple = ()  # names that belong to the export itself (read or ignored, never graded)


NOT_CODE = "not a .py, .ipynb or .zip file"


def kind_of(filename: str, is_dir: bool = False) -> str:
    """'code' for what bpgrade grades (a .py, .ipynb, a .zip of them, or a folder), 'other' otherwise."""
    return "code" if is_dir or filename.lower().endswith(CODE + (".zip",)) else "other"


def with_file(out: Name, filename: str) -> Name:
    """`out` for a file the student submitted under `filename`: its kind, and why it
    is not graded when it is not code."""
    out.own_name = filename
    out.kind = kind_of(filename)
    out.why = "" if out.kind == "code" else NOT_CODE
    return out


# ---------------------------------------------------------------------------- Canvas

CANVAS = re.compile(
    r"^(?:(?P<name>\w+?)_)??(?P<late>LATE_)?(?P<id>\d+|anon_[A-Za-z0-9]+)_"
    r"(?:(?P<att>\d+)_(?P<file>.+)|(?P<entry>text|link)\.html)$")


def canvas(name: str, is_dir: bool) -> Name | None:
    m = CANVAS.match(name)
    if m is None or is_dir:
        return None
    fields = {"canvas_user_id": m["id"]} if m["id"].isdigit() else {"canvas_anonymous_id": m["id"][5:]}
    out = Name("canvas", m["id"], "code", display=m["name"] or "", late=bool(m["late"]), fields=fields)
    if m["entry"]:
        out.kind, out.why = "text", "a %s entry, not a file" % ("text" if m["entry"] == "text" else "website URL")
        return out
    out.fields["canvas_attachment_id"] = m["att"]
    return with_file(out, m["file"])


# ---------------------------------------------------------------------------- Moodle

MOODLE = re.compile(r"^(?P<name>[^_]*)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z0-9]+)(?:_(?P<file>.*))?$")


def moodle(name: str, is_dir: bool) -> Name | None:
    m = MOODLE.match(name)
    if m is None or (not is_dir and not m["file"]):
        return None
    out = Name("moodle", m["id"], "code", display=m["name"], fields={"moodle_participant": m["id"]})
    if m["plugin"] != "file":
        out.kind = "text" if m["plugin"] == "onlinetext" else "other"
        out.why = "online text, not a file" if m["plugin"] == "onlinetext" else \
            "a %s submission, not a file" % m["plugin"]
        return out
    return out if is_dir else with_file(out, m["file"])


# ---------------------------------------------------------------------------- Blackboard

BLACKBOARD = re.compile(r"^(?P<prefix>.+)_attempt_(?P<time>\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)"
                        r"(?:_(?P<file>.+)|(?P<info>\.txt))$")


def blackboard(name: str, is_dir: bool) -> Name | None:
    m = BLACKBOARD.match(name)
    if m is None or is_dir:
        return None
    assignment, _, user = m["prefix"].rpartition("_")
    if not assignment or not user:
        return None
    t = datetime.datetime.strptime(m["time"], "%Y-%m-%d-%H-%M-%S")
    out = Name("blackboard", user, "info" if m["info"] else kind_of(m["file"]),
               own_name=m["file"] or "", submitted_at=t.isoformat(),
               fields={"blackboard_attempt": m["time"], "blackboard_assignment": assignment})
    out.why = "" if out.kind != "other" else NOT_CODE
    return out


def blackboard_info(text: str) -> tuple[str, str, dict[str, str]]:
    """(display name, username, {file name in the export: original name}) from an attempt's .txt."""
    m = re.search(r"^Name:\s*(.*?)\s*\(([^()]*)\)\s*$", text, re.M)
    display, user = (m.group(1), m.group(2).strip()) if m else ("", "")
    names = dict((b.strip(), a.strip()) for a, b in re.findall(
        r"Original filename:\s*(.+?)\s*\n\s*Filename:\s*(.+)", text))
    return display, user, names


# ---------------------------------------------------------------------------- Brightspace (D2L)

D2L = re.compile(r"^(?P<sub>\d+)-(?P<num>\d+) - (?P<name>.+?) - "
                 r"(?P<date>[A-Z][a-z]{2} \d{1,2}, \d{4} \d{3,4} [AP]M)(?: - (?P<file>.+))?$")


def d2l(name: str, is_dir: bool) -> Name | None:
    m = D2L.match(name)
    if m is None or (not is_dir and not m["file"]):
        return None
    try:
        t = datetime.datetime.strptime(m["date"].replace("  ", " "), "%b %d, %Y %I%M %p").isoformat()
    except ValueError:
        t = ""
    out = Name("d2l", m["name"], kind_of(m["file"] or "", is_dir), own_name=m["file"] or "",
               display=m["name"], submitted_at=t, fields={"d2l_submission": "%s-%s" % (m["sub"], m["num"])})
    out.why = "" if out.kind == "code" else NOT_CODE
    return out


RECOGNISERS = (
    Recogniser("canvas", canvas),
    Recogniser("moodle", moodle),
    Recogniser("blackboard", blackboard),
    Recogniser("d2l", d2l, metadata=("index.html",)),
)
TITLES = {"canvas": "Canvas", "moodle": "Moodle", "blackboard": "Blackboard", "d2l": "Brightspace (D2L)",
          "gradescope": "Gradescope"}


def detect(names: Sequence[tuple[str, bool]]) -> Recogniser | None:
    """The recogniser for a folder of an export: [(name, is_dir)] -> Recogniser or None.

    The LMS whose naming fits most names, if it fits at least half of them (the export's
    own files, such as D2L's index.html, not counted)."""
    best, best_count = None, 0
    for r in RECOGNISERS:
        counted = [(n, d) for n, d in names if n not in r.metadata]
        hits = sum(1 for n, d in counted if r.parse(n, d) is not None)
        if hits and hits * 2 >= len(counted) and hits > best_count:
            best, best_count = r, hits
    return best
