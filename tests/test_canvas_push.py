"""`bpgrade push canvas` against a local stand-in for Canvas's REST API (http.server on
127.0.0.1, in a thread) that answers the endpoints canvasapi calls as Canvas documents
them: GET a course, GET an assignment, GET its submissions (paginated by Link headers),
PUT a submission's submission[posted_grade]; a Bearer token is required."""
import io
import json
import os
import sqlite3
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

pytest.importorskip("canvasapi")

from backprop_grader import cli as cli_module  # noqa: E402
from backprop_grader.batch import grading as batch  # noqa: E402

DATA = Path(__file__).parent / "data"
SHORT = DATA / "rubrics" / "batch_short.yaml"
GOOD = (DATA / "good.py").read_text()
FORGOT_DZ = (DATA / "forgot_dz.py").read_text()
SECRET = "test-course-secret-0123456789abcdef"
TOKEN = "test-token-1234"
COURSE, ASSIGNMENT = 7, 34


class FakeCanvas(BaseHTTPRequestHandler):
    scores = {}  # user id: score (None: not graded)
    puts = []  # (user id, posted_grade)
    points_possible = 15

    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def authorised(self):
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            self.reply(401, {"errors": [{"message": "Invalid access token."}]})
            return False
        return True

    def submission(self, user):
        score = self.scores[user]
        return {"id": 1000 + user, "user_id": user, "assignment_id": ASSIGNMENT, "score": score,
                "grade": None if score is None else "%g" % score,
                "workflow_state": "submitted" if score is None else "graded"}

    def do_GET(self):
        if not self.authorised():
            return
        url = urlparse(self.path)
        parts = url.path.strip("/").split("/")
        if parts == ["api", "v1", "courses", str(COURSE)]:
            return self.reply(200, {"id": COURSE, "name": "Deep Learning", "course_code": "DL101"})
        if parts == ["api", "v1", "courses", str(COURSE), "assignments", str(ASSIGNMENT)]:
            return self.reply(200, {"id": ASSIGNMENT, "course_id": COURSE, "name": "Backprop",
                                    "points_possible": self.points_possible})
        if parts == ["api", "v1", "courses", str(COURSE), "assignments", str(ASSIGNMENT), "submissions"]:
            q = parse_qs(url.query)
            page, per_page = int(q.get("page", ["1"])[0]), 2  # small pages: canvasapi follows rel="next"
            users = sorted(self.scores)
            chunk = users[(page - 1) * per_page:page * per_page]
            headers = []
            if page * per_page < len(users):
                headers.append(("Link", '<http://%s:%d%s?page=%d&per_page=%d>; rel="next"'
                                % (*self.server.server_address, url.path, page + 1, per_page)))
            return self.reply(200, [self.submission(u) for u in chunk], headers)
        self.reply(404, {"errors": [{"message": "The specified resource does not exist."}]})

    def do_PUT(self):
        if not self.authorised():
            return
        parts = urlparse(self.path).path.strip("/").split("/")
        if parts[:7] != ["api", "v1", "courses", str(COURSE), "assignments", str(ASSIGNMENT), "submissions"]:
            return self.reply(404, {"errors": [{"message": "The specified resource does not exist."}]})
        user = int(parts[7])
        form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
        grade = form["submission[posted_grade]"][0]
        self.puts.append((user, grade))
        self.scores[user] = float(grade)
        self.reply(200, self.submission(user))


@pytest.fixture
def canvas_server():
    FakeCanvas.scores = {12345: None, 23456: 8.0, 34567: None}  # 34567: enrolled, not in the gradebook
    FakeCanvas.puts = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeCanvas)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def gradebook_from_canvas(tmp_path_factory):
    base = tmp_path_factory.mktemp("canvas")
    (base / "s.secret").write_text(SECRET + "\n")
    archive = base / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("doejane_12345_678901_gates.py", GOOD)
        zf.writestr("leebruce_LATE_23456_678902_gates.py", FORGOT_DZ)
    report = batch.run([str(archive)], rubric=str(SHORT), gradebook=str(base / "g.sqlite"), jobs=2,
                       progress="none", stream=io.StringIO(), secret=str(base / "s.secret"))
    assert report.exit_code == 0 and report.graded == 2
    return base / "g.sqlite"


def push(capsys, monkeypatch, url, gb, *extra, token=TOKEN):
    if token is None:
        monkeypatch.delenv("CANVAS_API_TOKEN", raising=False)
    else:
        monkeypatch.setenv("CANVAS_API_TOKEN", token)
    capsys.readouterr()
    code = cli_module.main(["push", "canvas", "--url", url, "--course", str(COURSE), "--assignment",
                            str(ASSIGNMENT), "--gradebook", str(gb), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def pushes(gb):
    db = sqlite3.connect(str(gb))
    try:
        return [tuple(r) for r in db.execute("SELECT student, score, previous FROM pushes ORDER BY id")]
    finally:
        db.close()


def test_dry_run_sends_nothing_and_shows_each_change(canvas_server, gradebook_from_canvas, capsys, monkeypatch):
    code, out, err = push(capsys, monkeypatch, canvas_server, gradebook_from_canvas)
    assert code == 0, err
    assert FakeCanvas.puts == []
    lines = [line.split() for line in out.splitlines() if line.startswith("  ")]
    assert ["send", "12345", "-", "->", "15"] == lines[0]
    assert ["same", "23456", "8", "->", "8", "Canvas", "has", "it"] == lines[1]
    assert "dry run: 1 to send, 1 already in Canvas" in out


def test_send_only_changes_once_and_never_over_a_change_made_in_canvas(canvas_server, tmp_path,
                                                                       gradebook_from_canvas, capsys, monkeypatch):
    gb = tmp_path / "g.sqlite"
    gb.write_bytes(Path(gradebook_from_canvas).read_bytes())
    code, out, err = push(capsys, monkeypatch, canvas_server, gb, "--send")
    assert code == 0, err
    assert FakeCanvas.puts == [(12345, "15")]  # 23456 already had its 8
    assert pushes(gb) == [("12345", 15.0, "")]
    code, out, _ = push(capsys, monkeypatch, canvas_server, gb, "--send")  # again: nothing twice
    assert code == 0 and FakeCanvas.puts == [(12345, "15")] and "sent: 0 to send, 2 already in Canvas" in out
    FakeCanvas.scores[12345] = 14.0  # a TA changes the grade in Canvas
    code, out, _ = push(capsys, monkeypatch, canvas_server, gb, "--send")
    assert code == 0 and FakeCanvas.puts == [(12345, "15")]
    assert "changed in Canvas after bpgrade sent 15" in out
    code, out, _ = push(capsys, monkeypatch, canvas_server, gb, "--send", "--force")
    assert FakeCanvas.puts == [(12345, "15"), (12345, "15")] and pushes(gb)[-1] == ("12345", 15.0, "14")


def test_scale_to_points_possible(canvas_server, tmp_path, gradebook_from_canvas, capsys, monkeypatch):
    gb = tmp_path / "g.sqlite"
    gb.write_bytes(Path(gradebook_from_canvas).read_bytes())
    FakeCanvas.points_possible = 30
    try:
        code, out, _ = push(capsys, monkeypatch, canvas_server, gb)
        assert "out of 30 points in Canvas, the rubric out of 15" in out
        code, out, _ = push(capsys, monkeypatch, canvas_server, gb, "--scale", "--send")
        assert code == 0 and sorted(FakeCanvas.puts) == [(12345, "30"), (23456, "16")]
    finally:
        FakeCanvas.points_possible = 15


def test_usage_errors(canvas_server, gradebook_from_canvas, capsys, monkeypatch):
    code, _, err = push(capsys, monkeypatch, canvas_server, gradebook_from_canvas, token=None)
    assert code == 2 and "CANVAS_API_TOKEN" in err
    code, _, err = push(capsys, monkeypatch, canvas_server, gradebook_from_canvas, token="wrong")
    assert code == 2 and "Invalid access token" in err
    assert FakeCanvas.puts == [] and os.environ.get("CANVAS_API_TOKEN") == "wrong"


def test_the_score_after_a_late_penalty_is_sent(canvas_server, tmp_path, capsys, monkeypatch):
    rub = tmp_path / "late.yaml"
    rub.write_text(SHORT.read_text() + 'late: {due: "2026-10-01T23:59:00-04:00", penalty: {per: day, percent: 10}}\n')
    (tmp_path / "s.secret").write_text(SECRET + "\n")
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("doejane_12345_678901_gates.py", GOOD)
        zf.writestr("leebruce_LATE_23456_678902_gates.py", FORGOT_DZ)  # late, no time: one day
    report = batch.run([str(archive)], rubric=str(rub), gradebook=str(tmp_path / "g.sqlite"), jobs=2,
                       progress="none", stream=io.StringIO(), secret=str(tmp_path / "s.secret"))
    assert report.exit_code == 0
    code, out, err = push(capsys, monkeypatch, canvas_server, tmp_path / "g.sqlite", "--send")
    assert code == 0, err
    assert sorted(FakeCanvas.puts) == [(12345, "15"), (23456, "7.2")]  # 8 raw, -10%
    line = next(x for x in out.splitlines() if "23456" in x)
    assert "[late: raw 8, -0.8: marked late by the LMS" in line
    assert pushes(tmp_path / "g.sqlite")[-1][:2] in {("23456", 7.2), ("12345", 15.0)}
