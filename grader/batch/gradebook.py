"""The gradebook: one SQLite row per graded submission (stdlib sqlite3).

Each result is committed as soon as it is graded, in WAL mode, so killing the
grader loses nothing already graded. A gradebook belongs to one assignment; every
version of its rubric (by hash) is kept in the `rubrics` table, text and all, and
each grade names the version it was made with: opening it with an edited rubric
for the same assignment makes that version the current one (older grades stay, as
history), a rubric for another assignment is refused. Late penalties are kept per
grade row in `penalties` (raw score in `grades.score`, the penalty beside it).
Exports: a CSV with one row per student (latest submission) and one Gradescope
results.json per student.
"""
from __future__ import annotations

import csv
import datetime
import fcntl
import hashlib
import io
import json
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from backprop_grader import __version__, atomic
from backprop_grader.errors import GradebookError, OutsideFolder
from backprop_grader.report import results as report

if TYPE_CHECKING:
    from backprop_grader.batch.classlist import Entry
    from backprop_grader.batch.late import Extension, Penalty, Policy
    from backprop_grader.batch.pool import Graded
    from backprop_grader.judge.rubric import Rubric
    from backprop_grader.judge.seeds import Secret

FORMAT = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS grades (
    id INTEGER PRIMARY KEY,
    student TEXT NOT NULL,
    source TEXT NOT NULL,          -- where the submission came from, for people
    file_sha256 TEXT NOT NULL,     -- hash of the file, or of the folder's files
    rubric_sha256 TEXT NOT NULL,
    seed INTEGER NOT NULL,
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    checks TEXT NOT NULL,          -- JSON: [{id, score, max_score, status, kind, mistake}]
    results TEXT NOT NULL,         -- JSON: the whole Gradescope results.json
    notes TEXT NOT NULL,           -- JSON list: several files, what was graded
    error TEXT NOT NULL,           -- set when the grader itself failed (retried next run)
    duration REAL NOT NULL,
    isolation_tier INTEGER,
    grader_version TEXT NOT NULL,
    graded_at TEXT NOT NULL,       -- UTC, ISO 8601
    submission BLOB                -- zip of what was graded (for replay); NULL if too large
);
CREATE INDEX IF NOT EXISTS grades_student ON grades (student, id);
CREATE INDEX IF NOT EXISTS grades_file ON grades (student, file_sha256, rubric_sha256);
""" + """
-- who each student is in the LMS export they came from (the latest batch that saw them)
CREATE TABLE IF NOT EXISTS students (
    student TEXT PRIMARY KEY,
    lms TEXT NOT NULL,             -- canvas, moodle, blackboard, d2l, gradescope; '' for a plain folder
    name TEXT NOT NULL,            -- as the export shows it
    submitted_at TEXT NOT NULL,    -- as the export states it ('' when it does not)
    late INTEGER,                  -- 1, 0, or NULL when the export does not say
    fields TEXT NOT NULL,          -- JSON: other ids the export carries
    source TEXT NOT NULL,
    seen_at TEXT NOT NULL
);
-- grades sent to an LMS (bpgrade push): what was sent, for which graded row
CREATE TABLE IF NOT EXISTS pushes (
    id INTEGER PRIMARY KEY,
    target TEXT NOT NULL,          -- e.g. canvas https://school.instructure.com course 12 assignment 34
    student TEXT NOT NULL,
    grade_id INTEGER NOT NULL,     -- grades.id of the row whose score was sent
    score REAL NOT NULL,
    previous TEXT NOT NULL,        -- what the LMS had before ('' for nothing)
    pushed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pushes_target ON pushes (target, student, id);
-- every rubric version the gradebook has graded with (grades.rubric_sha256 names one)
CREATE TABLE IF NOT EXISTS rubrics (
    sha256 TEXT PRIMARY KEY,
    assignment TEXT NOT NULL,
    path TEXT NOT NULL,            -- where it was read from
    text TEXT NOT NULL,            -- the rubric file as it was
    items TEXT NOT NULL,           -- JSON, as meta.items
    max_score REAL NOT NULL,
    first_used TEXT NOT NULL
);
-- per-student extensions (bpgrade batch --extensions FILE; a new file replaces them all)
CREATE TABLE IF NOT EXISTS extensions (
    student TEXT PRIMARY KEY,
    due TEXT NOT NULL,             -- ISO 8601 new due date, or '' with days
    days REAL,
    source TEXT NOT NULL           -- FILE:LINE
);
-- the late penalty of a graded row, under the rubric's late policy and the extensions
CREATE TABLE IF NOT EXISTS penalties (
    grade_id INTEGER PRIMARY KEY,  -- grades.id; grades.score stays the raw score
    student TEXT NOT NULL,
    due TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    late_seconds REAL,             -- NULL when the export gave no time
    units INTEGER NOT NULL,        -- days or hours started
    percent REAL NOT NULL,         -- of the raw score
    points REAL NOT NULL,          -- taken off the raw score
    note TEXT NOT NULL,
    computed_at TEXT NOT NULL
);
"""


class GradebookBusy(GradebookError):
    """Another batch is grading into the gradebook (exit 2)."""


class GradebookFull(Exception):
    """Writing a result failed (a full disk, usually); everything before it is kept."""


class Gradebook:
    def __init__(self, path: str | Path, rubric: Rubric | None = None, secret: Secret | None = None,
                 create: bool = True, lock: bool = False) -> None:
        """Open (or create) the gradebook at `path`.

        With `rubric`, the gradebook must belong to that rubric (or be new).
        Without, it must exist (for export and replay). With `lock` (bpgrade batch),
        first take its BatchLock (GradebookBusy when another batch holds it), kept until close().
        """
        self.path = Path(path)
        self.lock = BatchLock(self.path).acquire() if lock else None
        try:
            self._open(path, rubric, secret, create)
        except BaseException:
            self.close()
            raise

    def _open(self, path, rubric, secret, create):
        self.db = None
        if not create and not self.path.is_file():
            raise GradebookError("%s: no such gradebook" % self.path)
        if self.path.is_dir():
            raise GradebookError("%s is a directory, not a gradebook file" % self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GradebookError("%s: cannot create its folder (%s)" % (self.path, exc.strerror)) from None
        try:
            self.db = sqlite3.connect(str(self.path), timeout=30)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")  # durable across a killed process
            tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:
            raise GradebookError("%s is not a bpgrade gradebook (%s)" % (self.path, exc)) from None
        if tables and not {"meta", "grades"} <= tables:
            raise GradebookError("%s is an SQLite database, but not a bpgrade gradebook (tables: %s)"
                                 % (self.path, ", ".join(sorted(tables))))
        self.meta = dict(self.db.execute("SELECT key, value FROM meta").fetchall()) if tables else {}
        if tables and "rubric_sha256" not in self.meta:
            raise GradebookError("%s: the gradebook has no rubric recorded" % self.path)
        if tables and not {"students", "pushes", "rubrics", "extensions", "penalties"} <= tables:
            try:  # made before these tables existed
                self.db.executescript(SCHEMA)
            except sqlite3.DatabaseError as exc:
                raise GradebookError("%s: cannot add the newer tables (%s)" % (self.path, exc)) from None
        self.rubric_change = None  # (old sha256, new sha256) when this open made a new rubric current
        if rubric is not None:
            self._bind(rubric, bool(tables))
        elif not tables:
            raise GradebookError("%s is empty: nothing has been graded into it" % self.path)
        self.items = json.loads(self.meta["items"])
        self.rubric_sha256 = self.meta["rubric_sha256"]
        if secret is not None:
            self.check_secret(secret)

    def _bind(self, rubric, exists):
        items = [{"id": i.id, "name": i.name, "points": i.points, "visibility": i.visibility}
                 for i in rubric.items]
        current = {"rubric_sha256": rubric.sha256, "rubric_path": str(Path(rubric.path).resolve()),
                   "rubric_name": Path(rubric.path).name, "items": json.dumps(items),
                   "max_score": repr(float(rubric.max_score)),
                   "late": json.dumps(late_meta(rubric.late)) if rubric.late is not None else ""}
        if exists:
            if self.meta.get("assignment") != rubric.assignment:
                count = self.db.execute("SELECT COUNT(*) FROM grades").fetchone()[0]
                raise GradebookError(
                    "%s holds %d grade(s) made with another rubric, for another assignment: %s "
                    "(assignment %r, sha256 %s); this run uses %s (assignment %r, sha256 %s). Grade into "
                    "a new --gradebook file, or use a rubric for %r."
                    % (self.path, count, self.meta.get("rubric_path"), self.meta.get("assignment"),
                       self.meta["rubric_sha256"][:12], rubric.path, rubric.assignment,
                       rubric.sha256[:12], self.meta.get("assignment")))
            self._keep_old_rubric()
            old = self.meta["rubric_sha256"]
            try:
                with self.db:
                    self._store_rubric(rubric, items)
                    self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", current.items())
            except sqlite3.DatabaseError as exc:
                raise GradebookError("%s: cannot record the rubric (%s)" % (self.path, exc)) from None
            self.meta.update(current)
            if old != rubric.sha256:
                self.rubric_change = (old, rubric.sha256)
            return
        meta = dict(current, format=str(FORMAT), assignment=rubric.assignment, created=now(),
                    grader_version=__version__)
        try:
            with self.db:
                self.db.executescript(SCHEMA)
                self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())
                self._store_rubric(rubric, items)
        except sqlite3.DatabaseError as exc:
            raise GradebookError("%s: cannot create the gradebook (%s)" % (self.path, exc)) from None
        self.meta = meta

    def _store_rubric(self, rubric, items):
        """Keep this rubric version's text (once per hash)."""
        raw = Path(rubric.path).read_bytes()
        if hashlib.sha256(raw).hexdigest() != rubric.sha256:
            raise GradebookError("%s changed while it was being read; run again" % rubric.path)
        self.db.execute("INSERT OR IGNORE INTO rubrics VALUES (?, ?, ?, ?, ?, ?, ?)", (
            rubric.sha256, rubric.assignment, str(Path(rubric.path).resolve()),
            raw.decode("utf-8", "surrogateescape"), json.dumps(items), float(rubric.max_score), now()))

    def _keep_old_rubric(self):
        """A gradebook made before rubric versions were kept: keep the current rubric's text
        when its file is still there, unchanged."""
        sha = self.meta["rubric_sha256"]
        if self.db.execute("SELECT 1 FROM rubrics WHERE sha256 = ?", (sha,)).fetchone():
            return
        path = Path(self.meta.get("rubric_path") or "")
        try:
            raw = path.read_bytes()
        except OSError:
            return
        if hashlib.sha256(raw).hexdigest() == sha:
            with self.db:
                self.db.execute("INSERT OR IGNORE INTO rubrics VALUES (?, ?, ?, ?, ?, ?, ?)", (
                    sha, self.meta.get("assignment", ""), str(path), raw.decode("utf-8", "surrogateescape"),
                    self.meta.get("items", "[]"), float(self.meta.get("max_score") or 0), now()))

    # -- rubric versions --------------------------------------------------------

    def rubric_versions(self) -> list[dict[str, Any]]:
        """[row of the rubrics table] oldest first, with `grades`: how many rows each made."""
        counts = dict(self.db.execute("SELECT rubric_sha256, COUNT(*) FROM grades GROUP BY rubric_sha256"))
        out = []
        for r in self.db.execute("SELECT * FROM rubrics ORDER BY first_used, rowid"):
            d = dict(r)
            d["grades"] = counts.get(r["sha256"], 0)
            out.append(d)
        return out

    def rubric_version(self, prefix: str) -> sqlite3.Row:
        """The rubrics row whose sha256 starts with `prefix` (GradebookError when none or several)."""
        rows = self.db.execute("SELECT * FROM rubrics WHERE sha256 LIKE ? || '%'", (prefix.lower(),)).fetchall()
        if len(rows) != 1:
            known = ", ".join(r["sha256"][:12] for r in self.db.execute("SELECT sha256 FROM rubrics"))
            raise GradebookError("%s: %s rubric version %r (versions: %s)" % (
                self.path, "no" if not rows else "more than one", prefix, known or "none kept"))
        return rows[0]

    def changes(self, students: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """[{student, old_score, new_score, old_rubric, new_rubric, old_graded_at, new_graded_at}]
        for each student whose latest grade differs from their latest grade made with another
        rubric version: who a rubric fix changed. Scores are final (after late penalties)."""
        out = []
        pen = self.penalties()
        for student, row in self.latest(students).items():
            if row["error"]:
                continue
            before = self.db.execute(
                "SELECT id, score, rubric_sha256, graded_at FROM grades WHERE student = ? AND id < ? AND "
                "rubric_sha256 != ? AND error = '' ORDER BY id DESC LIMIT 1",
                (student, row["id"], row["rubric_sha256"])).fetchone()
            if before is None:
                continue
            old, new = final_score(before, pen), final_score(row, pen)
            if abs(old - new) > 1e-9:
                out.append({"student": student, "old_score": old, "new_score": new,
                            "old_rubric": before["rubric_sha256"], "new_rubric": row["rubric_sha256"],
                            "old_graded_at": before["graded_at"], "new_graded_at": row["graded_at"]})
        return out

    def changes_csv(self, path: str | Path) -> int:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["student", "old_score", "new_score", "change", "old_rubric", "new_rubric", "old_graded_at",
                    "new_graded_at"])
        rows = self.changes()
        for c in rows:
            w.writerow([csv_cell(v) for v in (c["student"], c["old_score"], c["new_score"],
                                              round(c["new_score"] - c["old_score"], 6), c["old_rubric"][:12],
                                              c["new_rubric"][:12], c["old_graded_at"], c["new_graded_at"])])
        write_atomic(Path(path), out.getvalue())
        return len(rows)

    # -- late penalties ---------------------------------------------------------

    def set_extensions(self, extensions: dict[str, Extension]) -> None:
        """Replace the extensions with {student: late.Extension}."""
        with self.db:
            self.db.execute("DELETE FROM extensions")
            self.db.executemany("INSERT INTO extensions VALUES (?, ?, ?, ?)", [
                (e.student, e.due.isoformat() if e.due is not None else "", e.days, e.where)
                for e in extensions.values()])

    def extensions(self) -> dict[str, Extension]:
        """{student: late.Extension} as recorded."""
        from backprop_grader.batch import late
        out = {}
        for r in self.db.execute("SELECT * FROM extensions"):
            due = late.parse_time(r["due"]) if r["due"] else None
            out[r["student"]] = late.Extension(r["student"], due=due, days=r["days"], where=r["source"])
        return out

    def assess_late(self, policy: Policy | None, students: Iterable[str] | None = None) -> dict[str, Penalty]:
        """Work out the late penalty of each student's latest row under `policy` (None: no late
        policy, no penalties) and the recorded extensions; store it. Returns {student: late.Penalty}."""
        from backprop_grader.batch import late
        rows = self.latest(students)
        out = {}
        ids, exts = self.identities(), self.extensions()
        records = []
        for student, row in rows.items():
            if policy is None or row["error"]:
                continue
            who = ids.get(student)
            pen = late.assess(policy, (who["submitted_at"] if who is not None else "") or "",
                              bool(who["late"]) if who is not None and who["late"] is not None else None,
                              exts.get(student))
            out[student] = pen
            records.append((row["id"], student, pen.due, pen.submitted_at, pen.late_seconds, pen.units,
                            pen.percent, pen.points(row["score"]), pen.note, now()))
        try:
            with self.db:
                self.db.execute("DELETE FROM penalties WHERE grade_id IN (%s)"
                                % ",".join(str(r["id"]) for r in rows.values()) if rows else "SELECT 1")
                self.db.executemany("INSERT OR REPLACE INTO penalties VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                    records)
        except sqlite3.OperationalError as exc:
            raise GradebookFull("cannot write to the gradebook %s (%s)" % (self.path, exc)) from None
        return out

    def penalties(self) -> dict[int, sqlite3.Row]:
        """{grade_id: row of the penalties table}."""
        return {r["grade_id"]: r for r in self.db.execute("SELECT * FROM penalties")}

    def has_late_policy(self) -> bool:
        return bool(self.meta.get("late")) or bool(self.db.execute("SELECT 1 FROM penalties LIMIT 1").fetchone())

    def check_secret(self, secret: Secret) -> bool:
        """Remember the course secret's fingerprint; warn when a different one is used."""
        known = self.meta.get("secret_fingerprint")
        if known is None:
            self._set_meta("secret_fingerprint", secret.fingerprint)
            return True
        return known == secret.fingerprint

    def _set_meta(self, key, value):
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
        self.meta[key] = value

    # -- writing ---------------------------------------------------------------

    def already_graded(self, student: str, file_sha256: str) -> sqlite3.Row | None:
        """The latest good row for this student, file and rubric, or None."""
        return self.db.execute(
            "SELECT * FROM grades WHERE student = ? AND file_sha256 = ? AND rubric_sha256 = ? "
            "AND error = '' ORDER BY id DESC LIMIT 1",
            (student, file_sha256, self.rubric_sha256)).fetchone()

    def record(self, graded: Graded, file_sha256: str, source: str, submission: bytes | None = None) -> int:
        """Store one result and commit it. Returns the row id."""
        results = graded.results
        extra = results.get("extra_data") or {}
        checks = [{"id": (t.get("extra_data") or {}).get("id"), "score": t.get("score"),
                   "max_score": t.get("max_score"), "status": t.get("status"),
                   "kind": (t.get("extra_data") or {}).get("kind"),
                   "mistake": (t.get("extra_data") or {}).get("mistake")}
                  for t in results.get("tests", [])]
        tier = (extra.get("isolation") or {}).get("tier")
        row = (graded.task.student, source, file_sha256, self.rubric_sha256, graded.task.seed,
               float(results.get("score", 0.0)), float(results.get("max_score", 0.0)),
               json.dumps(checks), json.dumps(results), json.dumps(list(graded.task.notes)),
               graded.error or "", round(graded.duration, 4), tier, __version__, now(), submission)
        try:
            with self.db:
                cur = self.db.execute(
                    "INSERT INTO grades (student, source, file_sha256, rubric_sha256, seed, score, "
                    "max_score, checks, results, notes, error, duration, isolation_tier, "
                    "grader_version, graded_at, submission) VALUES (%s)" % ", ".join("?" * len(row)),
                    row)
        except sqlite3.OperationalError as exc:
            raise GradebookFull("cannot write to the gradebook %s (%s)" % (self.path, exc)) from None
        return cur.lastrowid

    def record_students(self, entries: Iterable[Entry]) -> None:
        """Remember who each found student is in the export they came from (classlist.Entry)."""
        rows = [(e.student, e.lms, e.display, e.submitted_at,
                 None if e.late is None else int(bool(e.late)), json.dumps(e.fields, sort_keys=True),
                 e.source, now()) for e in entries]
        try:
            with self.db:
                self.db.executemany("INSERT OR REPLACE INTO students VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        except sqlite3.OperationalError as exc:
            raise GradebookFull("cannot write to the gradebook %s (%s)" % (self.path, exc)) from None

    def identities(self) -> dict[str, sqlite3.Row]:
        """{student: row of the students table} (lms, name, submitted_at, late, fields)."""
        return {r["student"]: r for r in self.db.execute("SELECT * FROM students ORDER BY student")}

    def last_push(self, target: str, student: str) -> sqlite3.Row | None:
        """The latest push of this student's grade to `target`, or None."""
        return self.db.execute("SELECT * FROM pushes WHERE target = ? AND student = ? ORDER BY id DESC LIMIT 1",
                               (target, student)).fetchone()

    def record_push(self, target: str, student: str, grade_id: int, score: float, previous: object) -> None:
        """A grade that the LMS accepted; committed at once, so a push cut short sends nothing twice."""
        with self.db:
            self.db.execute("INSERT INTO pushes (target, student, grade_id, score, previous, pushed_at) "
                            "VALUES (?, ?, ?, ?, ?, ?)", (target, student, grade_id, float(score),
                                                          "" if previous is None else str(previous), now()))

    # -- reading ---------------------------------------------------------------

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM grades").fetchone()[0]

    def latest(self, students: Iterable[str] | None = None, submission: bool = False) -> dict[str, sqlite3.Row]:
        """{student: row} with each student's latest row; without the graded
        files (`submission`, a zip per row) unless asked for."""
        columns = "*" if submission else ", ".join(
            r[1] for r in self.db.execute("PRAGMA table_info(grades)") if r[1] != "submission")
        rows = self.db.execute(
            "SELECT %s FROM grades WHERE id IN (SELECT MAX(id) FROM grades GROUP BY student) "
            "ORDER BY student" % columns).fetchall()
        out = {r["student"]: r for r in rows}
        if students is not None:
            out = {s: out[s] for s in students if s in out}
        return out

    def latest_for(self, student: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM grades WHERE student = ? ORDER BY id DESC LIMIT 1",
                               (student,)).fetchone()

    def students(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT student FROM grades ORDER BY student")]

    # -- exports ---------------------------------------------------------------

    def csv_text(self) -> str:
        """One row per student: student, one column per rubric item, total.

        With a late policy, `raw` (the items' sum), `late_penalty` (points taken off) and
        `late` (why) come before `total`, which is then the score after the penalty.
        A student whose latest grading failed inside the grader gets empty cells
        (not a zero): it is the grader's fault, and `bpgrade batch` retries it.
        """
        ids = [i["id"] for i in self.items]
        late = self.has_late_policy()
        pen = self.penalties() if late else {}
        extra = ["raw", "late_penalty", "late"] if late else []
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow([csv_cell(c) for c in ["student"] + ids + extra + ["total"]])
        for student, row in self.latest().items():
            if row["error"]:
                w.writerow([csv_cell(student)] + [""] * (len(ids) + len(extra)) + [""])
                continue
            by_id = {c["id"]: c["score"] for c in json.loads(row["checks"])}
            p = pen.get(row["id"])
            cells = [row["score"], p["points"] if p is not None else 0, p["note"] if p is not None else ""] \
                if late else []
            w.writerow([csv_cell(v) for v in [student] + [by_id.get(i, "") for i in ids] + cells
                        + [final_score(row, pen)]])
        return out.getvalue()

    def export_csv(self, path: str | Path) -> int:
        text = self.csv_text()
        write_atomic(Path(path), text)
        return len(text.splitlines()) - 1

    def results_json(self, row: sqlite3.Row, pen: dict[int, sqlite3.Row] | None = None) -> str:
        """The row's results.json; with a late penalty, `score` after it and extra_data.late
        {raw_score, penalty, percent, late_seconds, due, submitted_at, note}."""
        p = (pen if pen is not None else self.penalties()).get(row["id"])
        if p is None:
            return row["results"]
        data = json.loads(row["results"])
        data["score"] = final_score(row, {row["id"]: p})
        data.setdefault("extra_data", {})["late"] = {
            "raw_score": row["score"], "penalty": p["points"], "percent": p["percent"],
            "late_seconds": p["late_seconds"], "units": p["units"], "due": p["due"],
            "submitted_at": p["submitted_at"], "note": p["note"]}
        return json.dumps(data)

    def export_results(self, folder: str | Path, students: Iterable[str] | None = None) -> int:
        """One Gradescope results.json per student: FOLDER/STUDENT/results.json.

        Every path is checked before anything is written: a student id that is not a
        usable folder name, or a path leading out of FOLDER, is an OutsideFolder error."""
        rows = self.latest(students)
        pen = self.penalties()
        targets = {student: self.results_path(folder, student) for student in rows}
        for student, row in rows.items():
            targets[student].parent.mkdir(parents=True, exist_ok=True)
            write_atomic(targets[student], self.results_json(row, pen) + "\n")  # stored compact
        return len(rows)

    def results_path(self, folder: str | Path, student: str) -> Path:
        """FOLDER/STUDENT/results.json, refused unless the id is usable and the path stays in FOLDER."""
        from backprop_grader.batch.classlist import check_id  # classlist imports this module
        try:
            check_id(student)
        except ValueError as why:
            raise OutsideFolder("%s: student %r cannot name a folder under %s (%s); nothing was "
                                "written" % (self.path, student, folder, why)) from None
        return inside(folder, student, "results.json")

    def failed(self) -> list[str]:
        """Students whose latest grading failed inside the grader."""
        return [s for s, r in self.latest().items() if r["error"]]

    def close(self) -> None:
        if getattr(self, "db", None) is not None:
            self.db.close()
        if self.lock is not None:
            self.lock.release()


class BatchLock:
    """One `bpgrade batch` at a time per gradebook: an flock on GRADEBOOK.lock, holding the pid.

    The kernel drops the lock when its process dies (kill -9 too), so the lock file a killed
    batch leaves is simply locked again by the next one; the pid in it is only for messages.
    A batch that ends normally removes the file (after checking, when it took the lock, that
    the file it locked is still the one at that path)."""

    def __init__(self, gradebook: str | Path) -> None:
        self.path = Path(str(gradebook) + ".lock")
        self.fd = None
        self.previous = None  # the pid that a killed batch left in the file, if any

    def acquire(self) -> BatchLock:
        for _ in range(20):
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = read_pid(fd)
                os.close(fd)
                raise GradebookBusy("another bpgrade batch%s is grading into %s; wait for it to finish, or "
                                    "stop it, then run this again" % (" (pid %d)" % holder if holder else "",
                                                                     str(self.path)[:-len(".lock")])) from None
            if self._same_file(fd):
                break
            os.close(fd)  # removed by the batch that held it, between our open and our lock: again
        else:
            raise GradebookError("%s: cannot take the lock (the file keeps changing)" % self.path)
        self.previous = read_pid(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, ("%d\n" % os.getpid()).encode(), 0)
        self.fd = fd
        return self

    def _open(self):
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError as exc:
            raise GradebookError("%s: cannot create the lock file (%s)" % (self.path, exc.strerror)) from None

    def _same_file(self, fd):
        try:
            a, b = os.fstat(fd), os.stat(self.path)
        except OSError:
            return False
        return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)

    def release(self) -> None:
        if self.fd is None:
            return
        if self._same_file(self.fd):
            try:
                self.path.unlink()  # while still locked: a batch that opened it meanwhile sees it gone
            except OSError:
                pass
        os.close(self.fd)  # closing the last descriptor drops the flock
        self.fd = None

    def __enter__(self) -> BatchLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def write_atomic(path: Path, text: str) -> None:
    """Write whole or not at all (`atomic`); a full disk is GradebookFull."""
    try:
        atomic.write_text(path, text)
    except OSError as exc:
        raise GradebookFull("cannot write %s (%s); the gradebook is intact: run `bpgrade export` "
                            "once there is room" % (path, exc.strerror)) from None


def final_score(row: sqlite3.Row | dict, penalties: dict[int, Any]) -> float:
    """A graded row's score after its late penalty ({grade_id: penalties row})."""
    p = penalties.get(row["id"]) if penalties else None
    return round(float(row["score"]) - (float(p["points"]) if p is not None else 0.0), 6)


def late_meta(policy: Policy) -> dict:
    """A late policy as recorded in meta.late."""
    return {"due": policy.due.isoformat(), "grace": policy.grace, "per": policy.per,
            "percent": policy.percent, "floor": policy.floor}


def num(x: float | str | None) -> str:
    if x == "" or x is None:
        return ""
    return report.num(x)


# A cell starting with one of these is a formula to a spreadsheet (OWASP "CSV injection"),
# also after leading spaces, and in their full-width forms.
FORMULA_START = tuple("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")


def csv_cell(value: object) -> str:
    """One CSV cell: numbers as numbers (%g), text that a spreadsheet would run as a
    formula prefixed with a quote (')."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return num(value)
    text = "" if value is None else str(value)
    return "'" + text if text.lstrip(" ").startswith(FORMULA_START) else text


def inside(folder: str | Path, *parts: str) -> Path:
    """FOLDER/PARTS..., refused (OutsideFolder) unless it stays inside FOLDER once '..',
    absolute parts and links are resolved."""
    folder = Path(folder)
    target = folder.joinpath(*parts)
    try:
        base, real = folder.resolve(), target.resolve()
    except (OSError, ValueError, RuntimeError) as exc:
        raise OutsideFolder("%s: not a usable path (%s)" % (target, exc)) from None
    if base not in real.parents:
        raise OutsideFolder("%r would be written outside %s (at %s)" % ("/".join(map(str, parts)),
                                                                        folder, real))
    return target


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
