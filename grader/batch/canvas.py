"""`bpgrade push canvas`: grades from the gradebook into a Canvas assignment, through
Canvas's REST API with the canvasapi client (`pip install 'backprop-grader[canvas]'`).

The calls, as canvasapi makes them: GET /api/v1/courses/:course, GET
/api/v1/courses/:course/assignments/:assignment, GET .../submissions (paginated), and for
each grade sent PUT .../submissions/:user_id with submission[posted_grade].

A dry run (the default) shows the change per student and sends nothing. With --send,
only grades that differ from what Canvas has are sent; each accepted grade is recorded
in the gradebook's pushes table at once, so a push cut short sends nothing twice. A
grade that was changed in Canvas after bpgrade sent it (by a TA, by hand) is left
alone unless --force.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any, Mapping, TextIO

from backprop_grader.batch import gradebook as gradebook_mod
from backprop_grader.errors import UsageError

TOKEN_ENV = "CANVAS_API_TOKEN"


def same(a: float | str | None, b: float | str | None) -> bool:
    return a is not None and b is not None and math.isclose(float(a), float(b), abs_tol=1e-9)


def fmt(x: float | str | None) -> str:
    return "-" if x is None else "%g" % float(x)


def plan(book: gradebook_mod.Gradebook, target: str, submissions: Mapping[str, Any],
         scale: float = 1.0) -> list[tuple[str, sqlite3.Row, Any, float | None, str, str]]:
    """[(student, grade row, Canvas's score, score to send, action, why)] for every student
    with a grade; action is 'send', 'same', 'keep' (changed in Canvas since sent) or 'skip'."""
    ids, pen = book.identities(), book.penalties()
    out = []
    for student, row in book.latest().items():
        user = canvas_user(ids.get(student), student)
        if row["error"]:
            out.append((student, row, None, None, "skip", "the grader failed on it (bpgrade batch grades it again)"))
            continue
        want = round(gradebook_mod.final_score(row, pen) * scale, 6)  # after any late penalty
        sub = submissions.get(str(user))
        if sub is None:
            out.append((student, row, None, want, "skip", "user %s has no submission record in this "
                        "assignment (not enrolled, or not a Canvas user id)" % user))
            continue
        have = getattr(sub, "score", None)
        last = book.last_push(target, student)
        if same(have, want):
            out.append((student, row, have, want, "same", "Canvas has it"))
        elif last is not None and not same(have, last["score"]):
            out.append((student, row, have, want, "keep", "changed in Canvas after bpgrade sent %s on %s"
                        % (fmt(last["score"]), last["pushed_at"])))
        else:
            out.append((student, row, have, want, "send", ""))
    return out


def push(gradebook: str | Path, url: str, course: str | int, assignment: str | int, token: str | None = None,
         send: bool = False, force: bool = False, scale: bool = False, out: TextIO | None = None) -> int:
    """Push grades to Canvas; returns the exit status."""
    out = out or sys.stdout
    token = token or os.environ.get(TOKEN_ENV)
    if not token:
        raise UsageError("no Canvas API token: set %s (Canvas: Account > Settings > New access token)" % TOKEN_ENV)
    try:
        from canvasapi import Canvas
        from canvasapi.exceptions import CanvasException
    except ImportError:
        raise UsageError("bpgrade push canvas needs canvasapi: pip install 'backprop-grader[canvas]'") from None
    import requests
    book = gradebook_mod.Gradebook(gradebook, create=False)
    try:
        target = "canvas %s course %s assignment %s" % (url.rstrip("/"), course, assignment)
        try:
            canvas = Canvas(url.rstrip("/"), token)
            asg = canvas.get_course(course).get_assignment(assignment)
            submissions = {str(s.user_id): s for s in asg.get_submissions()}
        except (CanvasException, requests.RequestException, ValueError) as exc:
            raise UsageError("%s: %s" % (target, describe(exc))) from None
        maximum = float(book.meta.get("max_score", 0) or 0)
        possible = getattr(asg, "points_possible", None)
        factor = 1.0
        if scale and possible and maximum:
            factor = float(possible) / maximum
        elif possible is not None and maximum and not same(possible, maximum):
            out.write("note: the assignment is out of %s points in Canvas, the rubric out of %g: scores are sent "
                      "as graded (--scale sends score x %s / %g)\n" % (fmt(possible), maximum, fmt(possible),
                                                                      maximum))
        rows = plan(book, target, submissions, factor)
        ids, pen = book.identities(), book.penalties()
        out.write("%s %r, %s (%d student%s in the gradebook)\n" % (
            "pushing to" if send else "dry run (--send to send) for", getattr(asg, "name", assignment), target,
            len(rows), "" if len(rows) == 1 else "s"))
        counts = {}
        failed = 0
        for student, row, have, want, action, why in rows:
            if action == "keep" and force:
                action = "send"
            counts[action] = counts.get(action, 0) + 1
            line = "  %-8s %-24s %6s -> %-6s %s" % (action, student, fmt(have), fmt(want), why)
            p = pen.get(row["id"])
            if p is not None and p["points"]:
                line += " [late: raw %g, -%g: %s]" % (row["score"], p["points"], p["note"])
            if action == "send" and send:
                try:
                    sub = submissions[str(canvas_user(ids.get(student), student))]
                    sub.edit(submission={"posted_grade": fmt(want)})
                except (CanvasException, requests.RequestException) as exc:
                    failed += 1
                    line += " FAILED: %s" % describe(exc)
                else:
                    book.record_push(target, student, row["id"], want, "" if have is None else fmt(have))
                    line += " sent"
            out.write(line.rstrip() + "\n")
        out.write("%s: %d to send, %d already in Canvas, %d changed in Canvas (kept; --force overwrites), "
                  "%d skipped%s\n" % ("sent" if send else "dry run", counts.get("send", 0), counts.get("same", 0),
                                      counts.get("keep", 0), counts.get("skip", 0),
                                      ", %d failed (run again to retry them)" % failed if failed else ""))
        return 1 if failed else 0
    finally:
        book.close()


def canvas_user(who: Mapping[str, Any] | None, student: str) -> Any:
    """The Canvas user id of a student: from the Canvas export they came from, else their id."""
    return (json.loads(who["fields"]).get("canvas_user_id") if who is not None else None) or student


def describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def push_args(cmd: argparse.ArgumentParser) -> None:
    """`bpgrade push canvas ...`."""
    sub = cmd.add_subparsers(dest="lms", required=True)
    c = sub.add_parser("canvas", help="send grades to a Canvas assignment (dry run unless --send)",
                       description="Compare the gradebook's grades with what a Canvas assignment has and "
                                   "show the change per student; with --send, send the ones that differ. "
                                   "The API token is read from $%s." % TOKEN_ENV)
    c.add_argument("--url", required=True, help="the Canvas site, e.g. https://school.instructure.com")
    c.add_argument("--course", required=True, type=int, help="course id (the number in /courses/N)")
    c.add_argument("--assignment", required=True, type=int, help="assignment id (the number in /assignments/N)")
    c.add_argument("--gradebook", default="grades.sqlite", help="the gradebook (default: grades.sqlite)")
    mode = c.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="show what would change, send nothing (the default)")
    mode.add_argument("--send", action="store_true", help="send the grades that differ from Canvas's")
    c.add_argument("--force", action="store_true",
                   help="also overwrite grades changed in Canvas since bpgrade sent them")
    c.add_argument("--scale", action="store_true",
                   help="scale scores to the assignment's points possible in Canvas")
    c.set_defaults(run=lambda args: push(args.gradebook, args.url, args.course, args.assignment,
                                         send=args.send, force=args.force, scale=args.scale))
